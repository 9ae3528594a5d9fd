//! Starts and talks to `tests/libtorrent/swarm.py`, a swarm of libtorrent sessions on loopback.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python with libtorrent: `$BITAGENT_PYTHON`, else the venv `scripts/test.sh` creates.
/// These tests are never skipped: without libtorrent they fail and say how to get it.
pub(crate) fn python() -> PathBuf {
    let p = std::env::var_os("BITAGENT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "no Python with libtorrent at {} — run ./scripts/test.sh (it creates .venv with libtorrent==2.1.1)",
        p.display()
    );
    p
}

/// A running swarm. Dropping it ends the process (by PID, the one we started).
pub(crate) struct Swarm {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The ready line.
    pub ready: Value,
}

impl Swarm {
    /// Starts `nodes` libtorrent sessions from `first_ip` on `port`, each seeding
    /// `torrents_per_node` torrents, plus a swarm torrent seeded by 5 of them. libtorrent's
    /// DoS blocker stays at its real default unless `extra` says otherwise.
    pub(crate) fn start(nodes: usize, first_ip: &str, port: u16, extra: &[&str]) -> Self {
        let mut cmd = Command::new(python());
        cmd.arg(root().join("tests/libtorrent/swarm.py"))
            .args([
                "--nodes",
                &nodes.to_string(),
                "--first-ip",
                first_ip,
                "--port",
                &port.to_string(),
            ])
            .args(["--torrents-per-node", "2"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start swarm.py");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("ready line");
        let ready: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad ready line {line:?}: {e}"));
        assert_eq!(ready["ready"], json!(true), "swarm not ready: {ready}");
        Self {
            child,
            stdin,
            stdout,
            ready,
        }
    }

    /// Sends one command and returns its one-line answer.
    pub(crate) fn cmd(&mut self, c: Value) -> Value {
        writeln!(self.stdin, "{c}").expect("write command");
        self.stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read answer");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad answer {line:?} to {c}: {e}"))
    }

    /// The DHT addresses of the sessions.
    pub(crate) fn node_addrs(&self) -> Vec<SocketAddr> {
        self.ready["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["addr"].as_str().unwrap().parse().unwrap())
            .collect()
    }

    /// Every torrent's infohash (hex), the swarm torrent included.
    pub(crate) fn infohashes(&self) -> Vec<String> {
        let mut v: Vec<String> = self.ready["torrents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["infohash"].as_str().unwrap().to_string())
            .collect();
        if let Some(s) = self.ready["swarm_torrent"]["infohash"].as_str() {
            v.push(s.to_string());
        }
        v
    }

    /// The swarm torrent's infohash and its seeders.
    pub(crate) fn swarm_torrent(&self) -> (String, Vec<SocketAddr>) {
        let t = &self.ready["swarm_torrent"];
        let seeders = t["seeders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().parse().unwrap())
            .collect();
        (t["infohash"].as_str().unwrap().to_string(), seeders)
    }

    /// How many sessions hold `addr` in their routing table.
    pub(crate) fn tables_holding(&mut self, addr: SocketAddr) -> usize {
        let t = self.cmd(json!({"cmd": "tables"}));
        let a = addr.to_string();
        t["tables"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|row| {
                row["entries"]
                    .as_array()
                    .is_some_and(|es| es.iter().any(|e| e["addr"] == json!(a)))
            })
            .count()
    }

    /// Packet summary of what the sessions received from `from` (an `ip:port` or a bare IP).
    pub(crate) fn packets(&mut self, from: &str) -> Value {
        self.cmd(json!({"cmd": "packets", "from": from}))
    }

    /// DoS-blocker bans observed.
    pub(crate) fn bans(&mut self) -> Vec<Value> {
        self.cmd(json!({"cmd": "bans"}))["bans"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({"cmd": "quit"}));
        let _ = self.stdin.flush();
        // Give it a moment to exit cleanly, then end it by PID.
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
