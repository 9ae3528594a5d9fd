//! The server starts, answers /healthz and /metrics, and sends its security headers.

mod support;

use support::{KEY, TestServer, corpus};

#[tokio::test]
async fn health_metrics_and_headers() {
    let server = TestServer::start(&corpus(), false).await;
    let client = reqwest::Client::new();
    let r = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["ok"], true);
    // Reads are closed: /metrics needs the key.
    let r = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(server.url("/metrics"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains(
            "bitagent_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"401\"} 1"
        ),
        "{text}"
    );
    server.stop().await;
}
