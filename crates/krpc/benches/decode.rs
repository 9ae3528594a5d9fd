//! KRPC decode/encode throughput on a realistic crawler message mix, against a typed
//! `serde_bencode` decoder as the baseline.
//!
//! Run: `cargo bench -p krpc --bench decode`. After criterion's groups it times both decoders
//! in one plain loop and prints messages/s and `RATIO ours/serde_bencode = N.Nx`.
//!
//! Both decoders do the same work per message: decode, then read every field a crawler uses
//! (ids, every node of `nodes`, every peer of `values`, every sample), with the same length
//! checks, so the lazy views of `krpc` get no free pass.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use krpc::{
    Id20, Kind, Message, Method, NodeInfo, Nodes, Peers, Query, Response, Samples,
    decode_compact_addr,
};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

// ---- the message mix ------------------------------------------------------------------------

/// The workspace's seeded test RNG (fixed seeds), so the mix is the same on every run.
struct Rng(testkit::TestRng);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(testkit::seeded(seed))
    }
    fn next(&mut self) -> u64 {
        testkit::rng::RngCore::next_u64(&mut self.0)
    }
    fn id(&mut self) -> Id20 {
        let mut b = [0u8; 20];
        for x in &mut b {
            *x = self.next() as u8;
        }
        Id20(b)
    }
    fn v4(&mut self) -> SocketAddr {
        let ip = (self.next() as u32).to_be_bytes();
        SocketAddr::from((ip, self.next() as u16))
    }
    fn tid(&mut self) -> [u8; 2] {
        (self.next() as u16).to_be_bytes()
    }
}

const LT_V: &[u8] = b"LT\x02\x01";

/// The kinds of message in the mix, with how many of each per 20 messages.
const KINDS: [(&str, usize); 5] = [
    ("sample_infohashes_reply", 6), // 20 samples, 8 nodes
    ("find_node_reply", 5),         // 8 nodes
    ("get_peers_query", 4),
    ("ping_query", 3),
    ("get_peers_reply_values", 2), // 12 peers, 8 nodes, token
];

/// One encoded message of kind `k` (an index into [`KINDS`]), libtorrent-style: 2-byte tid,
/// `v`, and `ip` in replies.
fn message(rng: &mut Rng, k: usize) -> Vec<u8> {
    let tid = rng.tid();
    let infos: Vec<NodeInfo> = (0..8)
        .map(|_| NodeInfo {
            id: rng.id(),
            addr: rng.v4(),
        })
        .collect();
    let samples: Vec<u8> = (0..20).flat_map(|_| rng.id().0).collect();
    let peers: Vec<SocketAddr> = (0..12).map(|_| rng.v4()).collect();
    let token = rng.tid();
    let mut r = Response::new(rng.id());
    let kind = match k {
        0 => {
            r.nodes = Nodes::Infos(&infos);
            r.samples = Samples::new(&samples);
            r.interval = Some(21600);
            r.num = Some(1000 + (rng.next() % 5000) as i64);
            Kind::Response(r)
        }
        1 => {
            r.nodes = Nodes::Infos(&infos);
            Kind::Response(r)
        }
        2 => Kind::Query(Query {
            id: rng.id(),
            method: Method::GetPeers {
                info_hash: rng.id().into(),
                want: Default::default(),
                noseed: false,
                scrape: false,
            },
        }),
        3 => Kind::Query(Query {
            id: rng.id(),
            method: Method::Ping,
        }),
        _ => {
            r.nodes = Nodes::Infos(&infos);
            r.values = Peers::Addrs(&peers);
            r.token = Some(&token);
            Kind::Response(r)
        }
    };
    let ip = matches!(kind, Kind::Response(_)).then(|| rng.v4());
    let m = Message {
        tid: &tid,
        version: Some(LT_V),
        ip,
        read_only: false,
        kind,
    };
    let mut out = Vec::new();
    m.encode(&mut out).unwrap();
    out
}

/// 100 messages in the proportions of [`KINDS`], shuffled.
fn mix() -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0x0b17_a6e4_7000_0001);
    let mut out = Vec::new();
    for _ in 0..5 {
        for (k, (_, n)) in KINDS.iter().enumerate() {
            for _ in 0..*n {
                out.push(message(&mut rng, k));
            }
        }
    }
    for i in (1..out.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    out
}

/// 50 messages of one kind.
fn only(k: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0x51_0000 + k as u64);
    (0..50).map(|_| message(&mut rng, k)).collect()
}

// ---- ours -----------------------------------------------------------------------------------

fn fold_id(acc: u64, id: &Id20) -> u64 {
    acc.wrapping_mul(31)
        .wrapping_add(u64::from(id.0[0]) ^ u64::from(id.0[19]))
}

fn fold_addr(acc: u64, a: &SocketAddr) -> u64 {
    acc.wrapping_mul(31).wrapping_add(u64::from(a.port()))
}

/// Decodes with `krpc` and reads every field.
fn ours(buf: &[u8]) -> u64 {
    let m = Message::decode(buf).unwrap();
    let mut acc = m.tid.len() as u64 + m.version.map_or(0, <[u8]>::len) as u64;
    if let Some(ip) = &m.ip {
        acc = fold_addr(acc, ip);
    }
    match m.kind {
        Kind::Query(q) => {
            acc = fold_id(acc, &q.id);
            match q.method {
                Method::GetPeers { info_hash, .. } => acc = fold_id(acc, &info_hash.into()),
                Method::FindNode { target, .. } | Method::SampleInfohashes { target, .. } => {
                    acc = fold_id(acc, &target)
                }
                Method::AnnouncePeer {
                    info_hash, port, ..
                } => acc = fold_id(acc, &info_hash.into()) + u64::from(port),
                Method::Ping | Method::Unknown { .. } => acc += 1,
            }
        }
        Kind::Response(r) => {
            acc = fold_id(acc, &r.id);
            for n in r.nodes.iter() {
                acc = fold_addr(fold_id(acc, &n.id), &n.addr);
            }
            for p in r.values.iter() {
                acc = fold_addr(acc, &p);
            }
            if let Some(s) = r.samples {
                for h in s.iter() {
                    acc = fold_id(acc, &h.into());
                }
            }
            acc += r.token.map_or(0, <[u8]>::len) as u64;
            acc += r.interval.unwrap_or(0) as u64 + r.num.unwrap_or(0) as u64;
        }
        Kind::Error(e) => acc += e.code as u64,
    }
    acc
}

// ---- the serde_bencode baseline -------------------------------------------------------------

/// The KRPC envelope as serde structs; optional fields default to `None`.
#[derive(Debug, Deserialize, Serialize)]
struct SMessage {
    t: ByteBuf,
    y: ByteBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<SArgs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<SResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<(i64, ByteBuf)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ro: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize)]
struct SArgs {
    id: ByteBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    info_hash: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    want: Option<Vec<ByteBuf>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    noseed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scrape: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    implied_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<ByteBuf>,
}

#[derive(Debug, Deserialize, Serialize)]
struct SResponse {
    id: ByteBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nodes: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nodes6: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    values: Option<Vec<ByteBuf>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    samples: Option<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    num: Option<i64>,
    #[serde(rename = "BFsd", default, skip_serializing_if = "Option::is_none")]
    bf_seeds: Option<ByteBuf>,
    #[serde(rename = "BFpe", default, skip_serializing_if = "Option::is_none")]
    bf_peers: Option<ByteBuf>,
}

/// Decodes with `serde_bencode` and reads the same fields, with the same length checks.
fn serde(buf: &[u8]) -> u64 {
    let m: SMessage = serde_bencode::from_bytes(buf).unwrap();
    let id20 = |b: &[u8]| Id20::from_slice(b).unwrap();
    let mut acc = m.t.len() as u64 + m.v.as_ref().map_or(0, |v| v.len()) as u64;
    if let Some(ip) = &m.ip {
        acc = fold_addr(acc, &decode_compact_addr(ip).unwrap());
    }
    match &m.y[..] {
        b"q" => {
            let a = m.a.as_ref().unwrap();
            acc = fold_id(acc, &id20(&a.id));
            match &m.q.as_ref().unwrap()[..] {
                b"get_peers" => acc = fold_id(acc, &id20(a.info_hash.as_ref().unwrap())),
                b"find_node" | b"sample_infohashes" => {
                    acc = fold_id(acc, &id20(a.target.as_ref().unwrap()))
                }
                b"announce_peer" => {
                    acc =
                        fold_id(acc, &id20(a.info_hash.as_ref().unwrap())) + a.port.unwrap() as u64
                }
                _ => acc += 1,
            }
        }
        b"r" => {
            let r = m.r.as_ref().unwrap();
            acc = fold_id(acc, &id20(&r.id));
            if let Some(nodes) = &r.nodes {
                assert!(nodes.len() % 26 == 0);
                for c in nodes.chunks_exact(26) {
                    let n = NodeInfo {
                        id: id20(&c[..20]),
                        addr: decode_compact_addr(&c[20..]).unwrap(),
                    };
                    acc = fold_addr(fold_id(acc, &n.id), &n.addr);
                }
            }
            if let Some(values) = &r.values {
                for p in values {
                    acc = fold_addr(acc, &decode_compact_addr(p).unwrap());
                }
            }
            if let Some(s) = &r.samples {
                assert!(s.len() % 20 == 0);
                for h in s.chunks_exact(20) {
                    acc = fold_id(acc, &id20(h));
                }
            }
            acc += r.token.as_ref().map_or(0, |t| t.len()) as u64;
            acc += r.interval.unwrap_or(0) as u64 + r.num.unwrap_or(0) as u64;
        }
        _ => acc += m.e.as_ref().unwrap().0 as u64,
    }
    acc
}

// ---- criterion ------------------------------------------------------------------------------

fn total_bytes(msgs: &[Vec<u8>]) -> u64 {
    msgs.iter().map(|m| m.len() as u64).sum()
}

fn run_ours(msgs: &[Vec<u8>]) -> u64 {
    msgs.iter().fold(0u64, |a, m| a ^ ours(black_box(m)))
}

fn run_serde(msgs: &[Vec<u8>]) -> u64 {
    msgs.iter().fold(0u64, |a, m| a ^ serde(black_box(m)))
}

fn bench_decode(c: &mut Criterion) {
    let mix = mix();
    // Both decoders must read the same thing.
    for m in &mix {
        assert_eq!(ours(m), serde(m), "decoders disagree");
    }
    let mut g = c.benchmark_group("decode_mix");
    g.throughput(Throughput::Elements(mix.len() as u64));
    g.bench_function("krpc", |b| b.iter(|| run_ours(&mix)));
    g.bench_function("serde_bencode", |b| b.iter(|| run_serde(&mix)));
    g.finish();

    let mut g = c.benchmark_group("decode_kind");
    for (k, (name, _)) in KINDS.iter().enumerate() {
        let msgs = only(k);
        g.throughput(Throughput::Elements(msgs.len() as u64));
        g.bench_with_input(BenchmarkId::new("krpc", name), &msgs, |b, m| {
            b.iter(|| run_ours(m))
        });
        g.bench_with_input(BenchmarkId::new("serde_bencode", name), &msgs, |b, m| {
            b.iter(|| run_serde(m))
        });
    }
    g.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mix = mix();
    let decoded: Vec<Message<'_>> = mix.iter().map(|m| Message::decode(m).unwrap()).collect();
    let typed: Vec<SMessage> = mix
        .iter()
        .map(|m| serde_bencode::from_bytes(m).unwrap())
        .collect();
    let mut g = c.benchmark_group("encode_mix");
    g.throughput(Throughput::Elements(mix.len() as u64));
    // Re-encoding decoded messages into one reused buffer: what a relay or a test does.
    g.bench_function("krpc", |b| {
        let mut out = Vec::with_capacity(2048);
        b.iter(|| {
            let mut n = 0;
            for m in &decoded {
                out.clear();
                black_box(m).encode(&mut out).unwrap();
                n += out.len();
            }
            n
        })
    });
    g.bench_function("serde_bencode", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in &typed {
                n += serde_bencode::to_bytes(black_box(m)).unwrap().len();
            }
            n
        })
    });
    g.finish();

    // Building a sample_infohashes reply from contacts, as the DHT node does when answering.
    let mut rng = Rng::new(7);
    let infos: Vec<NodeInfo> = (0..8)
        .map(|_| NodeInfo {
            id: rng.id(),
            addr: rng.v4(),
        })
        .collect();
    let samples: Vec<u8> = (0..20).flat_map(|_| rng.id().0).collect();
    let mut r = Response::new(rng.id());
    r.nodes = Nodes::Infos(&infos);
    r.samples = Samples::new(&samples);
    r.interval = Some(21600);
    r.num = Some(1234);
    let reply = Message {
        tid: b"\x8a\x3f",
        version: Some(LT_V),
        ip: Some(rng.v4()),
        read_only: false,
        kind: Kind::Response(r),
    };
    let mut g = c.benchmark_group("encode_reply");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sample_infohashes_from_infos", |b| {
        let mut buf = [0u8; 1500];
        b.iter(|| {
            let mut sink = bencode::SliceSink::new(&mut buf);
            black_box(&reply).encode(&mut sink).unwrap();
            sink.len()
        })
    });
    g.finish();
}

// ---- the plain measured loop and the ratio --------------------------------------------------

/// Time for `iters` passes over `msgs`.
fn time_passes(msgs: &[Vec<u8>], iters: u32, f: fn(&[Vec<u8>]) -> u64) -> Duration {
    let t = Instant::now();
    let mut acc = 0u64;
    for _ in 0..iters {
        acc ^= f(black_box(msgs));
    }
    black_box(acc);
    t.elapsed()
}

fn measured_ratio(quick: bool) {
    let mix = mix();
    let (iters, rounds) = if quick { (2, 1) } else { (300, 21) };
    // Warm both up (caches, branch predictors, allocator).
    time_passes(&mix, iters, run_ours);
    time_passes(&mix, iters, run_serde);
    // Alternate the two, keeping each one's best round, so a burst of load from elsewhere on
    // the machine hits both alike rather than skewing the ratio.
    let (mut t_ours, mut t_serde) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        t_ours = t_ours.min(time_passes(&mix, iters, run_ours));
        t_serde = t_serde.min(time_passes(&mix, iters, run_serde));
    }
    let msgs = mix.len() as f64 * f64::from(iters);
    let bytes = total_bytes(&mix) as f64 * f64::from(iters);
    let rate = |t: Duration| msgs / t.as_secs_f64();
    let mbps = |t: Duration| bytes / t.as_secs_f64() / 1e6;
    println!();
    println!(
        "MEASURED decode+touch, mix of {} messages ({} bytes), {} passes, best of {} rounds:",
        mix.len(),
        total_bytes(&mix),
        iters,
        rounds
    );
    println!(
        "  krpc          {:>12.0} msg/s  {:>8.1} MB/s",
        rate(t_ours),
        mbps(t_ours)
    );
    println!(
        "  serde_bencode {:>12.0} msg/s  {:>8.1} MB/s",
        rate(t_serde),
        mbps(t_serde)
    );
    println!(
        "RATIO ours/serde_bencode = {:.1}x",
        t_serde.as_secs_f64() / t_ours.as_secs_f64()
    );
}

fn main() {
    // `cargo test --benches` / `cargo bench -- --test` run everything once, quickly.
    let quick = std::env::args().any(|a| a == "--test");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40)
        .configure_from_args();
    bench_decode(&mut c);
    bench_encode(&mut c);
    c.final_summary();
    measured_ratio(quick);
}
