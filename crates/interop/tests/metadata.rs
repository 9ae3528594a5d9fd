//! BitAgent's TCP metadata fetcher against real libtorrent 2.1.1 seeders on loopback.
//!
//! One swarm of libtorrent sessions on 127.0.0.160.. (`tests/libtorrent/swarm.py`), each
//! seeding two small v1 torrents, plus a swarm torrent seeded by five of them and a multi-file
//! torrent of 1,500 files (an ~80 KB info dictionary: five metadata pieces). Every torrent's
//! info dictionary is fetched from its seeders over TCP (BEP-9 over BEP-10) from our own
//! address 127.0.1.20 and compared with what swarm.py says it created. A raw probe from
//! 127.0.1.21 records how libtorrent answers: its extension handshake and how many
//! outstanding `ut_metadata` requests it serves. Nothing leaves loopback; every wait is
//! bounded.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use infohash::InfoHash;
use net::peerwire::extension::{ExtHandshake, HANDSHAKE_ID, encode_ext_handshake};
use net::peerwire::handshake::{HANDSHAKE_LEN, Handshake, encode_handshake};
use net::peerwire::message::{EXTENDED, Header, parse_header};
use net::peerwire::metadata::{MetadataMsg, encode_request};
use net::peerwire::{FetchConfig, MetaVersion, Metadata, OUR_UT_METADATA_ID};
use serde_json::Value;
use sha1::{Digest, Sha1};
use support::Swarm;
use testkit::within;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

const NODES: usize = 20;
const FIRST_IP: &str = "127.0.0.160";
const OUR_IP: &str = "127.0.1.20";
const PROBE_IP: &str = "127.0.1.21";
const LIMIT: Duration = Duration::from_secs(20);

async fn connect_from(ip: &str, peer: SocketAddr) -> TcpStream {
    let ip: IpAddr = ip.parse().unwrap();
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::new(ip, 0)).unwrap();
    within(Duration::from_secs(5), "connect", s.connect(peer))
        .await
        .expect("connect to the libtorrent seeder")
}

async fn fetch_from(peer: SocketAddr, info_hash: InfoHash) -> Result<Metadata, String> {
    let stream = connect_from(OUR_IP, peer).await;
    tokio::time::timeout(
        LIMIT,
        net::fetch_metadata_on(stream, info_hash, net::peer_id(), FetchConfig::default()),
    )
    .await
    .map_err(|_| "no outcome in time".to_string())?
    .map_err(|e| format!("{} ({e})", e.cause()))
}

fn hash_of(t: &Value) -> InfoHash {
    t["infohash"].as_str().unwrap().parse().unwrap()
}

fn seeders(t: &Value) -> Vec<SocketAddr> {
    t["seeders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().parse().unwrap())
        .collect()
}

/// Every torrent of the ready line, the swarm and multi-file torrents last.
fn all_torrents(swarm: &Swarm) -> Vec<Value> {
    let mut v = swarm.ready["torrents"].as_array().unwrap().clone();
    v.push(swarm.ready["swarm_torrent"].clone());
    v.push(swarm.ready["multi_torrent"].clone());
    v
}

/// The fetched metadata is exactly what swarm.py created.
fn check(t: &Value, m: &Metadata) {
    let hash = hash_of(t);
    let sha1: [u8; 20] = Sha1::digest(&m.info_bytes).into();
    assert_eq!(
        sha1,
        hash.dht_key(),
        "SHA-1 of the fetched bytes is the infohash"
    );
    let i = &m.info;
    assert_eq!(i.name, t["name"].as_str().unwrap());
    assert_eq!(i.total_size, t["total_size"].as_u64().unwrap());
    assert_eq!(i.piece_length, t["piece_length"].as_u64());
    assert_eq!(i.version, MetaVersion::V1);
    assert!(!i.private);
    let want: Vec<(Vec<String>, u64)> = t["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = f["path"].as_array().unwrap();
            let path = path
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect();
            (path, f["size"].as_u64().unwrap())
        })
        .collect();
    let got: Vec<(Vec<String>, u64)> = i.files.iter().map(|f| (f.path.clone(), f.length)).collect();
    assert_eq!(got, want, "files of {}", i.name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_every_torrent_from_its_libtorrent_seeders() {
    let mut swarm = Swarm::start(NODES, FIRST_IP, 6881, &["--multi-file-torrent", "1500"]);
    let torrents = all_torrents(&swarm);
    assert_eq!(torrents.len(), NODES * 2 + 2);
    let multi = swarm.ready["multi_torrent"].clone();
    assert!(
        multi["info_size"].as_u64().unwrap() > 4 * 16384,
        "{}",
        multi["info_size"]
    );

    // 1. One at a time, from each torrent's first seeder: per-fetch latency.
    let mut times = Vec::new();
    let all = Instant::now();
    for t in &torrents {
        let peer = seeders(t)[0];
        let start = Instant::now();
        let m = fetch_from(peer, hash_of(t))
            .await
            .unwrap_or_else(|e| panic!("fetch {} from {peer}: {e}", t["infohash"]));
        times.push(start.elapsed());
        check(t, &m);
    }
    let sequential = all.elapsed();
    times.sort();
    eprintln!(
        "metadata: {} sequential fetches in {:?}: min {:?}, median {:?}, max {:?}",
        times.len(),
        sequential,
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    );

    // 2. All at once, every (torrent, seeder) pair: the swarm torrent from all five seeders.
    let start = Instant::now();
    let mut set = JoinSet::new();
    for t in &torrents {
        for peer in seeders(t) {
            let t = t.clone();
            set.spawn(async move {
                let r = fetch_from(peer, hash_of(&t)).await;
                (t, peer, r)
            });
        }
    }
    let mut n = 0;
    while let Some(j) = set.join_next().await {
        let (t, peer, r) = j.unwrap();
        let m = r.unwrap_or_else(|e| panic!("concurrent fetch {} from {peer}: {e}", t["infohash"]));
        check(&t, &m);
        n += 1;
    }
    assert_eq!(n, NODES * 2 + 5 + 1);
    eprintln!("metadata: {n} concurrent fetches in {:?}", start.elapsed());

    // 3. fetch_from_any over the swarm torrent's seeders, plus one address nobody listens on.
    let st = &swarm.ready["swarm_torrent"];
    let mut peers = vec!["127.0.1.99:1".parse().unwrap()];
    peers.extend(seeders(st));
    let start = Instant::now();
    let r = within(
        LIMIT,
        "fetch_from_any",
        net::fetch_from_any(
            &peers,
            3,
            hash_of(st),
            net::peer_id(),
            FetchConfig::default(),
            Duration::from_secs(2),
        ),
    )
    .await;
    let (from, m) = r.metadata.expect("a seeder answered");
    assert!(seeders(st).contains(&from));
    check(st, &m);
    assert!(
        r.failures
            .iter()
            .all(|(a, e)| a.port() == 1 && e.cause() == "connect")
    );
    eprintln!(
        "metadata: fetch_from_any got it from {from} in {:?} ({} failed, {} not tried)",
        start.elapsed(),
        r.failures.len(),
        r.not_tried
    );

    // 3b. The multi-piece torrent at several request windows (libtorrent advertises reqq 2000).
    for window in [1, 2, 4, 8, 16] {
        let cfg = FetchConfig {
            request_window: window,
            ..FetchConfig::default()
        };
        let stream = connect_from(OUR_IP, seeders(&multi)[0]).await;
        let start = Instant::now();
        let m = within(
            LIMIT,
            "the multi-file fetch",
            net::fetch_metadata_on(stream, hash_of(&multi), net::peer_id(), cfg),
        )
        .await
        .unwrap_or_else(|e| panic!("multi-file torrent, window {window}: {e}"));
        check(&multi, &m);
        eprintln!(
            "metadata: {} bytes ({} files) with request window {window} in {:?}",
            m.info_bytes.len(),
            m.info.file_count(),
            start.elapsed()
        );
    }

    // 4. A torrent the peer does not have: libtorrent hangs up without a handshake, which we
    //    count as a handshake failure (not as a transfer cut short).
    let seeder = seeders(&torrents[0])[0];
    let err = fetch_from(seeder, InfoHash::v1([0x5a; 20]))
        .await
        .unwrap_err();
    assert!(err.starts_with("handshake ("), "{err}");

    // 5. The DHT DoS blocker counts UDP packets per source IP; metadata is TCP. Our fetching
    //    address sent the DHT nothing, and nobody was banned.
    let packets = swarm.packets(OUR_IP);
    assert_eq!(packets["count"], 0, "{packets}");
    let bans = swarm.bans();
    assert!(bans.is_empty(), "{bans:?}");
}

/// Reads one peer-wire message (not a keep-alive) within `limit`; `None` on EOF or timeout.
async fn read_message(s: &mut TcpStream, buf: &mut Vec<u8>, limit: Duration) -> Option<Vec<u8>> {
    let end = tokio::time::Instant::now() + limit;
    loop {
        match parse_header(buf, 1 << 20) {
            Ok(Some(Header::KeepAlive)) => {
                buf.drain(..4);
                continue;
            }
            Ok(Some(h @ Header::Message { payload_len, .. })) => {
                let total = h.header_len() + payload_len;
                if buf.len() >= total {
                    let msg = buf[4..total].to_vec();
                    buf.drain(..total);
                    return Some(msg);
                }
            }
            Ok(None) => {}
            Err(e) => panic!("libtorrent sent a bad message: {e}"),
        }
        let mut chunk = [0u8; 16 << 10];
        match tokio::time::timeout_at(end, s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_metadata_behaviour() {
    let swarm = Swarm::start(4, "127.0.0.190", 6881, &["--swarm-torrent-seeders", "0"]);
    let t = swarm.ready["torrents"][0].clone();
    let peer = seeders(&t)[0];
    let hash = hash_of(&t);
    let mut s = connect_from(PROBE_IP, peer).await;
    let mut out = encode_handshake(&hash.dht_key(), b"-BA0001-probeprobe00").to_vec();
    encode_ext_handshake(&mut out, OUR_UT_METADATA_ID, None, Some(b"BitAgent probe"));
    s.write_all(&out).await.unwrap();

    // Its handshake.
    let mut hs = [0u8; HANDSHAKE_LEN];
    within(LIMIT, "its handshake", s.read_exact(&mut hs))
        .await
        .expect("handshake");
    let hs = Handshake::parse(&hs).unwrap();
    assert_eq!(hs.info_hash, hash.dht_key());
    assert!(hs.supports_extensions());
    eprintln!(
        "libtorrent handshake: reserved {:02x?}, peer id {:?}",
        hs.reserved,
        String::from_utf8_lossy(&hs.peer_id[..8])
    );

    // Its messages up to and including the extension handshake.
    let mut buf = Vec::new();
    let mut before = Vec::new();
    let (peer_ut, size) = loop {
        let msg = read_message(&mut s, &mut buf, LIMIT)
            .await
            .expect("extension handshake");
        if msg[0] == EXTENDED && msg[1] == HANDSHAKE_ID {
            eprintln!(
                "libtorrent extension handshake: {}",
                String::from_utf8_lossy(&msg[2..]).escape_debug()
            );
            let h = ExtHandshake::parse(&msg[2..]).unwrap();
            eprintln!(
                "  ut_metadata id {:?}, metadata_size {:?}, reqq {:?}, v {:?}",
                h.ut_metadata,
                h.metadata_size,
                h.reqq,
                h.client.map(String::from_utf8_lossy)
            );
            break (h.ut_metadata.unwrap(), h.metadata_size.unwrap());
        }
        before.push(msg[0]);
    };
    eprintln!("libtorrent message ids before its extension handshake: {before:?}");

    // How many outstanding requests does it serve? 30 requests for piece 0 at once, and one
    // for a piece out of range.
    let burst = 30u32;
    let mut req = Vec::new();
    for _ in 0..burst {
        encode_request(&mut req, peer_ut, 0);
    }
    encode_request(&mut req, peer_ut, 1000);
    s.write_all(&req).await.unwrap();
    let (mut data, mut rejects, mut other) = (0, Vec::new(), Vec::new());
    for _ in 0..(burst + 10) {
        let Some(msg) = read_message(&mut s, &mut buf, Duration::from_secs(2)).await else {
            break;
        };
        if msg[0] != EXTENDED || msg[1] != OUR_UT_METADATA_ID {
            other.push(msg[0]);
            continue;
        }
        match MetadataMsg::parse(&msg[2..]).unwrap() {
            MetadataMsg::Data {
                piece, total_size, ..
            } => {
                assert_eq!((piece, total_size), (0, Some(size as i64)));
                data += 1;
            }
            MetadataMsg::Reject { piece } => rejects.push(piece),
            m => panic!("unexpected {m:?}"),
        }
    }
    eprintln!(
        "libtorrent answered {burst} requests for piece 0 + 1 out of range with {data} data, \
         rejects for pieces {rejects:?}, other message ids {other:?} (metadata {size} bytes)"
    );
    assert!(data >= 1, "libtorrent served piece 0 at least once");
}
