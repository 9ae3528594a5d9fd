//! Runs the fuzz targets' properties over every file of the fuzz corpus (and over any crash
//! artifacts left by a fuzz run), so the corpus is exercised by plain `cargo test`.
//!
//! The seed corpus is written from the spec vectors by
//! `cargo test -p krpc --test fuzz_corpus -- --ignored write_seed_corpus`;
//! `seed_corpus_holds_every_vector` fails when a vector was added without regenerating it.

mod vectors;

#[path = "../../../fuzz/src/checks.rs"]
mod checks;

use std::fs;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Seeds for `bencode_decode` besides the KRPC messages: edge cases of the format itself.
fn bencode_only_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("int_zero", b"i0e".to_vec()),
        ("int_min", b"i-9223372036854775808e".to_vec()),
        ("int_max", b"i9223372036854775807e".to_vec()),
        ("empty_string", b"0:".to_vec()),
        ("empty_list", b"le".to_vec()),
        ("empty_dict", b"de".to_vec()),
        ("nested", b"d1:ald1:bi-1ee0:le1:cdee1:d4:spame".to_vec()),
        ("unsorted_dict", b"d1:zi1e1:ai2e1:zi3ee".to_vec()),
        ("deep_64", [vec![b'l'; 64], vec![b'e'; 64]].concat()),
        ("deep_65", [vec![b'l'; 65], vec![b'e'; 65]].concat()),
    ]
}

fn seeds_for(target: &str) -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds = vectors::all();
    seeds.extend(vectors::bep5_placeholder_literals());
    if target == "bencode_decode" {
        seeds.extend(bencode_only_seeds());
    }
    seeds
}

const TARGETS: [&str; 2] = ["bencode_decode", "krpc_decode"];

#[test]
#[ignore = "writes fuzz/corpus; run by hand after changing the vectors"]
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
fn seed_corpus_holds_every_vector() {
    for target in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        for (name, bytes) in seeds_for(target) {
            let on_disk = fs::read(dir.join(name)).unwrap_or_else(|e| {
                panic!("fuzz/corpus/{target}/{name}: {e}; regenerate with write_seed_corpus")
            });
            assert_eq!(on_disk, bytes, "fuzz/corpus/{target}/{name} is stale");
        }
    }
}

/// Every regular file under `fuzz/<kind>/<target>/`.
fn files_under(kind: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(targets) = fs::read_dir(fuzz_dir().join(kind)) else {
        return out;
    };
    for t in targets.flatten() {
        if let Ok(files) = fs::read_dir(t.path()) {
            out.extend(files.flatten().map(|f| f.path()).filter(|p| p.is_file()));
        }
    }
    out.sort();
    out
}

/// Both decoders see every input, whichever target's directory it is in.
fn exercise(path: &Path) {
    let data = fs::read(path).unwrap();
    let r = std::panic::catch_unwind(|| {
        checks::bencode_roundtrip(&data);
        checks::krpc_roundtrip(&data);
    });
    assert!(r.is_ok(), "property failed on {}", path.display());
}

#[test]
fn corpus_passes_both_decoders() {
    let files = files_under("corpus");
    assert!(
        files.len() >= 2 * vectors::all().len(),
        "fuzz corpus missing: {} files",
        files.len()
    );
    for f in &files {
        exercise(f);
    }
}

#[test]
fn artifacts_pass_both_decoders() {
    // fuzz/artifacts/ is git-ignored and usually absent; after a fuzz run it holds the crash
    // inputs, which must pass once the bug is fixed.
    for f in &files_under("artifacts") {
        exercise(f);
    }
}
