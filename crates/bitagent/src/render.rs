//! How results look: one JSON value per result for scripts, and text for people.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use dht::{LookupResult, NodeInfo, Reply};
use net::{NodeStats, Response};
use serde_json::{Value, json};

/// A KRPC `v`: two client letters and two version bytes, e.g. `LT 0102`, else hex.
pub(crate) fn version_text(v: &[u8]) -> String {
    if v.len() == 4 && v[..2].iter().all(u8::is_ascii_alphanumeric) {
        format!("{}{} {}", v[0] as char, v[1] as char, hex::encode(&v[2..]))
    } else {
        hex::encode(v)
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn node_json(n: &NodeInfo) -> Value {
    json!({ "id": n.id.to_hex(), "addr": n.addr.to_string() })
}

fn addrs_json(a: &[SocketAddr]) -> Value {
    a.iter().map(ToString::to_string).collect()
}

/// Everything a direct query's answer carried.
pub(crate) fn reply_json(method: &str, asked: SocketAddr, local: &Value, r: &Response) -> Value {
    let p: &Reply = &r.reply;
    json!({
        "query": method,
        "addr": asked.to_string(),
        "from": r.from.to_string(),
        "rtt_ms": ms(r.rtt),
        "id": p.id.to_hex(),
        "version": p.version.as_ref().map(|v| json!({ "hex": hex::encode(v), "text": version_text(v) })),
        "our_addr": p.our_addr.map(|a| a.to_string()),
        "nodes": p.nodes.iter().map(node_json).collect::<Vec<_>>(),
        "peers": addrs_json(&p.peers),
        "token": p.token.as_ref().map(hex::encode),
        "samples": p.samples.iter().map(|h| h.to_hex()).collect::<Vec<_>>(),
        "interval": p.interval,
        "num": p.num,
        "scrape_seeds": p.scrape_seeds,
        "scrape_peers": p.scrape_peers,
        "local": local,
    })
}

/// The same, for people.
pub(crate) fn reply_text(method: &str, r: &Response) -> String {
    let p = &r.reply;
    let mut s = String::new();
    let _ = writeln!(s, "{} answered {method} in {:.1} ms", r.from, ms(r.rtt));
    let _ = writeln!(s, "  id        {}", p.id);
    if let Some(v) = &p.version {
        let _ = writeln!(s, "  version   {} ({})", version_text(v), hex::encode(v));
    }
    if let Some(a) = p.our_addr {
        let _ = writeln!(s, "  sees us   {a}");
    }
    if let Some(t) = &p.token {
        let _ = writeln!(s, "  token     {}", hex::encode(t));
    }
    if let Some(i) = p.interval {
        let _ = writeln!(s, "  interval  {i} s");
    }
    if let Some(n) = p.num {
        let _ = writeln!(s, "  num       {n} infohashes stored");
    }
    if p.scrape_seeds.is_some() || p.scrape_peers.is_some() {
        let _ = writeln!(
            s,
            "  scrape    ~{} seeds, ~{} downloaders",
            opt_f(p.scrape_seeds),
            opt_f(p.scrape_peers)
        );
    }
    list(&mut s, "samples", p.samples.iter().map(ToString::to_string));
    list(&mut s, "peers", p.peers.iter().map(ToString::to_string));
    list(
        &mut s,
        "nodes",
        p.nodes.iter().map(|n| format!("{} {}", n.id, n.addr)),
    );
    s
}

/// An iterative get_peers lookup, with how the bootstrap went.
pub(crate) fn lookup_json(
    bootstrap: &Value,
    r: &LookupResult,
    elapsed: Duration,
    local: &Value,
) -> Value {
    json!({
        "query": "get_peers",
        "info_hash": r.target.to_hex(),
        "peers": addrs_json(&r.peers),
        "scrape_seeds": r.scrape_seeds,
        "scrape_peers": r.scrape_peers,
        "closest": r.closest.iter().map(|(n, t)| json!({
            "id": n.id.to_hex(),
            "addr": n.addr.to_string(),
            "token": t.as_ref().map(hex::encode),
        })).collect::<Vec<_>>(),
        "queries": r.queries,
        "responses": r.responses,
        "elapsed_ms": ms(elapsed),
        "bootstrap": bootstrap,
        "local": local,
    })
}

pub(crate) fn lookup_text(r: &LookupResult, elapsed: Duration) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "get_peers {}: {} peers from {} answers to {} queries in {:.1} s",
        r.target,
        r.peers.len(),
        r.responses,
        r.queries,
        elapsed.as_secs_f64()
    );
    if r.scrape_seeds.is_some() || r.scrape_peers.is_some() {
        let _ = writeln!(
            s,
            "  scrape    ~{} seeds, ~{} downloaders",
            opt_f(r.scrape_seeds),
            opt_f(r.scrape_peers)
        );
    }
    list(&mut s, "peers", r.peers.iter().map(ToString::to_string));
    list(
        &mut s,
        "closest",
        r.closest.iter().map(|(n, t)| {
            let token = t.as_ref().map(hex::encode).unwrap_or_else(|| "-".into());
            format!("{} {} token {token}", n.id, n.addr)
        }),
    );
    s
}

fn opt_f(v: Option<f64>) -> String {
    // Estimates can come out slightly negative for empty filters; show those as 0.
    v.map_or_else(
        || "?".into(),
        |v| format!("{:.0}", if v > 0.0 { v } else { 0.0 }),
    )
}

fn list(s: &mut String, name: &str, items: impl ExactSizeIterator<Item = String>) {
    if items.len() == 0 {
        return;
    }
    let _ = writeln!(s, "  {name} ({}):", items.len());
    for i in items {
        let _ = writeln!(s, "    {i}");
    }
}

/// The counters of a node's status line.
pub(crate) fn status_json(event: &str, st: &NodeStats) -> Value {
    let e = &st.engine;
    json!({
        "event": event,
        "uptime_s": st.uptime.as_secs(),
        "id": st.id.to_hex(),
        "addr": st.local_addr.to_string(),
        "external_ip": st.external_ip.map(|i| i.to_string()),
        "routing_table_nodes": st.routing_table_nodes,
        "replacement_nodes": st.replacement_nodes,
        "in_flight": st.in_flight,
        "queued": st.queued,
        "lookups": st.active_lookups,
        "stored_infohashes": st.stored_infohashes,
        "queries_sent": e.queries_sent.total(),
        "queries_received": e.queries_received.total(),
        "queries_answered": e.queries_answered,
        "replies": e.replies,
        "errors_received": e.errors_received,
        "timeouts": e.timeouts,
        "malformed": e.malformed,
        "unsolicited": e.unsolicited,
        "rx_datagrams": e.rx_datagrams,
        "tx_datagrams": e.tx_datagrams,
        "send_errors": st.driver.send_errors,
        "events_dropped": st.driver.events_dropped + e.events_dropped,
    })
}

pub(crate) fn status_text(st: &NodeStats) -> String {
    let e = &st.engine;
    format!(
        "status: {} nodes, {} in flight, {} queued, {} lookups | sent {} received {} replies {} \
         timeouts {} malformed {} | up {} s",
        st.routing_table_nodes,
        st.in_flight,
        st.queued,
        st.active_lookups,
        e.queries_sent.total(),
        e.queries_received.total(),
        e.replies,
        e.timeouts,
        e.malformed,
        st.uptime.as_secs(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version_text(b"LT\x01\x02"), "LT 0102");
        assert_eq!(version_text(b"\x00\x01"), "0001");
        assert_eq!(version_text(b""), "");
    }
}

/// Bytes in binary units with one decimal: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod human_bytes_tests {
    use super::human_bytes;

    #[test]
    fn units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(10 << 20), "10.0 MiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }
}
