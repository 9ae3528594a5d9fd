//! The TCP metadata fetcher: drives the sans-IO [`peerwire::MetadataFetch`] over a tokio
//! [`TcpStream`].
//!
//! [`fetch_metadata`] fetches one torrent's info dictionary from one peer (BEP-9 over BEP-10);
//! [`fetch_from_any`] tries several peers of the same torrent concurrently and keeps the first
//! verified answer. Everything is bounded: the connect by its own timeout, the exchange by the
//! [`FetchConfig`] deadlines (plus a safety net a little past `total_timeout`), memory by one
//! fixed read buffer per connection and by the state machine's own caps.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use infohash::InfoHash;
use peerwire::{FetchConfig, FetchError, Metadata, MetadataFetch, TimeoutPhase};
use rand::TryRngCore as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Our BitTorrent peer-id prefix (Azureus style): client `BA`, version 0.0.0.1.
pub const PEER_ID_PREFIX: &[u8; 8] = b"-BA0001-";

/// Size of the fixed per-connection read buffer. One metadata piece (16 KiB plus its small
/// header) fits in one read; larger messages simply take several.
pub const READ_BUFFER: usize = 32 << 10;

/// How long past `FetchConfig::total_timeout` the fetch may run before the driver gives up on
/// its own (a safety net: the state machine's total deadline always fires first).
const SAFETY_MARGIN: Duration = Duration::from_secs(5);

/// A fresh peer id: [`PEER_ID_PREFIX`] and 12 bytes from the OS random number generator.
pub fn peer_id() -> [u8; 20] {
    let mut id = [0u8; 20];
    id[..8].copy_from_slice(PEER_ID_PREFIX);
    if rand::rngs::OsRng.try_fill_bytes(&mut id[8..]).is_err() {
        // No OS randomness (should not happen): fall back to the std hasher's random keys.
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        let a = h.finish().to_be_bytes();
        h.write_u32(std::process::id());
        let b = h.finish().to_be_bytes();
        id[8..16].copy_from_slice(&a);
        id[16..20].copy_from_slice(&b[..4]);
    }
    id
}

/// Why [`fetch_metadata`] got no metadata from a peer.
#[derive(Debug, thiserror::Error)]
pub enum FetchFailure {
    /// The TCP connection could not be made (refused, unreachable, or no answer within the
    /// connect timeout: [`io::ErrorKind::TimedOut`]).
    #[error("cannot connect: {0}")]
    Connect(#[source] io::Error),
    /// The connection was made, and the exchange failed. A read or write error on the
    /// established connection (a reset, say) counts as [`FetchError::Closed`].
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

impl FetchFailure {
    /// The metric label: `"connect"` or [`FetchError::cause`] (all listed in
    /// [`FetchError::CAUSES`]).
    pub fn cause(&self) -> &'static str {
        match self {
            Self::Connect(_) => "connect",
            Self::Fetch(e) => e.cause(),
        }
    }
}

/// Connects to `peer` (giving up after `connect_timeout`) and fetches the info dictionary of
/// `info_hash` from it, announcing ourselves as `peer_id`. The result is verified against the
/// info hash and parsed by [`peerwire`].
pub async fn fetch_metadata(
    peer: SocketAddr,
    info_hash: InfoHash,
    peer_id: [u8; 20],
    cfg: FetchConfig,
    connect_timeout: Duration,
) -> Result<Metadata, FetchFailure> {
    let stream = match tokio::time::timeout(connect_timeout, TcpStream::connect(peer)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(FetchFailure::Connect(e)),
        Err(_) => {
            return Err(FetchFailure::Connect(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection within {connect_timeout:?}"),
            )));
        }
    };
    fetch_metadata_on(stream, info_hash, peer_id, cfg)
        .await
        .map_err(FetchFailure::Fetch)
}

/// Fetches the info dictionary of `info_hash` over an already connected `stream` (for callers
/// that connect themselves, from a chosen source address say); [`fetch_metadata`] is connect
/// plus this. The stream is closed when the fetch ends.
pub async fn fetch_metadata_on(
    stream: TcpStream,
    info_hash: InfoHash,
    peer_id: [u8; 20],
    cfg: FetchConfig,
) -> Result<Metadata, FetchError> {
    // Our messages are small and each one waits for an answer: do not let Nagle hold them.
    let _ = stream.set_nodelay(true);
    let limit = cfg.total_timeout.saturating_add(SAFETY_MARGIN);
    let fetch = MetadataFetch::new(info_hash, peer_id, cfg, Instant::now());
    match tokio::time::timeout(limit, drive(stream, fetch)).await {
        Ok(r) => r,
        Err(_) => Err(FetchError::Timeout(TimeoutPhase::Total)),
    }
}

/// Runs `fetch` over `stream` in the state machine's drain order until it has an outcome.
async fn drive(mut stream: TcpStream, mut fetch: MetadataFetch) -> Result<Metadata, FetchError> {
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        // 1. Everything queued goes out; a peer that stops reading cannot stall us past the
        //    next deadline.
        while let Some(out) = fetch.poll_transmit() {
            let Some(deadline) = fetch.poll_timeout() else {
                break;
            };
            let deadline = tokio::time::Instant::from_std(deadline);
            match tokio::time::timeout_at(deadline, stream.write_all(&out)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => fetch.handle_eof(),
                Err(_) => fetch.handle_timeout(Instant::now()),
            }
        }
        // 2. Done?
        if let Some(outcome) = fetch.poll_outcome() {
            return outcome;
        }
        // 3. Wait for bytes or the next deadline.
        let Some(deadline) = fetch.poll_timeout() else {
            // Unreachable: an unfinished fetch always has a deadline.
            return Err(FetchError::Closed);
        };
        tokio::select! {
            r = stream.read(&mut buf) => match r {
                Ok(0) | Err(_) => fetch.handle_eof(),
                Ok(n) => fetch.handle_input(Instant::now(), &buf[..n]),
            },
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                fetch.handle_timeout(Instant::now());
            }
        }
    }
}

/// What [`fetch_from_any`] found.
#[derive(Debug)]
pub struct AnyOutcome {
    /// The first verified metadata and the peer it came from.
    pub metadata: Option<(SocketAddr, Metadata)>,
    /// Every peer that failed before that, with why (in the order they failed).
    pub failures: Vec<(SocketAddr, FetchFailure)>,
    /// Peers never tried because a success came first.
    pub not_tried: usize,
}

/// Tries `peers` (in order, at most `max_concurrent` at once, at least one) for the metadata
/// of `info_hash` and returns the first verified success; the fetches still running then are
/// cancelled (their connections closed). Each peer gets [`fetch_metadata`] with `cfg` and
/// `connect_timeout`, so the whole call ends within about
/// `ceil(peers / max_concurrent) * (connect_timeout + total_timeout)`.
pub async fn fetch_from_any(
    peers: &[SocketAddr],
    max_concurrent: usize,
    info_hash: InfoHash,
    peer_id: [u8; 20],
    cfg: FetchConfig,
    connect_timeout: Duration,
) -> AnyOutcome {
    let max_concurrent = max_concurrent.max(1);
    let mut next = peers.iter().copied();
    let mut running = JoinSet::new();
    let mut failures = Vec::new();
    let spawn = |set: &mut JoinSet<_>, peer: SocketAddr| {
        let cfg = cfg.clone();
        set.spawn(async move {
            let r = fetch_metadata(peer, info_hash, peer_id, cfg, connect_timeout).await;
            (peer, r)
        });
    };
    for peer in next.by_ref().take(max_concurrent) {
        spawn(&mut running, peer);
    }
    while let Some(joined) = running.join_next().await {
        let (peer, r) = match joined {
            Ok(v) => v,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled: only we abort tasks, and we do not wait for them afterwards.
            Err(_) => continue,
        };
        match r {
            Ok(m) => {
                running.abort_all();
                return AnyOutcome {
                    metadata: Some((peer, m)),
                    failures,
                    not_tried: next.count(),
                };
            }
            Err(e) => {
                tracing::debug!(%peer, cause = e.cause(), "metadata fetch failed: {e}");
                failures.push((peer, e));
                if let Some(p) = next.next() {
                    spawn(&mut running, p);
                }
            }
        }
    }
    AnyOutcome {
        metadata: None,
        failures,
        not_tried: 0,
    }
}
