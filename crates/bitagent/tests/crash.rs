//! kill -9 during a crawl, then restart: the real binary against a `bitagent lab` swarm on
//! loopback (127.0.9.x only; the test is meant to run inside `unshare -n`).
//!
//! `bitagent run` is killed with SIGKILL [`KILLS`] times, each time at a moment drawn from a
//! seeded RNG (a number of committed torrents, then a delay of up to a second so the kill
//! lands anywhere relative to the writer's batches). After each kill:
//! - `bitagent stats --check --json` exits 0 and reports `"integrity": "ok"`;
//! - every infohash seen committed just before the kill is still stored, with the lab's name,
//!   size and file count;
//! - the restarted crawl resumes (the count grows past what survived).
//!
//! The last run crawls until [`FINAL_PERCENT`] of the lab is stored and is stopped with
//! SIGTERM a random moment later (fetches usually still in flight): it must exit 0 having
//! drained its queue (everything committed before stays, the count it logs on the way out is
//! the count stored, the database is consistent) and saved its routing table
//! (`dht_nodes.txt`). Every child is killed on every path (a guard), and every
//! wait has a deadline.
//!
//! The seed is printed; set `BITAGENT_TEST_SEED` to reproduce a run (and `CRASH_KEEP` to keep the
//! data directory and the logs).

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use store::{InfoHash, SqliteStore, Store as _};
use testkit::rng::{Rng as _, RngCore as _};

mod support;

const NODES: usize = 60;
const TORRENTS: usize = 600;
const LAB_FIRST_IP: &str = "127.0.9.10";
const RUN_BIND: &str = "127.0.9.1:0";
/// SIGKILLs before the final run.
const KILLS: usize = 3;
/// The final run must store at least this share of the lab (percent).
const FINAL_PERCENT: usize = 95;
/// Longest wait for the lab's ready line.
const LAB_READY_LIMIT: Duration = Duration::from_secs(60);
/// Longest wait for a run to reach its kill threshold.
const ROUND_LIMIT: Duration = Duration::from_secs(60);
/// Longest wait for the final run to store [`FINAL_PERCENT`] of the lab.
const FINAL_LIMIT: Duration = Duration::from_secs(90);
/// How often the database is polled.
const POLL: Duration = Duration::from_millis(200);

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("bitagent-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create a temp dir");
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("CRASH_KEEP").is_some() {
            eprintln!("kept {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A child process, killed (SIGKILL) and reaped when dropped unless it already exited.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Starts the binary with a clean environment (no BITAGENT_* variable, no user config:
    /// HOME points into the test's directory), stderr to `log`.
    fn spawn(name: &str, args: &[&str], home: &Path, log: PathBuf, stdout: Stdio) -> Self {
        let err = std::fs::File::create(&log).expect("create log file");
        let child = support::bitagent(home, args)
            .stdout(stdout)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self {
            name: name.to_string(),
            child,
            log,
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of its log, for failure messages.
    fn log_tail(&self, n: usize) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Panics (with its log) if it has exited.
    fn assert_running(&mut self) {
        if let Some(s) = self.child.try_wait().unwrap() {
            panic!("{} exited early ({s}):\n{}", self.name, self.log_tail(40));
        }
    }

    /// SIGKILL, then reap.
    fn kill9(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap")
    }

    /// SIGTERM, then wait up to `limit` for it to exit (SIGKILL and panic past that).
    fn terminate(&mut self, limit: Duration) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {} failed", self.pid());
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} did not exit within {limit:?} of SIGTERM:\n{}",
                    self.name,
                    self.log_tail(40)
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Runs the binary to completion (SIGKILL and panic past `limit`).
fn run_to_end(args: &[&str], home: &Path, limit: Duration) -> Output {
    let child = support::bitagent(home, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bitagent");
    let pid = child.id().to_string();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for bitagent"),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("bitagent {args:?} did not finish within {limit:?}");
        }
    }
}

/// The lab's torrents from its `--json-out` inventory: infohash to (name, size, files).
fn inventory(path: &Path) -> HashMap<InfoHash, (String, u64, usize)> {
    let text = std::fs::read_to_string(path).expect("lab inventory");
    let v: Value = serde_json::from_str(&text).expect("inventory is JSON");
    v["torrents"]
        .as_array()
        .expect("torrents")
        .iter()
        .map(|t| {
            let hash = hex_hash(t["info_hash"].as_str().unwrap());
            let name = t["name"].as_str().unwrap().to_string();
            let size = t["total_size"].as_u64().unwrap();
            let files = t["files"].as_array().unwrap().len();
            (hash, (name, size, files))
        })
        .collect()
}

fn hex_hash(s: &str) -> InfoHash {
    s.parse()
        .unwrap_or_else(|_| panic!("not a 40-hex infohash: {s}"))
}

/// Which of `hashes` the database holds now (a read-only look through a short-lived
/// connection; WAL lets it in beside the writer). Empty while the database does not exist.
fn committed(db: &Path, hashes: &[InfoHash]) -> Vec<InfoHash> {
    if !db.exists() {
        return Vec::new();
    }
    let store = SqliteStore::open(db).expect("open the database beside the crawler");
    let known = store.known(hashes).expect("read the database");
    hashes
        .iter()
        .zip(known)
        .filter(|(_, k)| *k)
        .map(|(h, _)| *h)
        .collect()
}

/// `bitagent stats --check --json`: must exit 0 with integrity "ok"; returns the torrents count.
fn check_integrity(data_dir: &Path, home: &Path) -> u64 {
    let dir = data_dir.to_str().unwrap();
    let out = run_to_end(
        &["stats", "--data-dir", dir, "--check", "--json"],
        home,
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stats --check failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout).expect("stats prints one JSON document");
    assert_eq!(v["integrity"], "ok", "{v}");
    v["torrents"].as_u64().expect("torrents count")
}

/// Every hash in `want` is stored, as the lab created it.
fn assert_stored(
    db: &Path,
    want: &[InfoHash],
    lab: &HashMap<InfoHash, (String, u64, usize)>,
    when: &str,
) {
    let store = SqliteStore::open(db).expect("open the database");
    for h in want {
        let row = store
            .get(h)
            .unwrap()
            .unwrap_or_else(|| panic!("{h} was committed before {when} and is gone"));
        let (name, size, files) = &lab[h];
        assert_eq!(&row.name, name, "name of {h}");
        assert_eq!(row.total_size, *size, "size of {h}");
        assert_eq!(row.file_count as usize, *files, "file count of {h}");
    }
}

/// Starts `bitagent run` on the lab and waits until it has opened its database.
fn start_run(n: usize, data_dir: &Path, logs: &Path, bootstrap: &str, seed: u64) -> Proc {
    let dir = data_dir.to_str().unwrap().to_string();
    let seed = seed.to_string();
    let args = [
        "run",
        "--data-dir",
        &dir,
        "--bootstrap",
        bootstrap,
        "--bind",
        RUN_BIND,
        "--http",
        "off",
        "--stall-after",
        "3",
        "--status",
        "log",
        "--status-interval",
        "5",
        "--seed",
        &seed,
    ];
    let mut run = Proc::spawn(
        &format!("run #{n}"),
        &args,
        data_dir.parent().unwrap(),
        logs.join(format!("run-{n}.log")),
        Stdio::null(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !run.log_text().contains("BitAgent crawling") {
        run.assert_running();
        assert!(
            Instant::now() < deadline,
            "run #{n} did not start within 30 s:\n{}",
            run.log_tail(40)
        );
        thread::sleep(Duration::from_millis(50));
    }
    run
}

/// Polls until at least `want` of `hashes` are committed (or the deadline); returns the
/// committed ones and when the first one beyond `before` appeared.
fn wait_committed(
    run: &mut Proc,
    db: &Path,
    hashes: &[InfoHash],
    before: usize,
    want: usize,
    limit: Duration,
) -> (Vec<InfoHash>, Option<Duration>) {
    let start = Instant::now();
    let mut resumed = None;
    loop {
        run.assert_running();
        let got = committed(db, hashes);
        if resumed.is_none() && got.len() > before {
            resumed = Some(start.elapsed());
        }
        if got.len() >= want || start.elapsed() >= limit {
            return (got, resumed);
        }
        thread::sleep(POLL);
    }
}

/// A duration for the report ("-" when there is none).
fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".into(), |d| format!("{:.1}s", d.as_secs_f64()))
}

#[test]
fn kill_9_during_a_crawl_loses_nothing_committed() {
    let seed = testkit::rng::seed_or(0x000c_4a54);
    eprintln!("crash seed {seed} (set BITAGENT_TEST_SEED to reproduce another)");
    let _seed = testkit::SeedGuard::new("kill_9_during_a_crawl_loses_nothing_committed", seed);
    // The kill moments must be reproducible.
    let mut rng = testkit::seeded(seed);
    let t0 = Instant::now();
    let root = TempDir::new("crash");
    let data_dir = root.path().join("data");
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let db = data_dir.join("bitagent.sqlite3");
    let inventory_path = root.path().join("lab.json");

    // The lab: its ready line (stdout) carries the bootstrap address and the infohashes.
    let (nodes, torrents) = (NODES.to_string(), TORRENTS.to_string());
    let lab_seed = seed.to_string();
    let mut lab = Proc::spawn(
        "lab",
        &[
            "lab",
            "--nodes",
            &nodes,
            "--torrents",
            &torrents,
            "--first-ip",
            LAB_FIRST_IP,
            "--port",
            "0",
            "--sample-interval",
            "2",
            "--seed",
            &lab_seed,
            "--json-out",
            inventory_path.to_str().unwrap(),
        ],
        root.path(),
        logs.join("lab.log"),
        Stdio::piped(),
    );
    let stdout = lab.child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready: Value = match lines.recv_timeout(LAB_READY_LIMIT) {
        Ok(line) => serde_json::from_str(&line).expect("the ready line is JSON"),
        Err(_) => panic!("no lab ready line in time:\n{}", lab.log_tail(40)),
    };
    assert_eq!(ready["event"], "ready", "{ready}");
    let bootstrap = ready["bootstrap"].as_str().unwrap().to_string();
    let hashes: Vec<InfoHash> = ready["infohashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex_hash(h.as_str().unwrap()))
        .collect();
    assert_eq!(hashes.len(), TORRENTS);
    let lab_torrents = inventory(&inventory_path);
    assert_eq!(lab_torrents.len(), TORRENTS);
    eprintln!("lab ready in {:.1?} (bootstrap {bootstrap})", t0.elapsed());

    // Kill rounds.
    let mut survived = 0usize;
    for round in 1..=KILLS {
        let threshold = (survived + rng.random_range(50..160usize)).min(TORRENTS * 4 / 5);
        let extra = Duration::from_millis(rng.random_range(0..1000));
        let started = Instant::now();
        let mut run = start_run(round, &data_dir, &logs, &bootstrap, rng.next_u64());
        let (_, resumed) = wait_committed(&mut run, &db, &hashes, survived, threshold, ROUND_LIMIT);
        let reached = started.elapsed();
        thread::sleep(extra);
        // What is committed just before the kill must survive it (more may be committed
        // between this read and the kill; that only adds).
        let before_kill = committed(&db, &hashes);
        assert!(
            before_kill.len() >= threshold,
            "run #{round} committed only {} of {threshold} within {ROUND_LIMIT:?}:\n{}",
            before_kill.len(),
            run.log_tail(40)
        );
        let killed_at = started.elapsed();
        let status = run.kill9();
        assert!(!status.success(), "SIGKILL ends the process: {status}");
        drop(run);

        let t = Instant::now();
        let count = check_integrity(&data_dir, root.path());
        let after = committed(&db, &hashes);
        assert_stored(&db, &before_kill, &lab_torrents, "the kill");
        assert_eq!(count as usize, after.len(), "no row the lab did not create");
        eprintln!(
            "kill #{round}: threshold {threshold} reached {reached:.1?} after start \
             (first new commit after {}), +{extra:?}, SIGKILL at {killed_at:.1?} \
             with {} committed; after restart-check: {} stored, integrity ok ({:.1?})",
            secs(resumed),
            before_kill.len(),
            after.len(),
            t.elapsed()
        );
        assert!(
            after.len() > survived,
            "run #{round} resumed: {} stored, {survived} before it",
            after.len()
        );
        survived = after.len();
    }

    // The final run: crawl until FINAL_PERCENT are stored, then SIGTERM at a random moment
    // shortly after (fetches are usually still in flight: the drain is exercised).
    let want = (TORRENTS * FINAL_PERCENT).div_ceil(100);
    let extra = Duration::from_millis(rng.random_range(0..1000));
    let started = Instant::now();
    let mut run = start_run(KILLS + 1, &data_dir, &logs, &bootstrap, rng.next_u64());
    let (got, resumed) = wait_committed(&mut run, &db, &hashes, survived, want, FINAL_LIMIT);
    let crawled = started.elapsed();
    assert!(
        got.len() >= want,
        "the final run stored only {} of {TORRENTS} within {FINAL_LIMIT:?} (seed {seed}):\n{}",
        got.len(),
        run.log_tail(40)
    );
    thread::sleep(extra);
    let before_term = committed(&db, &hashes);
    let t = Instant::now();
    let status = run.terminate(Duration::from_secs(30));
    let stop_time = t.elapsed();
    let log = run.log_text();
    drop(run);
    assert!(
        status.success(),
        "SIGTERM is a clean exit: {status}\n{}",
        log.lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
    let count = check_integrity(&data_dir, root.path());
    let after = committed(&db, &hashes);
    assert_stored(&db, &before_term, &lab_torrents, "SIGTERM");
    assert_eq!(count as usize, after.len(), "no row the lab did not create");
    // Drained: the count the crawler logged on its way out is what the database holds.
    let logged = log
        .lines()
        .rev()
        .find(|l| l.contains("stopped"))
        .and_then(|l| l.split(" stored=").nth(1))
        .map(|s| s.trim_start_matches("Some("))
        .and_then(|s| {
            let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().ok()
        });
    assert_eq!(
        logged,
        Some(count),
        "the final log line reports what was stored:\n{}",
        log.lines().rev().take(5).collect::<Vec<_>>().join("\n")
    );
    let nodes_file = data_dir.join("dht_nodes.txt");
    let saved = std::fs::read_to_string(&nodes_file).unwrap_or_default();
    let saved_nodes = saved.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(
        saved_nodes > 0,
        "the routing table was saved to {}",
        nodes_file.display()
    );
    eprintln!(
        "final run: first new commit after {}, {} of {TORRENTS} stored after \
         {crawled:.1?}; SIGTERM +{extra:?} later with {} committed, exit 0 after \
         {stop_time:.1?}, {} stored ({} committed during shutdown), integrity ok, \
         {saved_nodes} nodes saved",
        secs(resumed),
        got.len(),
        before_term.len(),
        after.len(),
        after.len() - before_term.len()
    );

    let status = lab.terminate(Duration::from_secs(30));
    assert!(
        status.success(),
        "the lab stops cleanly on SIGTERM: {status}"
    );
    eprintln!("total {:.1?}", t0.elapsed());
}
