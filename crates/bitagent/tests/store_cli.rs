//! The store-facing commands end to end, on a database written through the store crate:
//! `search --type/--tag`, `rules check` (good and bad files), `classify` (stdin JSON),
//! `reclassify` (then `search --type` finds what the rules decided), `rules explain`,
//! `block` (survives, and a blocked torrent is gone from search), `stats --check`.

use std::io::Write as _;
use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;
use store::{FileEntry, InfoHash, SqliteStore, Store, TorrentRecord};

mod support;

fn run(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let data_arg = data.to_str().expect("a UTF-8 temporary path");
    let mut child = support::bitagent(data, &[&["--data-dir", data_arg][..], args].concat())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bitagent");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().expect("bitagent ran")
}

fn ok(data: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = run(data, args, stdin);
    assert!(
        out.status.success(),
        "bitagent {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn record(n: u8, name: &str, files: &[(&str, u64)]) -> TorrentRecord {
    TorrentRecord {
        info_hash: InfoHash::v1([n; 20]),
        name: name.into(),
        total_size: files.iter().map(|f| f.1).sum(),
        files: files
            .iter()
            .map(|(p, s)| FileEntry {
                path: (*p).into(),
                size: *s,
            })
            .collect(),
        file_count: files.len() as u64,
        seen_at: 1_700_000_000,
        ..TorrentRecord::default()
    }
}

#[test]
fn search_filters_rules_reclassify_block_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    {
        // Stored unclassified, as a crawl with an older BitAgent would have left them.
        let mut s = SqliteStore::open(data.join("bitagent.sqlite3")).unwrap();
        s.put_batch(&[
            record(
                1,
                "Big.Buck.Bunny.2008.1080p.BluRay.x264-GRP",
                &[("Big.Buck.Bunny.2008.1080p.BluRay.x264-GRP.mkv", 4 << 30)],
            ),
            record(
                2,
                "Some.Show.S02E05.720p.WEB-DL.AAC2.0.H.264-GRP",
                &[(
                    "Some.Show.S02E05.720p.WEB-DL.AAC2.0.H.264-GRP.mkv",
                    900 << 20,
                )],
            ),
            record(
                3,
                "Artist - Album (2011) [FLAC]",
                &[
                    ("01 - Intro.flac", 30 << 20),
                    ("02 - Song.flac", 40 << 20),
                    ("cover.jpg", 1 << 20),
                ],
            ),
        ])
        .unwrap();
    }
    // Unclassified: a type filter finds nothing yet.
    let hits: Value =
        serde_json::from_str(&ok(data, &["search", "--type", "movie", "--json"], None)).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 0);

    // Reclassify with the built-in rules, then filters work.
    let out = ok(data, &["reclassify"], None);
    assert!(out.contains("reclassified 3 torrents"), "{out}");
    let again = ok(data, &["reclassify"], None);
    assert!(
        again.contains("reclassified 0 torrents"),
        "resumable/idempotent: {again}"
    );
    for (ty, hash) in [
        ("movie", [1u8; 20]),
        ("tv_show", [2; 20]),
        ("music", [3; 20]),
    ] {
        let hits: Value =
            serde_json::from_str(&ok(data, &["search", "--type", ty, "--json"], None)).unwrap();
        let hits = hits.as_array().unwrap();
        assert_eq!(hits.len(), 1, "{ty}: {hits:?}");
        assert_eq!(hits[0]["info_hash"], InfoHash::v1(hash).to_string());
        assert_eq!(hits[0]["content_type"], ty);
    }
    let words: Value = serde_json::from_str(&ok(
        data,
        &["search", "bunny", "--type", "movie", "--json"],
        None,
    ))
    .unwrap();
    assert_eq!(words.as_array().unwrap().len(), 1);

    // explain shows the same decision.
    let explain: Value = serde_json::from_str(&ok(
        data,
        &[
            "rules",
            "explain",
            &InfoHash::v1([3; 20]).to_string(),
            "--json",
        ],
        None,
    ))
    .unwrap();
    assert_eq!(explain["stored_content_type"], "music");

    // classify from stdin JSON.
    let c: Value = serde_json::from_str(&ok(
        data,
        &["classify", "-", "--json"],
        Some(r#"{"name": "Some.Book.2020.EPUB", "files": [{"path": "Some Book.epub", "size": 2000000}]}"#),
    ))
    .unwrap();
    assert_eq!(c["content_type"], "ebook", "{c}");

    // rules check: a good user file is listed; a bad one fails with file:line.
    let good = data.join("good.yaml");
    std::fs::write(
        &good,
        "- name: big-is-hd\n  stage: post_fetch\n  when: total_size > 3 * GB\n  actions:\n    add_tag: big\n",
    )
    .unwrap();
    assert!(ok(data, &["rules", "check", good.to_str().unwrap()], None).contains("big-is-hd"));
    let bad = data.join("bad.yaml");
    std::fs::write(
        &bad,
        "- name: typo\n  stage: post_fetch\n  when: total_sise > 3\n  actions:\n    add_tag: x\n",
    )
    .unwrap();
    let out = run(data, &["rules", "check", bad.to_str().unwrap()], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:") && err.contains("total_sise"),
        "{err}"
    );
    // The same bad file stops `run` before anything starts.
    let out = run(
        data,
        &[
            "run",
            "--rules",
            bad.to_str().unwrap(),
            "--bootstrap",
            "127.0.0.1:9",
            "--bind",
            "127.0.0.1:0",
            "--duration",
            "5",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.yaml:"));

    // block deletes and survives.
    let movie = InfoHash::v1([1; 20]).to_string();
    assert!(ok(data, &["block", &movie], None).contains("1 stored torrent(s) deleted"));
    let hits: Value = serde_json::from_str(&ok(data, &["search", &movie, "--json"], None)).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 0);
    let s = SqliteStore::open(data.join("bitagent.sqlite3")).unwrap();
    assert!(s.is_blocked(&InfoHash::v1([1; 20])).unwrap());
    assert_eq!(
        s.known(&[InfoHash::v1([1; 20])]).unwrap(),
        vec![true],
        "never fetched again"
    );
    drop(s);

    // stats --check --json: integrity ok and counts by type.
    let stats: Value =
        serde_json::from_str(&ok(data, &["stats", "--check", "--json"], None)).unwrap();
    assert_eq!(stats["integrity"], "ok");
    assert_eq!(stats["torrents"], 2);
    assert_eq!(stats["blocked"], 1);
    assert_eq!(stats["content_types"]["music"], 1);
}
