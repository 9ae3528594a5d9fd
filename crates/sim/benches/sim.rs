//! Simulator throughput: builds a network (default 5,000 nodes), bootstraps it, then runs a
//! workload of `find_node` lookups from random nodes plus a BEP-51 crawl from one read-only
//! node for a bounded virtual duration, and reports simulated messages per wall-clock second
//! along with the lookups' exactness against the brute-force oracle.
//!
//! `cargo bench -p sim --bench sim`. Environment: `SIM_NODES` (default 5000), `SIM_SEED`
//! (default 1), `SIM_SECS` (workload virtual seconds, default 60), `SIM_LOOKUPS_PER_SEC`
//! (default 50).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dht::LookupId;
use infohash::InfoHash;
use krpc::Id20;
use sim::{Bep51Walk, Network, SimConfig};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time this process has run, from /proc/self/schedstat (nanoseconds on CPU): unlike the
/// wall clock it does not count time other processes on a busy machine took from us.
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` passes no
    // arguments, and gets a small smoke run instead (200 nodes, 10 s of workload).
    let smoke = !std::env::args().any(|a| a == "--bench");
    let nodes: usize = if smoke { 200 } else { env("SIM_NODES", 5000) };
    let seed: u64 = env("SIM_SEED", 1);
    let workload_secs: u64 = if smoke { 10 } else { env("SIM_SECS", 60) };
    let lookups_per_sec: u64 = env("SIM_LOOKUPS_PER_SEC", 50);

    let mut cfg = SimConfig::new(nodes, seed);
    cfg.bootstrap_spacing = Duration::from_millis(5);
    println!(
        "sim bench: {nodes} nodes, seed {seed}, link {:?} + up to {:?} jitter, loss {}",
        cfg.link.latency, cfg.link.jitter, cfg.link.loss
    );

    let wall = Instant::now();
    let mut net = Network::new(cfg);

    // Phase 1: join one by one, then settle.
    net.bootstrap_all();
    net.run_for(Duration::from_secs(30));
    let boot_wall = wall.elapsed();
    let boot_msgs = net.messages_delivered();
    let boot_virtual = net.now();
    let tables: usize = (0..net.len())
        .map(|i| net.engine(i).routing_table().len())
        .sum();
    println!(
        "bootstrap: {:.1} s virtual, {boot_msgs} messages, {:.2} s wall, mean table {:.1}",
        boot_virtual.as_secs_f64(),
        boot_wall.as_secs_f64(),
        tables as f64 / net.len() as f64
    );

    // Stored infohashes for the crawl: 10% of nodes hold 1..=10 each.
    let peer = SocketAddr::from(([192, 0, 2, 1], 51413));
    let mut stored = BTreeSet::new();
    for _ in 0..nodes / 10 {
        let i = net.random_full_node();
        let count = 1 + (net.random_id().0[0] % 10) as usize;
        for _ in 0..count {
            let ih = InfoHash::from(net.random_id());
            if net.command(i, |e, now| e.add_local_peer(now, ih, peer, false)) {
                stored.insert(ih);
            }
        }
    }
    let crawler = net.add_node(true);
    let routers = [net.random_full_node(), net.random_full_node()];
    net.bootstrap_node(crawler, &routers);
    net.run_for(Duration::from_secs(2));
    let mut walk = Bep51Walk::new(&net, crawler, 32);

    // Phase 2: lookups at a steady rate plus the crawl, in 100 ms ticks.
    let work_start = net.now();
    let work_wall = Instant::now();
    let work_msgs = net.messages_delivered();
    let end = work_start + Duration::from_secs(workload_secs);
    let tick = Duration::from_millis(100);
    let per_tick = lookups_per_sec as f64 / 10.0;
    let mut owed = 0.0;
    let mut pending: Vec<(usize, LookupId)> = Vec::new();
    let (mut started, mut refused) = (0u64, 0u64);
    let mut scores = Vec::new();
    let collect = |net: &mut Network, pending: &mut Vec<(usize, LookupId)>, scores: &mut Vec<_>| {
        pending.retain(|&(i, id)| match net.take_lookup(i, id) {
            Some(r) => {
                scores.push(net.score(i, &r));
                false
            }
            None => true,
        });
    };
    while net.now() < end {
        owed += per_tick;
        while owed >= 1.0 {
            owed -= 1.0;
            let from = net.random_full_node();
            let target: Id20 = net.random_id();
            match net.command(from, |e, now| e.find_node(now, target)) {
                Ok(id) => {
                    pending.push((from, id));
                    started += 1;
                }
                Err(_) => refused += 1,
            }
        }
        let t = net.now() + tick;
        walk.run(&mut net, t);
        net.run_until(t);
        collect(&mut net, &mut pending, &mut scores);
    }
    // Let the last lookups finish (the crawl stops here).
    let drain_until = net.now() + Duration::from_secs(30);
    while !pending.is_empty() && net.now() < drain_until {
        net.run_for(tick);
        collect(&mut net, &mut pending, &mut scores);
    }
    let work_wall = work_wall.elapsed();
    let work_msgs = net.messages_delivered() - work_msgs;

    let total_wall = wall.elapsed().as_secs_f64();
    let msgs = net.messages_delivered();
    let done = scores.len();
    let exact = scores.iter().filter(|s| s.exact).count() as f64 / done.max(1) as f64;
    let overlap = scores.iter().map(|s| s.ratio()).sum::<f64>() / done.max(1) as f64;
    let ws = walk.stats();
    let covered = walk.found().intersection(&stored).count();
    let st = net.stats();
    println!(
        "workload: {workload_secs} s virtual, {work_msgs} messages, {:.2} s wall ({:.0} msg/s)",
        work_wall.as_secs_f64(),
        work_msgs as f64 / work_wall.as_secs_f64()
    );
    println!(
        "lookups: {done} completed of {started} started ({refused} refused, {} unfinished); \
         exact {:.1}%, mean overlap with the true K closest {:.4}",
        pending.len(),
        exact * 100.0,
        overlap
    );
    println!(
        "bep51 crawl: {} queries, {} replies, {} nodes seen, {covered}/{} stored infohashes \
         ({:.1}%)",
        ws.queries,
        ws.replies,
        ws.nodes_seen,
        stored.len(),
        100.0 * covered as f64 / stored.len().max(1) as f64
    );
    println!("net: {st:?}");
    println!("---");
    println!("nodes:                       {}", net.len());
    println!("messages delivered:          {msgs}");
    println!("datagrams dropped:           {}", net.datagrams_dropped());
    println!("wall-clock seconds:          {total_wall:.2}");
    println!(
        "messages per wall second:    {:.0}",
        msgs as f64 / total_wall
    );
    println!(
        "virtual seconds simulated:   {:.1}",
        net.now().as_secs_f64()
    );
    println!(
        "virtual/wall speed-up:       {:.1}x",
        net.now().as_secs_f64() / total_wall
    );
    if let Some(cpu) = cpu_seconds() {
        println!("cpu seconds:                 {cpu:.2}");
        println!("messages per cpu second:     {:.0}", msgs as f64 / cpu);
    }
    println!("lookups completed:           {done}");
    println!("lookup exactness (exact):    {:.1}%", exact * 100.0);
    println!("lookup mean overlap:         {overlap:.4}");
    println!("trace hash:                  {:016x}", net.trace_hash());
    match peak_memory_kib() {
        Some(kib) => println!(
            "peak memory (VmHWM):         {:.0} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("peak memory (VmHWM):         n/a"),
    }
}
