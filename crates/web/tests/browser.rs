//! The web UI in a real browser: Debian's Chromium, headless, driven by Playwright for
//! Python (`tests/browser/ui_test.py`), against a server whose store holds hostile names.
//!
//! The script searches, opens a detail page, logs in, deletes a torrent and sees it gone;
//! visits every page that shows a hostile name and checks that nothing ran and nothing was
//! injected; checks the CSP header, search and detail without JavaScript, and a phone-sized
//! viewport. See the script's docstring.
//!
//! Needs `$BITAGENT_PYTHON` (default: the workspace's `.venv/bin/python`) with Playwright,
//! and `$BITAGENT_CHROMIUM` (default `/usr/bin/chromium`); `scripts/test.sh` installs both.
//! Missing either is a failure that says so, never a skip. Run it where only loopback
//! exists: `unshare -n bash -c 'ip link set lo up && exec cargo test -p web --test browser'`.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{KEY, TestServer, corpus};
use web::{CrawlerStatus, Options};

/// The script bounds itself (240 s); this bounds the script.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    std::env::var_os("BITAGENT_PYTHON")
        .map_or_else(|| workspace().join(".venv/bin/python"), PathBuf::from)
}

fn chromium() -> PathBuf {
    std::env::var_os("BITAGENT_CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

/// Fails (never skips) when the browser or its driver is missing, saying how to get them.
fn require_tools() -> (PathBuf, PathBuf) {
    let (py, chrome) = (python(), chromium());
    let hint = "scripts/test.sh installs them (Debian's chromium; Playwright into .venv); \
                or set BITAGENT_PYTHON and BITAGENT_CHROMIUM";
    assert!(
        py.exists(),
        "the browser test needs Python with Playwright at {} ($BITAGENT_PYTHON): {hint}",
        py.display()
    );
    let import = Command::new(&py)
        .args(["-c", "import playwright.sync_api"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {hint}", py.display()));
    assert!(
        import.status.success(),
        "{} cannot import Playwright ({}): {hint}",
        py.display(),
        String::from_utf8_lossy(&import.stderr).trim()
    );
    assert!(
        chrome.exists(),
        "the browser test needs Chromium at {} ($BITAGENT_CHROMIUM): {hint}",
        chrome.display()
    );
    (py, chrome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_in_a_real_browser() {
    let (py, chrome) = require_tools();
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(KEY);
    options.open_reads = true;
    options.saved_searches = Some(dir.path().join("saved-searches.json"));
    options.history_every = Duration::from_millis(50);
    let records = corpus();
    let server = TestServer::start_with(&records, options).await;
    *server.ops.crawler.lock().unwrap() = Some(CrawlerStatus {
        uptime_secs: 600,
        routing_table_nodes: 250,
        crawl_table: [40, 10, 5],
        sampling: true,
        sampled: 1_000,
        persisted: 12,
        fetch_outcomes: vec![("ok".into(), 12), ("timeout".into(), 3)],
        ..CrawlerStatus::default()
    });

    // A crawler that makes progress, so the dashboard's chart has something to draw.
    let ops = server.ops.clone();
    let crawling = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(25));
        for i in 0u64..12_000 {
            tick.tick().await;
            if let Some(c) = ops.crawler.lock().unwrap().as_mut() {
                c.persisted += i % 3;
                c.sampled += 20 + (i * 37) % 50;
            }
        }
    });

    let listing: Vec<serde_json::Value> = records
        .iter()
        .map(|r| serde_json::json!({ "hash": r.info_hash.to_string(), "name": r.name }))
        .collect();
    let corpus_file = dir.path().join("corpus.json");
    std::fs::write(&corpus_file, serde_json::to_vec(&listing).unwrap()).unwrap();

    let script = workspace().join("tests/browser/ui_test.py");
    let child = Command::new(&py)
        .arg(&script)
        .arg(server.url(""))
        .arg(KEY)
        .arg(&corpus_file)
        .env("BITAGENT_CHROMIUM", &chrome)
        .env("PYTHONUNBUFFERED", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", py.display()));
    let pid = child.id();
    let waited = tokio::time::timeout(
        SCRIPT_TIMEOUT,
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await;
    crawling.abort();
    let out = match waited {
        Ok(joined) => joined.unwrap().unwrap(),
        Err(_) => {
            // Ours, by its id.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("the browser script did not finish within {SCRIPT_TIMEOUT:?}");
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser script failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(stdout.contains("all browser checks passed"), "{stdout}");
    println!("{stdout}");
    server.stop().await;
}
