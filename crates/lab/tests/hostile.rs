//! Hostile metadata peers on loopback (127.0.3.x only): every [`Hostility`] makes a fetch fail
//! with its own counted cause, nothing partial is kept, and memory stays within the fetcher's
//! caps; the honest mode of the same server succeeds, so these tests can fail. Every await is
//! bounded by [`LIMIT`]; the fetches end on their own deadlines.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use infohash::InfoHash;
use lab::hostile::{
    FLOOD_MESSAGE_LEN, HUGE_METADATA_SIZE, HostileConfig, HostilePeer, Hostility,
    OVER_CAP_METADATA_SIZE,
};
use net::peerwire::handshake::{HANDSHAKE_LEN, encode_handshake};
use net::peerwire::{FetchConfig, FetchError, MetadataFetch, Outcome};
use net::{FetchFailure, fetch_metadata};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Upper bound on any one step of a test; the fetches end on their own deadlines long before.
const LIMIT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

async fn within<T>(f: impl Future<Output = T>) -> T {
    testkit::within(LIMIT, "test step", f).await
}

/// Short deadlines, default limits (10 MiB metadata, 1 MiB + 16 KiB messages).
fn cfg() -> FetchConfig {
    FetchConfig {
        handshake_timeout: Duration::from_secs(1),
        piece_timeout: Duration::from_secs(1),
        total_timeout: Duration::from_secs(3),
        ..FetchConfig::default()
    }
}

/// `127.0.3.<last>:0`.
fn bind(last: u8) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(127, 0, 3, last), 0))
}

/// A v1 multi-file info dictionary of `files` files (about 47 bytes each): 2,000 files make
/// about 94 KB, six metadata pieces, more than the request window, the last one short.
fn info_dict(files: usize) -> Vec<u8> {
    let mut out = b"d5:filesl".to_vec();
    for i in 0..files {
        let name = format!("file-{i:06}.bin");
        out.extend_from_slice(
            format!("d6:lengthi{}e4:pathl3:dir{}:{name}ee", 1000 + i, name.len()).as_bytes(),
        );
    }
    out.extend_from_slice(b"e4:name11:hostile-dir12:piece lengthi16384e6:pieces20:");
    out.extend_from_slice(&[0xab; 20]);
    out.push(b'e');
    out
}

/// What a fetch driven by hand showed of its memory.
#[derive(Debug)]
struct Observed {
    outcome: Outcome,
    /// Largest `buffered_len()` seen after any input.
    peak_buffered: usize,
    /// Largest `metadata_allocated()` seen after any input.
    peak_allocated: usize,
    /// The fetch's own `max_buffered_len()`.
    max_buffered_len: usize,
    /// Bytes received from the peer.
    bytes_in: u64,
    /// Largest batch of bytes the fetch queued for the peer at once.
    peak_transmit: usize,
    /// `metadata_allocated()` and `buffered_len()` once the outcome was out.
    allocated_after: usize,
    buffered_after: usize,
}

/// Drives `peerwire::MetadataFetch` over a loopback connection exactly as `net` does (same read
/// buffer, same drain order), watching its memory after every input. Ends on the fetch's own
/// deadlines.
async fn drive_direct(addr: SocketAddr, info_hash: InfoHash, cfg: FetchConfig) -> Observed {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    let mut fetch = MetadataFetch::new(info_hash, net::peer_id(), cfg, Instant::now());
    let mut buf = vec![0u8; net::READ_BUFFER];
    let (mut peak_buffered, mut peak_allocated, mut peak_transmit, mut bytes_in) = (0, 0, 0, 0u64);
    // Bounded: the fetch's total deadline ends it.
    loop {
        while let Some(out) = fetch.poll_transmit() {
            peak_transmit = peak_transmit.max(out.len());
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
        if let Some(outcome) = fetch.poll_outcome() {
            return Observed {
                outcome,
                peak_buffered,
                peak_allocated,
                max_buffered_len: fetch.max_buffered_len(),
                bytes_in,
                peak_transmit,
                allocated_after: fetch.metadata_allocated(),
                buffered_after: fetch.buffered_len(),
            };
        }
        let deadline = fetch
            .poll_timeout()
            .expect("an unfinished fetch has a deadline");
        tokio::select! {
            r = stream.read(&mut buf) => match r {
                Ok(0) | Err(_) => fetch.handle_eof(),
                Ok(n) => {
                    bytes_in += n as u64;
                    fetch.handle_input(Instant::now(), &buf[..n]);
                }
            },
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                fetch.handle_timeout(Instant::now());
            }
        }
        peak_buffered = peak_buffered.max(fetch.buffered_len());
        peak_allocated = peak_allocated.max(fetch.metadata_allocated());
    }
}

/// How much metadata buffer a hostile kind makes the fetcher allocate.
#[derive(Debug, Clone, Copy)]
enum Alloc {
    /// Nothing: the fetch fails before a size is accepted.
    Nothing,
    /// Exactly the announced (true) size.
    Whole,
    /// Either, depending on how the bytes are cut into reads.
    AtMostWhole,
}

/// Plays `kind` on 127.0.3.`last`: one fetch through `net::fetch_metadata`, one driven by hand
/// through `MetadataFetch`; checks the cause (`None`: success), that nothing partial is kept
/// and the memory bounds; returns both failures for more checks.
async fn check(
    kind: Hostility,
    last: u8,
    cause: Option<&str>,
    alloc: Alloc,
) -> Option<(FetchFailure, Observed)> {
    assert_eq!(
        kind.expected_cause(),
        cause,
        "the library's table for {kind:?}"
    );
    let info = info_dict(2000);
    let peer = HostilePeer::start(bind(last), info.clone(), kind)
        .await
        .unwrap();
    let hash = peer.info_hash();
    let cfg = cfg();

    let t = Instant::now();
    let net_result = within(fetch_metadata(
        peer.addr(),
        hash,
        net::peer_id(),
        cfg.clone(),
        CONNECT_TIMEOUT,
    ))
    .await;
    let net_elapsed = t.elapsed();
    let obs = within(drive_direct(peer.addr(), hash, cfg.clone())).await;
    eprintln!(
        "{kind:?}: net {:?} in {net_elapsed:?}; direct {:?}, peak buffered {} of {}, peak \
         allocated {}, {} bytes in, peak transmit {}",
        net_result.as_ref().map(|m| m.info_bytes.len()),
        obs.outcome.as_ref().map(|m| m.info_bytes.len()),
        obs.peak_buffered,
        obs.max_buffered_len,
        obs.peak_allocated,
        obs.bytes_in,
        obs.peak_transmit,
    );

    // Memory: within the caps whatever the peer did, and nothing kept after the outcome.
    assert!(obs.max_buffered_len <= cfg.max_message_len as usize + 4);
    assert!(obs.peak_buffered <= obs.max_buffered_len, "{obs:?}");
    assert!(obs.peak_allocated <= cfg.max_metadata_size, "{obs:?}");
    // The fetcher's queued answers to a peer's requests are capped (at 64 KiB) too.
    assert!(obs.peak_transmit <= 128 << 10, "{obs:?}");
    match alloc {
        Alloc::Nothing => assert_eq!(obs.peak_allocated, 0, "{obs:?}"),
        Alloc::Whole => assert_eq!(obs.peak_allocated, info.len(), "{obs:?}"),
        Alloc::AtMostWhole => assert!(obs.peak_allocated <= info.len(), "{obs:?}"),
    }
    assert_eq!(obs.allocated_after, 0, "nothing partial kept: {obs:?}");
    assert_eq!(obs.buffered_after, 0, "nothing partial kept: {obs:?}");

    // The peer saw both connections and let go of them once the fetches ended.
    assert_eq!(peer.connections(), 2);
    within(peer.wait_idle()).await;
    within(peer.shutdown()).await;

    let Some(cause) = cause else {
        let m = net_result.expect("the honest peer serves the metadata");
        assert_eq!(m.info_bytes, info);
        assert_eq!(m.info.name, "hostile-dir");
        assert_eq!(m.info.file_count(), 2000);
        let m = obs
            .outcome
            .as_ref()
            .expect("the honest peer serves the metadata");
        assert_eq!(m.info_bytes, info);
        return None;
    };
    let Err(e) = net_result else {
        panic!("{kind:?}: a hostile peer gave metadata")
    };
    assert_eq!(e.cause(), cause, "{kind:?} through net: {e}");
    match &obs.outcome {
        Ok(_) => panic!("{kind:?}: a hostile peer gave metadata"),
        Err(d) => assert_eq!(d.cause(), cause, "{kind:?} driven directly: {d}"),
    }
    // The fetcher's own deadlines ended it (a generous bound: total plus its safety margin).
    assert!(net_elapsed < cfg.total_timeout + Duration::from_secs(5));
    Some((e, obs))
}

#[tokio::test]
async fn honest_control_succeeds() {
    assert!(
        check(Hostility::Honest, 1, None, Alloc::Whole)
            .await
            .is_none()
    );
}

#[tokio::test]
async fn honest_peer_hangs_up_on_other_torrents() {
    let peer = HostilePeer::start(bind(2), info_dict(10), Hostility::Honest)
        .await
        .unwrap();
    let e = within(fetch_metadata(
        peer.addr(),
        InfoHash::v1([7; 20]),
        net::peer_id(),
        cfg(),
        CONNECT_TIMEOUT,
    ))
    .await
    .unwrap_err();
    assert_eq!(e.cause(), "handshake", "{e}");
    peer.shutdown().await;
}

#[tokio::test]
async fn huge_metadata_size_is_too_big_and_allocates_nothing() {
    let (e, obs) = check(
        Hostility::HugeMetadataSize,
        3,
        Some("too_big"),
        Alloc::Nothing,
    )
    .await
    .unwrap();
    assert!(
        matches!(e, FetchFailure::Fetch(FetchError::TooBig { size }) if size == HUGE_METADATA_SIZE)
    );
    assert_eq!(
        obs.outcome.unwrap_err(),
        FetchError::TooBig {
            size: HUGE_METADATA_SIZE
        }
    );
}

#[tokio::test]
async fn metadata_size_just_over_the_cap_is_too_big() {
    let (e, _) = check(
        Hostility::MetadataSizeOverCap,
        4,
        Some("too_big"),
        Alloc::Nothing,
    )
    .await
    .unwrap();
    assert!(
        matches!(e, FetchFailure::Fetch(FetchError::TooBig { size }) if size == OVER_CAP_METADATA_SIZE)
    );
    assert_eq!(
        OVER_CAP_METADATA_SIZE,
        FetchConfig::default().max_metadata_size as u64 + 1
    );
}

#[tokio::test]
async fn wrong_pieces_fail_the_hash_check() {
    check(
        Hostility::WrongPieces,
        5,
        Some("hash_mismatch"),
        Alloc::Whole,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn short_pieces_are_a_protocol_error() {
    check(Hostility::ShortPieces, 6, Some("protocol"), Alloc::Whole)
        .await
        .unwrap();
}

#[tokio::test]
async fn stalling_peer_times_out() {
    check(Hostility::Stall, 7, Some("timeout"), Alloc::Whole)
        .await
        .unwrap();
}

#[tokio::test]
async fn silent_peer_times_out() {
    check(Hostility::Silent, 8, Some("timeout"), Alloc::Nothing)
        .await
        .unwrap();
}

#[tokio::test]
async fn closing_mid_piece_is_closed() {
    let (_, obs) = check(Hostility::CloseMidPiece, 9, Some("closed"), Alloc::Whole)
        .await
        .unwrap();
    assert_eq!(obs.outcome.unwrap_err(), FetchError::Closed);
}

#[tokio::test]
async fn garbage_instead_of_a_handshake_is_a_handshake_error() {
    check(Hostility::Garbage, 10, Some("handshake"), Alloc::Nothing)
        .await
        .unwrap();
}

#[tokio::test]
async fn garbage_extension_handshake_is_a_protocol_error() {
    check(
        Hostility::GarbageExtHandshake,
        11,
        Some("protocol"),
        Alloc::Nothing,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn oversized_length_prefix_is_a_protocol_error() {
    check(
        Hostility::OversizedMessage,
        12,
        Some("protocol"),
        Alloc::AtMostWhole,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn flood_times_out_with_bounded_buffers() {
    let (_, obs) = check(Hostility::Flood, 13, Some("timeout"), Alloc::Whole)
        .await
        .unwrap();
    // The flood delivered more than the input cap, and the buffer still stayed under it.
    assert!(
        obs.bytes_in > obs.max_buffered_len as u64,
        "the flood outran the cap: {obs:?}"
    );
    assert!(FLOOD_MESSAGE_LEN <= cfg().max_message_len);
}

#[tokio::test]
async fn slowloris_times_out() {
    check(Hostility::Slowloris, 14, Some("timeout"), Alloc::Nothing)
        .await
        .unwrap();
}

#[tokio::test]
async fn rejecting_peer_is_rejected() {
    check(Hostility::RejectAll, 15, Some("rejected"), Alloc::Whole)
        .await
        .unwrap();
}

#[tokio::test]
async fn peer_without_ut_metadata_is_no_metadata_support() {
    check(
        Hostility::NoMetadataSupport,
        16,
        Some("no_metadata_support"),
        Alloc::Nothing,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn peer_without_extensions_is_no_extension_support() {
    check(
        Hostility::NoExtensions,
        17,
        Some("no_extension_support"),
        Alloc::Nothing,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn peer_answering_for_another_torrent_is_a_handshake_error() {
    check(
        Hostility::WrongInfoHash,
        18,
        Some("handshake"),
        Alloc::Nothing,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_flood_of_requests_times_out_with_bounded_output() {
    let (_, obs) = check(Hostility::RequestFlood, 19, Some("timeout"), Alloc::Whole)
        .await
        .unwrap();
    // The peer asked far more than the fetcher answered at once.
    assert!(obs.bytes_in > obs.peak_transmit as u64, "{obs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_fetches_from_a_stalling_peer_all_time_out() {
    const N: usize = 50;
    let peer = HostilePeer::start(bind(30), info_dict(2000), Hostility::Stall)
        .await
        .unwrap();
    let cfg = cfg();
    let t = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..N {
        let (addr, hash, cfg) = (peer.addr(), peer.info_hash(), cfg.clone());
        set.spawn(async move {
            let r = fetch_metadata(addr, hash, net::peer_id(), cfg, CONNECT_TIMEOUT).await;
            (r, t.elapsed())
        });
    }
    let results = within(set.join_all()).await;
    let elapsed = t.elapsed();
    let slowest = results.iter().map(|(_, d)| *d).max().unwrap();
    eprintln!("{N} stalled fetches ended in {elapsed:?} (slowest {slowest:?})");
    assert_eq!(results.len(), N);
    for (r, _) in &results {
        match r {
            Ok(_) => panic!("a stalling peer gave metadata"),
            Err(e) => assert_eq!(e.cause(), "timeout", "{e}"),
        }
    }
    // Generous: every fetch ended on its own deadlines, not on the test's guard.
    assert!(
        slowest < cfg.total_timeout + Duration::from_secs(5),
        "{slowest:?}"
    );
    assert_eq!(peer.connections(), N as u64);
    within(peer.wait_idle()).await;
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_kind_at_once() {
    const PER_KIND: usize = 3;
    let info = info_dict(300);
    let mut peers = Vec::new();
    for (i, kind) in Hostility::ALL.into_iter().enumerate() {
        let last = 40 + u8::try_from(i).unwrap();
        let peer = HostilePeer::start(bind(last), info.clone(), kind)
            .await
            .unwrap();
        peers.push(peer);
    }
    let mut set = JoinSet::new();
    for peer in &peers {
        for _ in 0..PER_KIND {
            let (kind, addr, hash) = (peer.kind(), peer.addr(), peer.info_hash());
            set.spawn(async move {
                let r = fetch_metadata(addr, hash, net::peer_id(), cfg(), CONNECT_TIMEOUT).await;
                (kind, r.map(|m| m.info_bytes).map_err(|e| e.cause()))
            });
        }
    }
    let results = within(set.join_all()).await;
    assert_eq!(results.len(), Hostility::ALL.len() * PER_KIND);
    for (kind, r) in results {
        match kind.expected_cause() {
            None => assert_eq!(r.as_ref(), Ok(&info), "{kind:?}"),
            Some(cause) => assert_eq!(r.map(|_| ()), Err(cause), "{kind:?}"),
        }
    }
    for peer in peers {
        assert_eq!(peer.connections(), PER_KIND as u64);
        within(peer.wait_idle()).await;
        peer.shutdown().await;
    }
}

/// Reads until end of stream (or an error); returns the bytes read.
async fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // Bounded: the peer's output is finite and it hangs up (the test's guard bounds it too).
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_client_that_never_stops_sending_is_cut_off() {
    let config = HostileConfig {
        max_read: 64 << 10,
        ..HostileConfig::default()
    };
    let peer = HostilePeer::start_with(bind(60), info_dict(10), Hostility::Stall, config)
        .await
        .unwrap();
    let mut s = TcpStream::connect(peer.addr()).await.unwrap();
    s.write_all(&encode_handshake(&peer.info_hash().dht_key(), &[9; 20]))
        .await
        .unwrap();
    // Keep-alives (zeros) are valid, so only the read budget can stop the peer reading.
    const BUDGET: u64 = 256 << 20;
    let chunk = vec![0u8; 64 << 10];
    let mut sent = 0u64;
    let cut_off = within(async {
        while sent < BUDGET {
            if s.write_all(&chunk).await.is_err() {
                return true;
            }
            sent += chunk.len() as u64;
        }
        false
    })
    .await;
    eprintln!("cut off after {sent} bytes");
    assert!(cut_off, "the peer kept reading {sent} bytes");
    within(peer.wait_idle()).await;
    peer.shutdown().await;
}

#[tokio::test]
async fn an_idle_client_is_hung_up_on() {
    let config = HostileConfig {
        idle_timeout: Duration::from_millis(300),
        ..HostileConfig::default()
    };
    let peer = HostilePeer::start_with(bind(61), info_dict(10), Hostility::Stall, config)
        .await
        .unwrap();
    let mut s = TcpStream::connect(peer.addr()).await.unwrap();
    s.write_all(&encode_handshake(&peer.info_hash().dht_key(), &[9; 20]))
        .await
        .unwrap();
    let got = within(read_to_close(&mut s)).await;
    // Its handshake and extension handshake, then nothing until it hung up.
    assert!(got.len() > HANDSHAKE_LEN, "{} bytes", got.len());
    assert_eq!(got[28..48], peer.info_hash().dht_key());
    within(peer.wait_idle()).await;
    peer.shutdown().await;
}

#[tokio::test]
async fn lifetime_bounds_a_busy_connection() {
    // A slowloris keeps writing, so only the lifetime can end it.
    let config = HostileConfig {
        lifetime: Duration::from_millis(500),
        trickle_interval: Duration::from_millis(100),
        ..HostileConfig::default()
    };
    let peer = HostilePeer::start_with(bind(62), info_dict(10), Hostility::Slowloris, config)
        .await
        .unwrap();
    let mut s = TcpStream::connect(peer.addr()).await.unwrap();
    s.write_all(&encode_handshake(&peer.info_hash().dht_key(), &[9; 20]))
        .await
        .unwrap();
    let got = within(read_to_close(&mut s)).await;
    // Generous: about 5 bytes in 500 ms; the whole handshake would take 6.8 s.
    assert!(got.len() < HANDSHAKE_LEN, "{} bytes", got.len());
    within(peer.wait_idle()).await;
    peer.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_at_once() {
    let config = HostileConfig {
        max_connections: 2,
        ..HostileConfig::default()
    };
    let peer = HostilePeer::start_with(bind(63), info_dict(10), Hostility::Stall, config)
        .await
        .unwrap();
    let hs = encode_handshake(&peer.info_hash().dht_key(), &[9; 20]);
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(peer.addr()).await.unwrap();
        s.write_all(&hs).await.unwrap();
        let mut answer = [0u8; HANDSHAKE_LEN];
        within(s.read_exact(&mut answer)).await.unwrap();
        open.push(s);
    }
    assert_eq!(peer.active(), 2);
    let mut third = TcpStream::connect(peer.addr()).await.unwrap();
    let _ = third.write_all(&hs).await;
    assert!(within(read_to_close(&mut third)).await.is_empty());
    assert_eq!(peer.connections(), 3);
    assert_eq!(peer.active(), 2);
    drop(open);
    within(peer.wait_idle()).await;
    peer.shutdown().await;
}

#[tokio::test]
async fn shutdown_and_drop_close_everything() {
    for shutdown in [true, false] {
        let peer = HostilePeer::start(bind(64), info_dict(10), Hostility::Stall)
            .await
            .unwrap();
        let addr = peer.addr();
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&encode_handshake(&peer.info_hash().dht_key(), &[9; 20]))
            .await
            .unwrap();
        let mut answer = [0u8; HANDSHAKE_LEN];
        within(s.read_exact(&mut answer)).await.unwrap();
        if shutdown {
            within(peer.shutdown()).await;
        } else {
            drop(peer);
        }
        // The open connection is closed (its extension handshake may still be in flight).
        let rest = within(read_to_close(&mut s)).await;
        assert!(rest.len() < 1024, "{} bytes", rest.len());
        if shutdown {
            // Nobody listens any more (after drop, the abort may still be in progress).
            assert!(TcpStream::connect(addr).await.is_err());
        }
    }
}

#[tokio::test]
async fn refuses_to_listen_outside_loopback() {
    for addr in ["0.0.0.0:0", "192.0.2.1:6881", "[::]:0"] {
        let e = HostilePeer::start(addr.parse().unwrap(), Vec::new(), Hostility::Honest)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{addr}");
    }
}
