//! Turning `HOST:PORT` strings into socket addresses for bootstrapping.

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::Error;

/// The public routers a node bootstraps from when the user names none. Never used by tests.
pub const DEFAULT_ROUTERS: [&str; 3] = [
    "dht.transmissionbt.com:6881",
    "router.bittorrent.com:6881",
    "router.utorrent.com:6881",
];

/// Longest wait for one name lookup.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Resolves one `HOST:PORT` (or `IP:PORT`, which needs no lookup) to its addresses.
///
/// A string that is not of the form `HOST:PORT` with a valid port fails at once, without a
/// DNS query. A name lookup is bounded by [`RESOLVE_TIMEOUT`].
pub async fn resolve(name: &str) -> Result<Vec<SocketAddr>, Error> {
    if let Ok(addr) = name.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let fail = |reason: String| Error::Resolve {
        name: name.to_string(),
        reason,
    };
    let Some((host, port)) = name.rsplit_once(':') else {
        return Err(fail("expected HOST:PORT".into()));
    };
    if host.is_empty() || host.contains(':') {
        return Err(fail(
            "expected HOST:PORT (IPv6 addresses go in brackets)".into(),
        ));
    }
    if port.parse::<u16>().is_err() {
        return Err(fail(format!("invalid port {port:?}")));
    }
    match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(name)).await {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(fail("no addresses".into()))
            } else {
                Ok(addrs)
            }
        }
        Ok(Err(e)) => Err(fail(e.to_string())),
        Err(_) => Err(fail(format!("no answer within {RESOLVE_TIMEOUT:?}"))),
    }
}

/// Resolves bootstrap routers for a socket of the given family (`v6` for an IPv6 socket),
/// keeping only addresses of that family, deduplicated, in order.
///
/// Names that fail are logged and skipped; it is an error only if none yields an address.
pub async fn resolve_routers<S: AsRef<str>>(
    names: &[S],
    v6: bool,
) -> Result<Vec<SocketAddr>, Error> {
    let mut out: Vec<SocketAddr> = Vec::new();
    let mut first_error = None;
    for name in names {
        let name = name.as_ref();
        match resolve(name).await {
            Ok(addrs) => {
                let before = out.len();
                for a in addrs {
                    if a.is_ipv6() == v6 && !out.contains(&a) {
                        out.push(a);
                    }
                }
                if out.len() == before {
                    tracing::warn!(name, "no usable address of our socket's family");
                    first_error.get_or_insert(Error::Resolve {
                        name: name.to_string(),
                        reason: format!("no IPv{} address", if v6 { 6 } else { 4 }),
                    });
                }
            }
            Err(e) => {
                tracing::warn!(name, error = %e, "cannot resolve bootstrap router");
                first_error.get_or_insert(e);
            }
        }
    }
    match (out.is_empty(), first_error) {
        (true, Some(e)) => Err(e),
        _ => Ok(out),
    }
}
