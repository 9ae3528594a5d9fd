//! The OpenAPI 3 spec of `/api/v1`, generated from the handlers' `#[utoipa::path]` and
//! their types' `ToSchema`, served at `GET /api/v1/openapi.json` (open: it describes the
//! API and reads no data).

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::{search, stats, torrents, writes};
use crate::ApiError;

/// The API's description, assembled by utoipa.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "BitAgent API",
        description = "Search and manage the torrents a BitAgent crawler found. Reads need the \
            API key unless the server opens them (loopback, or --public-read); writes always \
            need it. Times are Unix seconds. Errors are JSON: \
            {\"error\": {\"code\", \"message\", \"parameter\"}}."
    ),
    paths(
        search::search,
        torrents::torrent,
        torrents::explain,
        stats::stats,
        writes::delete_torrent,
        writes::set_tags,
        writes::reclassify,
        openapi_json,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&SecuritySchemes),
    security(("api_key" = []), ("bearer" = [])),
    tags(
        (name = "read", description = "Reads: need the key unless reads are open"),
        (name = "write", description = "Writes: always need the key (or a UI session with its CSRF token)"),
        (name = "meta", description = "This description"),
    )
)]
pub(crate) struct ApiDoc;

/// Adds the two ways to send the key.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Api-Key",
                "The server's API key (`bitagent config api-key` shows it)",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Authorization: Bearer <API key>`"))
                    .build(),
            ),
        );
    }
}

/// Every error's shape.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    /// What went wrong.
    pub(crate) error: ErrorDetail,
}

/// An error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable: `bad_parameter`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `rate_limited`, `unavailable`, `internal`.
    pub(crate) code: String,
    /// For people.
    pub(crate) message: String,
    /// With `bad_parameter`: the parameter, as sent (`q`, `min_size`, `infohash`, `tags`,
    /// `body`, ...).
    pub(crate) parameter: Option<String>,
}

/// This API's OpenAPI 3 description.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3 spec", content_type = "application/json"))
)]
pub(crate) async fn openapi_json() -> Response {
    static SPEC: OnceLock<Result<String, String>> = OnceLock::new();
    match SPEC.get_or_init(|| ApiDoc::openapi().to_json().map_err(|e| e.to_string())) {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response(),
        Err(e) => ApiError::Internal(format!("serializing the OpenAPI spec: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The spec documents exactly what the router serves: a route added without its
    /// `#[utoipa::path]` (or documented but not routed) fails here.
    #[test]
    fn the_spec_lists_every_route_served() {
        let spec: serde_json::Value =
            serde_json::from_str(&ApiDoc::openapi().to_json().unwrap()).unwrap();
        assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
        let mut documented = BTreeSet::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if [
                    "get", "put", "post", "delete", "patch", "head", "options", "trace",
                ]
                .contains(&method.as_str())
                {
                    documented.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        let served: BTreeSet<(String, String)> = super::super::api()
            .served
            .iter()
            .map(|(m, p)| (m.as_str().to_owned(), (*p).to_owned()))
            .collect();
        assert_eq!(documented, served);
        assert_eq!(served.len(), 8);
        let schemes = &spec["components"]["securitySchemes"];
        assert_eq!(schemes["api_key"]["name"], "X-Api-Key");
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
    }
}
