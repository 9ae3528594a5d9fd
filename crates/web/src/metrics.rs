//! The server's own metrics: requests by route, method and status, and latency by route.
//!
//! The route label is the router's matched pattern (`/torrents/{infohash}`, never the raw
//! path) or `unmatched`, so a client cannot create series.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Latency buckets in seconds: 0.5 ms to 10 s.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Labels of `bitagent_http_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) route: String,
    pub(crate) method: String,
    pub(crate) status: u16,
}

/// Labels of `bitagent_http_request_duration_seconds`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    pub(crate) route: String,
}

/// HTTP request metrics (cheap to clone: the families are shared).
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    pub(crate) requests: Family<RequestLabels, Counter>,
    pub(crate) duration: Family<RouteLabels, Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(|| Histogram::new(BUCKETS)),
        }
    }
}

impl HttpMetrics {
    /// New metrics, registered in `registry` as `bitagent_http_requests_total` and
    /// `bitagent_http_request_duration_seconds`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "bitagent_http_requests",
            "HTTP requests answered, by route pattern, method and status",
            m.requests.clone(),
        );
        registry.register(
            "bitagent_http_request_duration_seconds",
            "Time to answer an HTTP request (until the response head), by route pattern",
            m.duration.clone(),
        );
        m
    }

    /// Records one answered request.
    pub(crate) fn observe(&self, route: &str, method: &str, status: u16, secs: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(secs);
    }
}
