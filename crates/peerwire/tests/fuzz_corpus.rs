//! Runs the peerwire fuzz properties (`support/fuzz_checks.rs`) over every file of the
//! `peerwire_fetch` and `info_dict_parse` fuzz corpora and crash artifacts, so they are
//! exercised by plain `cargo test`.
//!
//! The seed corpus is written by
//! `cargo test -p peerwire --test fuzz_corpus -- --ignored write_seed_corpus`;
//! `seed_corpus_is_current` fails when a seed changed without regenerating it.

mod support;

#[path = "support/fuzz_checks.rs"]
mod fuzz_checks;

use std::fs;
use std::path::{Path, PathBuf};

use peerwire::FetchConfig;
use support::*;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// A `peerwire_fetch` input: info hash, fragmentation seed byte, peer bytes.
fn fetch_input(info_hash: &[u8; 20], seed: u8, peer: &[u8]) -> Vec<u8> {
    [&info_hash[..], &[seed], peer].concat()
}

fn fetch_seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    // Recorded good sessions: what a MetadataServe sent to a real fetch.
    for name in FIXTURES {
        let info = fixture(name);
        let (o, recorded) = run_pair(&info, 1, 500, FetchConfig::default());
        assert!(o.is_ok());
        let stem = name.trim_end_matches(".info");
        out.push((
            format!("session_{stem}"),
            fetch_input(&sha1(&info), 1, &recorded),
        ));
    }
    let big = big_info_dict(700);
    let (o, recorded) = run_pair(&big, 2, 4000, FetchConfig::default());
    assert!(o.is_ok());
    out.push((
        "session_3_pieces_whole".into(),
        fetch_input(&sha1(&big), 0, &recorded),
    ));

    let info = fixture("multi_hybrid.info");
    let h = sha1(&info);
    let size = info.len() as u64;
    let mut corrupt = info.clone();
    corrupt[50] ^= 0x20;
    let scripts = [
        (
            "no_extension_bit",
            Script::new().handshake_without_extensions(&h),
        ),
        ("wrong_info_hash", Script::new().handshake(&[9; 20])),
        (
            "no_ut_metadata",
            Script::new()
                .handshake(&h)
                .extended(b"\x00d1:md6:ut_pexi1eee"),
        ),
        (
            "too_big",
            Script::new().handshake(&h).ext_handshake(2, Some(2 << 30)),
        ),
        (
            "reject",
            Script::new()
                .handshake(&h)
                .ext_handshake(2, Some(size))
                .reject(0),
        ),
        (
            "hash_mismatch",
            Script::new()
                .handshake(&h)
                .ext_handshake(2, Some(size))
                .all_pieces(&corrupt),
        ),
        (
            "eof_mid_piece",
            Script::new()
                .handshake(&h)
                .ext_handshake(2, Some(size))
                .raw(&[0, 0, 0, 200, 20, 1]),
        ),
        (
            "garbage",
            Script::new().raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ),
        (
            "oversized_prefix",
            Script::new()
                .handshake(&h)
                .raw(&[0xff, 0xff, 0xff, 0xff, 20]),
        ),
        (
            "other_messages",
            Script::new()
                .handshake(&h)
                .message(5, &[0xff; 32])
                .message(4, &[0, 0, 0, 1])
                .raw(&[0, 0, 0, 0])
                .message(1, &[])
                .extended(b"\x05d1:ai1ee")
                .ext_handshake(2, Some(size))
                .extended(b"\x01d8:msg_typei0e5:piecei0ee")
                .all_pieces(&info),
        ),
    ];
    for (name, s) in scripts {
        out.push((format!("script_{name}"), fetch_input(&h, 3, &s.bytes)));
    }
    out
}

fn info_dict_seeds() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = FIXTURES
        .iter()
        .map(|n| {
            (
                format!("libtorrent_{}", n.trim_end_matches(".info")),
                fixture(n),
            )
        })
        .collect();
    let hand: [(&str, &[u8]); 4] = [
        (
            "bep3_single",
            b"d6:lengthi12345e4:name8:file.iso12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae",
        ),
        (
            "bep3_multi_utf8_pad",
            b"d5:filesld6:lengthi1e4:pathl1:a1:bee\
              d4:attr1:p6:lengthi7e4:pathl4:.pad1:7ee\
              d6:lengthi2e4:pathl3:bade10:path.utf-8l4:goodeee\
              4:name3:dir10:name.utf-85:dir\xc3\xa97:privatei1ee",
        ),
        (
            "bep52_tree",
            b"d9:file treed4:dir1d5:a.txtd0:d6:lengthi5eeee5:emptyd0:d6:lengthi0eeee\
              12:meta versioni2e4:name4:root12:piece lengthi16384ee",
        ),
        ("negative_length", b"d6:lengthi-1e4:name1:xe"),
    ];
    out.extend(hand.iter().map(|(n, b)| (n.to_string(), b.to_vec())));
    out
}

fn seeds_for(target: &str) -> Vec<(String, Vec<u8>)> {
    match target {
        "peerwire_fetch" => fetch_seeds(),
        _ => info_dict_seeds(),
    }
}

const TARGETS: [&str; 2] = ["peerwire_fetch", "info_dict_parse"];

#[test]
#[ignore = "writes fuzz/corpus; run by hand after changing the seeds"]
fn write_seed_corpus() {
    for target in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds_for(target) {
            fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

#[test]
fn seed_corpus_is_current() {
    for target in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        for (name, bytes) in seeds_for(target) {
            let on_disk = fs::read(dir.join(&name)).unwrap_or_else(|e| {
                panic!("fuzz/corpus/{target}/{name}: {e}; regenerate with write_seed_corpus")
            });
            assert_eq!(on_disk, bytes, "fuzz/corpus/{target}/{name} is stale");
        }
    }
}

/// Every regular file under `fuzz/<kind>/<target>/` for our targets.
fn files_under(kind: &str, target: &str) -> Vec<PathBuf> {
    let Ok(files) = fs::read_dir(fuzz_dir().join(kind).join(target)) else {
        return Vec::new();
    };
    let mut out: Vec<_> = files
        .flatten()
        .map(|f| f.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

fn exercise(path: &Path) {
    let data = fs::read(path).unwrap();
    let r = std::panic::catch_unwind(|| {
        fuzz_checks::fetch_session(&data);
        fuzz_checks::info_dict_parse(&data);
        // The peer bytes of a fetch input may be an info dict too, and vice versa.
        fuzz_checks::info_dict_parse(data.get(fuzz_checks::FETCH_HEADER..).unwrap_or_default());
    });
    assert!(r.is_ok(), "property failed on {}", path.display());
}

#[test]
fn corpus_passes() {
    let mut n = 0;
    for target in TARGETS {
        for f in files_under("corpus", target) {
            exercise(&f);
            n += 1;
        }
    }
    assert!(
        n >= fetch_seeds().len() + info_dict_seeds().len(),
        "corpus missing: {n} files"
    );
}

#[test]
fn artifacts_pass() {
    // fuzz/artifacts/ is git-ignored; after a fuzz run it holds crash inputs.
    for target in TARGETS {
        for f in files_under("artifacts", target) {
            exercise(&f);
        }
    }
}

#[test]
fn recorded_sessions_succeed() {
    // The good sessions really are good: fed whole or fragmented they produce the metadata.
    for (name, bytes) in fetch_seeds() {
        if !name.starts_with("session_") {
            continue;
        }
        let mut h = [0; 20];
        h.copy_from_slice(&bytes[..20]);
        let s = Script::new().raw(&bytes[fuzz_checks::FETCH_HEADER..]);
        for chunk in [1, 64, usize::MAX] {
            let (_, o) = play(h, &s, fuzz_checks::fetch_config(), 5, chunk, false);
            assert!(matches!(o, Some(Ok(_))), "{name} chunk {chunk}: {o:?}");
        }
    }
}
