//! The `bitagent` binary end to end, on loopback only (127.0.0.0/8). Every wait is bounded.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::BIN;
const HASH: &str = "abababababababababababababababababababab";
const PEER: &str = "127.0.0.9:6881";

/// A running `bitagent node --json`, killed by PID when dropped.
struct NodeProc {
    child: Child,
    lines: mpsc::Receiver<String>,
    addr: SocketAddr,
    id: String,
}

impl NodeProc {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args([
                "node",
                "--bind",
                "127.0.0.1:0",
                "--bootstrap",
                "127.0.0.1:1",
            ])
            .args(["--json", "--local-peer", &format!("{HASH}@{PEER}")])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bitagent node");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut node = Self {
            child,
            lines,
            addr: "0.0.0.0:0".parse().unwrap(),
            id: String::new(),
        };
        let first = node.next_json(Duration::from_secs(10));
        assert_eq!(first["event"], "listening", "{first}");
        node.addr = first["addr"].as_str().unwrap().parse().unwrap();
        node.id = first["id"].as_str().unwrap().to_string();
        assert_eq!(node.id.len(), 40);
        node
    }

    fn next_json(&self, limit: Duration) -> Value {
        let line = self
            .lines
            .recv_timeout(limit)
            .expect("node printed no line in time");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Waits for the process to exit by itself.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "node did not exit in time");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every line printed from now until the pipe closes (bounded).
    fn rest(&self, limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        let mut out = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => out.push(serde_json::from_str(&l).unwrap()),
                Err(_) => break,
            }
        }
        out
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Runs the binary to completion, killing it if it overruns `limit`.
fn run(args: &[&str], limit: Duration) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bitagent");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            panic!("bitagent {args:?} did not finish within {limit:?}");
        }
    }
}

fn run_json(args: &[&str]) -> Value {
    let out = run(args, Duration::from_secs(20));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON doc ({e}): {stdout}"))
}

#[test]
fn ping_find_node_and_sample_a_running_node() {
    let node = NodeProc::start(&["--duration", "30"]);
    let addr = node.addr.to_string();

    let pong = run_json(&["dht", "ping", &addr, "--bind", "127.0.0.2:0", "--json"]);
    assert_eq!(pong["query"], "ping");
    assert_eq!(pong["id"], node.id.as_str());
    assert_eq!(pong["from"], addr.as_str());
    assert_eq!(pong["version"]["text"], "BA 0001");
    let us = pong["local"]["addr"].as_str().unwrap();
    assert!(us.starts_with("127.0.0.2:"), "{pong}");
    assert_eq!(pong["our_addr"], us);

    let target = "0000000000000000000000000000000000000001";
    let found = run_json(&[
        "dht",
        "find-node",
        &addr,
        "--target",
        target,
        "--bind",
        "127.0.0.2:0",
        "--json",
    ]);
    assert_eq!(found["query"], "find_node");
    assert_eq!(found["id"], node.id.as_str());
    assert!(found["nodes"].is_array());

    let sample = run_json(&["dht", "sample", &addr, "--bind", "127.0.0.3:0", "--json"]);
    assert_eq!(sample["query"], "sample_infohashes");
    assert_eq!(sample["id"], node.id.as_str());
    assert_eq!(sample["samples"], serde_json::json!([HASH]));
    assert_eq!(sample["num"], 1);
    assert!(sample["interval"].as_i64().unwrap() > 0);
}

#[test]
fn get_peers_lookup_through_a_running_node() {
    let node = NodeProc::start(&["--duration", "30"]);
    let addr = node.addr.to_string();
    let r = run_json(&[
        "dht",
        "get-peers",
        HASH,
        "--bootstrap",
        &addr,
        "--scrape",
        "--bind",
        "127.0.0.4:0",
        "--timeout",
        "15",
        "--json",
    ]);
    assert_eq!(r["query"], "get_peers");
    assert_eq!(r["info_hash"], HASH);
    assert_eq!(r["peers"], serde_json::json!([PEER]));
    assert!(r["responses"].as_u64().unwrap() >= 1);
    assert_eq!(r["bootstrap"]["responses"], 1);
    assert_eq!(r["closest"][0]["id"], node.id.as_str());
    assert!(r["closest"][0]["token"].is_string());
}

#[test]
fn human_readable_output() {
    let node = NodeProc::start(&["--duration", "30"]);
    let addr = node.addr.to_string();
    let out = run(
        &["dht", "sample", &addr, "--bind", "127.0.0.2:0"],
        Duration::from_secs(20),
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("{addr} answered sample_infohashes")),
        "{text}"
    );
    assert!(text.contains(&node.id), "{text}");
    assert!(text.contains(HASH), "{text}");
    assert!(text.contains("BA 0001"), "{text}");
}

#[test]
fn node_prints_status_lines_and_stops_after_duration() {
    let mut node = NodeProc::start(&["--duration", "2", "--status-interval", "0.5"]);
    let status = node.wait(Duration::from_secs(15));
    assert!(status.success(), "{status}");
    let lines = node.rest(Duration::from_secs(5));
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert!(events.contains(&"status"), "{events:?}");
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "shutdown");
    assert_eq!(last["reason"], "duration elapsed");
    assert_eq!(last["id"], node.id.as_str());
    for key in [
        "routing_table_nodes",
        "in_flight",
        "queries_sent",
        "queries_received",
        "replies",
        "timeouts",
        "malformed",
    ] {
        assert!(last[key].is_u64(), "{key} missing in {last}");
    }
}

#[test]
fn node_exits_cleanly_on_sigterm() {
    let mut node = NodeProc::start(&["--duration", "60"]);
    // Prove it is serving before stopping it.
    let pong = run_json(&[
        "dht",
        "ping",
        &node.addr.to_string(),
        "--bind",
        "127.0.0.2:0",
        "--json",
    ]);
    assert_eq!(pong["id"], node.id.as_str());
    let pid = node.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = node.wait(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    let lines = node.rest(Duration::from_secs(5));
    let last = lines.last().expect("a shutdown line");
    assert_eq!(last["event"], "shutdown");
    assert_eq!(last["reason"], "SIGTERM");
    assert!(last["queries_received"].as_u64().unwrap() >= 1);
}

#[test]
fn read_only_node_does_not_answer() {
    let node = NodeProc::start(&["--duration", "30", "--read-only"]);
    let out = run(
        &[
            "dht",
            "ping",
            &node.addr.to_string(),
            "--bind",
            "127.0.0.2:0",
            "--timeout",
            "1",
            "--json",
        ],
        Duration::from_secs(15),
    );
    assert!(!out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["kind"], "timeout", "{doc}");
}

#[test]
fn unanswered_query_is_a_timeout_error() {
    let silent = UdpSocket::bind("127.0.0.5:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let out = run(
        &[
            "dht",
            "ping",
            &addr,
            "--bind",
            "127.0.0.2:0",
            "--timeout",
            "1",
        ],
        Duration::from_secs(15),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("no answer from {addr}")), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_addr_is_a_clear_error() {
    for bad in ["garbage", "127.0.0.1", "127.0.0.1:99999"] {
        let out = run(&["dht", "ping", bad], Duration::from_secs(15));
        assert_eq!(out.status.code(), Some(1), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error: bad ADDR"), "{bad}: {err}");
        assert!(err.contains(bad), "{bad}: {err}");
    }
    let out = run(
        &["dht", "find-node", "nonsense", "--json"],
        Duration::from_secs(15),
    );
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["kind"], "bad_address");
    assert!(
        doc["error"].as_str().unwrap().contains("HOST:PORT"),
        "{doc}"
    );

    // Usage errors are clap's: exit code 2.
    let out = run(
        &[
            "dht",
            "get-peers",
            "not-a-hash",
            "--bootstrap",
            "127.0.0.1:1",
        ],
        Duration::from_secs(15),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["dht", "get-peers", HASH], Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(2), "--bootstrap is required");
}

/// `bitagent search 1080p | head -1`, `bitagent stats | head -1`: a reader that goes away is a
/// normal end for a command-line tool. Stdout here is a pipe whose read end is already closed,
/// so the very first write fails with EPIPE, deterministically: the command must exit with
/// status 0 and no panic or backtrace on stderr.
#[test]
fn closed_stdout_pipe_is_a_quiet_success() {
    use store::{FileEntry, InfoHash, SqliteStore, Store, TorrentRecord};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let data_arg = data.to_str().expect("a UTF-8 temporary path");
    {
        let mut s = SqliteStore::open(data.join("bitagent.sqlite3")).unwrap();
        let records: Vec<TorrentRecord> = (1..=50u8)
            .map(|n| TorrentRecord {
                info_hash: InfoHash::v1([n; 20]),
                name: format!("Some.Movie.{n}.1080p.BluRay.x264-GRP"),
                total_size: 1 << 30,
                files: vec![FileEntry {
                    path: format!("Some.Movie.{n}.1080p.mkv"),
                    size: 1 << 30,
                }],
                file_count: 1,
                seen_at: 1_700_000_000,
                ..TorrentRecord::default()
            })
            .collect();
        s.put_batch(&records).unwrap();
    }
    for args in [
        &["search", "1080p", "--limit", "50"][..],
        &["search", "1080p", "--json"],
        &["stats"],
        &["stats", "--json"],
        &["config"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let child = support::bitagent(data, &[&["--data-dir", data_arg][..], args].concat())
            .stdout(writer)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bitagent");
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            out.status.success(),
            "{args:?} exited with {}: {stderr}",
            out.status
        );
    }
}

/// `bitagent config` prints every knob of the README's configuration table (which a unit test
/// keeps identical to the knob table), each on a `key = default` line, and describes only the
/// HTTP endpoints that exist (`/metrics`, `/healthz`), not an HTTP API.
#[test]
fn config_prints_every_knob_and_only_existing_endpoints() {
    let readme = include_str!("../../../README.md");
    let begin = readme
        .find("<!-- config knobs: begin")
        .expect("README.md has the config knobs table");
    let end = readme[begin..].find("<!-- config knobs: end -->").unwrap() + begin;
    let keys: Vec<&str> = readme[begin..end]
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert!(keys.len() >= 19, "{keys:?}");

    let out = run(&["config"], Duration::from_secs(15));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for key in keys {
        let line = if key == "data_dir" {
            format!("\n# {key} = ")
        } else {
            format!("\n{key} = ")
        };
        assert!(text.contains(&line), "{key} missing from `bitagent config`");
    }
    assert!(!text.contains("HTTP API"), "{text}");
    assert!(
        text.contains("/metrics") && text.contains("/healthz"),
        "{text}"
    );
}
