//! The TCP metadata fetcher against peers played on loopback (127.0.0.1 only): a seeder run by
//! `peerwire::MetadataServe`, and hostile peers that stay silent, hang up, talk garbage or
//! announce absurd sizes. Every await is bounded.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use infohash::InfoHash;
use net::peerwire::extension::encode_ext_handshake;
use net::peerwire::handshake::encode_handshake;
use net::peerwire::{FetchConfig, FetchError, MetadataServe, SERVE_UT_METADATA_ID};
use net::{FetchFailure, fetch_from_any, fetch_metadata};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_secs(15);
const SEED_ID: [u8; 20] = *b"-BA0001-seedpeerid00";

async fn within<T>(f: impl Future<Output = T>) -> T {
    testkit::within(LIMIT, "test step", f).await
}

/// Short deadlines so the timeout cases finish quickly.
fn quick() -> FetchConfig {
    FetchConfig {
        handshake_timeout: Duration::from_millis(400),
        piece_timeout: Duration::from_millis(400),
        total_timeout: Duration::from_secs(5),
        ..FetchConfig::default()
    }
}

/// A v1 multi-file info dictionary of `files` files (about 60 bytes each).
fn info_dict(files: usize) -> Vec<u8> {
    let mut out = b"d5:filesl".to_vec();
    for i in 0..files {
        let name = format!("file-{i:06}.bin");
        out.extend_from_slice(
            format!("d6:lengthi{}e4:pathl3:dir{}:{name}ee", 1000 + i, name.len()).as_bytes(),
        );
    }
    out.extend_from_slice(b"e4:name7:big-dir12:piece lengthi16384e6:pieces20:");
    out.extend_from_slice(&[0xab; 20]);
    out.push(b'e');
    out
}

/// Listens on 127.0.0.1 and plays `peer` on each of the first `conns` connections.
async fn spawn_peer<F, Fut>(conns: usize, peer: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..conns {
            let Ok(Ok((s, _))) = tokio::time::timeout(LIMIT, l.accept()).await else {
                return;
            };
            tokio::spawn(tokio::time::timeout(LIMIT, peer(s)));
        }
    });
    addr
}

/// A seeder: `MetadataServe` over the stream, writing at most `cut` bytes before hanging up.
async fn serve(mut s: TcpStream, info: Vec<u8>, cut: Option<usize>) {
    let mut serve = MetadataServe::new(info, SEED_ID);
    let mut buf = [0u8; 4096];
    let mut written = 0usize;
    for _ in 0..10_000 {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if serve.handle_input(&buf[..n]).is_err() {
            return;
        }
        while let Some(out) = serve.poll_transmit() {
            let out = match cut {
                Some(c) if written + out.len() >= c => {
                    let _ = s.write_all(&out[..c - written]).await;
                    return;
                }
                _ => out,
            };
            written += out.len();
            if s.write_all(&out).await.is_err() {
                return;
            }
        }
    }
}

async fn seeder(info: Vec<u8>, cut: Option<usize>) -> (SocketAddr, InfoHash) {
    let hash = MetadataServe::new(info.clone(), SEED_ID).info_hash();
    let addr = spawn_peer(4, move |s| serve(s, info.clone(), cut)).await;
    (addr, hash)
}

/// Reads and discards until EOF or `d`.
async fn drain_for(s: &mut TcpStream, d: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let end = tokio::time::Instant::now() + d;
    loop {
        match tokio::time::timeout_at(end, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

async fn fetch(addr: SocketAddr, hash: InfoHash, cfg: FetchConfig) -> Result<(), FetchFailure> {
    within(fetch_metadata(
        addr,
        hash,
        net::peer_id(),
        cfg,
        Duration::from_secs(2),
    ))
    .await
    .map(|_| ())
}

#[tokio::test]
async fn fetches_from_a_seeder_and_verifies() {
    // ~94 KB: 6 metadata pieces, more than the request window, the last one short.
    for files in [1, 2000] {
        let info = info_dict(files);
        let (addr, hash) = seeder(info.clone(), None).await;
        let t = Instant::now();
        let m = within(fetch_metadata(
            addr,
            hash,
            net::peer_id(),
            FetchConfig::default(),
            Duration::from_secs(2),
        ))
        .await
        .expect("fetch from the seeder");
        assert_eq!(m.info_bytes, info);
        assert_eq!(m.info.name, "big-dir");
        assert_eq!(m.info.file_count(), files);
        assert_eq!(m.info.files[0].path, ["dir", "file-000000.bin"]);
        assert_eq!(
            m.info.total_size,
            (0..files as u64).map(|i| 1000 + i).sum::<u64>()
        );
        eprintln!("{} bytes of metadata in {:?}", info.len(), t.elapsed());
    }
}

#[tokio::test]
async fn silent_peer_times_out() {
    let addr = spawn_peer(1, |mut s| async move {
        drain_for(&mut s, LIMIT).await;
    })
    .await;
    let t = Instant::now();
    let e = fetch(addr, InfoHash::v1([1; 20]), quick())
        .await
        .unwrap_err();
    assert_eq!(e.cause(), "timeout", "{e}");
    assert!(matches!(e, FetchFailure::Fetch(FetchError::Timeout(_))));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[tokio::test]
async fn peer_closing_mid_handshake_is_a_handshake_failure() {
    let hash = [2; 20];
    let addr = spawn_peer(1, move |mut s| async move {
        let hs = encode_handshake(&hash, &SEED_ID);
        let _ = s.write_all(&hs[..30]).await;
    })
    .await;
    let e = fetch(addr, hash.into(), quick()).await.unwrap_err();
    assert_eq!(e.cause(), "handshake", "{e}");
}

#[tokio::test]
async fn peer_closing_mid_piece_is_closed() {
    let info = info_dict(2000);
    // Handshake (68) + extension handshake (~70) + a few KB of the first piece.
    let (addr, hash) = seeder(info, Some(5000)).await;
    let e = fetch(addr, hash, quick()).await.unwrap_err();
    assert_eq!(e.cause(), "closed", "{e}");
}

#[tokio::test]
async fn garbage_is_a_handshake_error() {
    let addr = spawn_peer(1, |mut s| async move {
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        drain_for(&mut s, LIMIT).await;
    })
    .await;
    let e = fetch(addr, InfoHash::v1([3; 20]), quick())
        .await
        .unwrap_err();
    assert_eq!(e.cause(), "handshake", "{e}");
}

#[tokio::test]
async fn garbage_after_the_handshake_is_a_protocol_error() {
    let hash = [4; 20];
    let addr = spawn_peer(1, move |mut s| async move {
        let _ = s.write_all(&encode_handshake(&hash, &SEED_ID)).await;
        let _ = s.write_all(&[0xff; 64]).await;
        drain_for(&mut s, LIMIT).await;
    })
    .await;
    let e = fetch(addr, hash.into(), quick()).await.unwrap_err();
    assert_eq!(e.cause(), "protocol", "{e}");
}

#[tokio::test]
async fn two_gib_metadata_is_too_big() {
    let hash = [5; 20];
    let addr = spawn_peer(1, move |mut s| async move {
        let mut out = encode_handshake(&hash, &SEED_ID).to_vec();
        encode_ext_handshake(&mut out, SERVE_UT_METADATA_ID, Some(2 << 30), None);
        let _ = s.write_all(&out).await;
        drain_for(&mut s, LIMIT).await;
    })
    .await;
    let e = fetch(addr, hash.into(), quick()).await.unwrap_err();
    assert_eq!(e.cause(), "too_big", "{e}");
    assert!(matches!(
        e,
        FetchFailure::Fetch(FetchError::TooBig { size }) if size == 2 << 30
    ));
}

#[tokio::test]
async fn nobody_listening_is_connect() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let e = fetch(addr, InfoHash::v1([6; 20]), quick())
        .await
        .unwrap_err();
    assert_eq!(e.cause(), "connect", "{e}");
    assert!(matches!(e, FetchFailure::Connect(_)));
}

#[tokio::test]
async fn any_returns_the_first_success_and_cancels_the_rest() {
    let info = info_dict(50);
    let (good, hash) = seeder(info.clone(), None).await;
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    // A silent peer that reports whether its connection was closed on it.
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let silent = spawn_peer(1, move |mut s| {
        let tx = tx.clone();
        async move {
            let closed = drain_for(&mut s, Duration::from_secs(10)).await;
            let _ = tx.send(closed).await;
        }
    })
    .await;
    let spare = good;
    let peers = [silent, dead, good, spare];
    let t = Instant::now();
    let r = within(fetch_from_any(
        &peers,
        2,
        hash,
        net::peer_id(),
        FetchConfig::default(),
        Duration::from_secs(2),
    ))
    .await;
    let (from, m) = r.metadata.expect("one peer had it");
    assert_eq!(from, good);
    assert_eq!(m.info_bytes, info);
    let causes: Vec<_> = r.failures.iter().map(|(a, e)| (*a, e.cause())).collect();
    assert_eq!(causes, [(dead, "connect")]);
    assert_eq!(r.not_tried, 1);
    // Well before the silent peer's 10 s handshake timeout, and its connection was closed.
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let closed = within(rx.recv()).await;
    assert_eq!(
        closed,
        Some(true),
        "the cancelled fetch closed its connection"
    );

    // Nobody has it: every failure is reported.
    let r = within(fetch_from_any(
        &[dead, dead, dead],
        8,
        hash,
        net::peer_id(),
        quick(),
        Duration::from_secs(2),
    ))
    .await;
    assert!(r.metadata.is_none());
    assert_eq!(r.failures.len(), 3);
    assert_eq!(r.not_tried, 0);
}

#[test]
fn peer_ids_are_prefixed_and_random() {
    let a = net::peer_id();
    let b = net::peer_id();
    assert_eq!(&a[..8], b"-BA0001-");
    assert_eq!(&a[..8], net::PEER_ID_PREFIX);
    assert_ne!(a, b);
}

#[test]
fn every_failure_cause_is_a_known_label() {
    let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    assert!(FetchError::CAUSES.contains(&FetchFailure::Connect(io).cause()));
    assert!(FetchError::CAUSES.contains(&FetchFailure::Fetch(FetchError::Closed).cause()));
}
