//! The router, its layers and the accept loop.
//!
//! Limits for every request: 10 s to answer (then 503), bodies up to 64 KiB (then 413), at
//! most 256 requests in progress (then 503), gzip for clients that ask. Every response
//! carries a strict Content-Security-Policy (scripts and styles only from this server, no
//! inline script, no frames, forms only to this server), `X-Content-Type-Options: nosniff`
//! and `Referrer-Policy: no-referrer`.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::AppState;

/// The policy sent with every response.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BODY: usize = 64 << 10;
const MAX_IN_FLIGHT: usize = 256;

/// Every route of the server, with its layers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::api::routes())
        .merge(crate::ui::routes())
        .merge(crate::torznab::routes())
        .merge(crate::rss::routes())
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(CompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            MAX_IN_FLIGHT,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        .with_state(state)
}

/// Serves `state` on `listener` until `stop` resolves, then finishes the requests in
/// progress. Also keeps the dashboard's history and trims the rate limiter's memory.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let out = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await;
    housekeeping.abort();
    out
}

async fn housekeeping(state: AppState) {
    let every = state.0.options.history_every.max(Duration::from_millis(10));
    let mut tick = tokio::time::interval(every);
    let mut last = None;
    loop {
        tick.tick().await;
        last = state.record_history(last);
        state.forget_idle_clients();
    }
}

/// Counts and times every request by its route pattern.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    state.0.http.observe(
        &route,
        &method,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

/// `/metrics`: every registered metric, in the OpenMetrics text format. Needs what reads
/// need (Prometheus sends `Authorization: Bearer` with `authorization.credentials`).
async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Err(e) = state.require_read(&headers, None) {
        return e.into_response();
    }
    let mut body = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut body, &state.0.registry) {
        return crate::ApiError::Internal(format!("encoding metrics: {e}")).into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `/healthz`: always open (a load balancer's probe); the crawler's status when one runs.
async fn healthz(State(state): State<AppState>) -> Response {
    let crawler = state.ops().crawler();
    axum::Json(serde_json::json!({
        "ok": true,
        "uptime_secs": state.0.started.elapsed().as_secs(),
        "crawler": crawler,
    }))
    .into_response()
}

/// The client's address (from the connection; unspecified when served without one, as in
/// router tests).
pub(crate) fn client_ip(req_ext: &axum::http::Extensions) -> std::net::IpAddr {
    req_ext
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}
