//! A small HTTP/1.1 server for `/metrics` (Prometheus text) and `/healthz`.
//!
//! Deliberately minimal and bounded: requests are read up to 8 KiB within 5 s, at most 64
//! connections are served at once, one request per connection (`Connection: close`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// Produces the body of a route on demand.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

const MAX_REQUEST: usize = 8 << 10;
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONNECTIONS: usize = 64;

/// Binds `addr` and serves until `stop` turns true. `metrics` renders `/metrics`; `health`
/// renders `/healthz` (one line of JSON).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves connections from `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    metrics: Render,
    health: Render,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else { continue };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Over the cap: close at once rather than queue.
            continue;
        };
        let (m, h) = (metrics.clone(), health.clone());
        tokio::spawn(async move {
            let _ = handle(stream, &m, &h).await;
            drop(permit);
        });
    }
}

async fn handle(mut s: TcpStream, metrics: &Render, health: &Render) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let head_done = tokio::time::timeout(READ_TIMEOUT, async {
        loop {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Ok::<bool, std::io::Error>(false);
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
                return Ok(true);
            }
            if buf.len() > MAX_REQUEST {
                return Ok(false);
            }
        }
    })
    .await;
    if !matches!(head_done, Ok(Ok(true))) {
        return respond(&mut s, "400 Bad Request", "text/plain", "bad request\n").await;
    }
    let line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => {
            respond(
                &mut s,
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                &metrics(),
            )
            .await
        }
        ("GET", "/healthz") => respond(&mut s, "200 OK", "application/json", &health()).await,
        ("GET", "/") => {
            let body = "BitAgent: GET /metrics (Prometheus), GET /healthz\n";
            respond(&mut s, "200 OK", "text/plain; charset=utf-8", body).await
        }
        ("GET", _) => respond(&mut s, "404 Not Found", "text/plain", "not found\n").await,
        _ => respond(&mut s, "405 Method Not Allowed", "text/plain", "GET only\n").await,
    }
}

async fn respond(s: &mut TcpStream, status: &str, ctype: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(body.as_bytes()).await?;
    s.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr, req: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(req).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_metrics_and_health_and_refuses_the_rest() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(serve(
            listener,
            Arc::new(|| "m 1\n".to_owned()),
            Arc::new(|| "{\"ok\":true}".to_owned()),
            stop,
        ));
        let r = get(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(
            r.contains("version=0.0.4") && r.ends_with("\r\n\r\nm 1\n"),
            "{r}"
        );
        let r = get(addr, b"GET /healthz HTTP/1.0\r\n\r\n").await;
        assert!(r.ends_with("{\"ok\":true}"), "{r}");
        assert!(
            get(addr, b"GET /nope HTTP/1.1\r\n\r\n")
                .await
                .starts_with("HTTP/1.1 404")
        );
        assert!(
            get(addr, b"POST /metrics HTTP/1.1\r\n\r\n")
                .await
                .starts_with("HTTP/1.1 405")
        );
        // An oversized header is refused, not buffered.
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.resize(20_000, b'a');
        assert!(get(addr, &big).await.starts_with("HTTP/1.1 400"));
        stop_tx.send(true).unwrap();
        task.await.unwrap();
    }
}
