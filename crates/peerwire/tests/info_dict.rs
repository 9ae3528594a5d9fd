//! Info-dictionary parsing on real libtorrent 2.1.1 output: v1, v2 and hybrid torrents, single-
//! and multi-file. The fixtures are made by `fixtures/generate.py` (see its docstring):
//! `lt.create_torrent` with `v1_only` / `v2_only` / no flag (hybrid) over a small
//! deterministic directory, 16 KiB pieces, the bencoded `info` dictionary saved as is.

mod support;

use peerwire::{File, InfoDict, MetaVersion};
use support::*;

fn file(path: &[&str], length: u64) -> File {
    File {
        path: path.iter().map(|s| s.to_string()).collect(),
        length,
    }
}

struct Expect {
    fixture: &'static str,
    sha1: &'static str,
    name: &'static str,
    version: MetaVersion,
    single_file: bool,
    private: bool,
    files: Vec<File>,
    padding: u64,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn expectations() -> Vec<Expect> {
    let single = || vec![file(&["single.bin"], 100_000)];
    vec![
        Expect {
            fixture: "single_v1.info",
            sha1: "9d018559f882b664e6eb503499133d111a04d80f",
            name: "single.bin",
            version: MetaVersion::V1,
            single_file: true,
            private: false,
            files: single(),
            padding: 0,
        },
        Expect {
            fixture: "single_v2.info",
            sha1: "bfd58d0330dc03442ea6207b1231063fee4d7410",
            name: "single.bin",
            version: MetaVersion::V2,
            single_file: true,
            private: false,
            files: single(),
            padding: 0,
        },
        Expect {
            fixture: "single_hybrid.info",
            sha1: "629311c1d3a0aba0c0a5c4a433f3e2fab12eedac",
            name: "single.bin",
            version: MetaVersion::Hybrid,
            single_file: true,
            private: false,
            files: single(),
            padding: 0,
        },
        Expect {
            // libtorrent keeps the v1-only file list in the order it added the files.
            fixture: "multi_v1.info",
            sha1: "39aba9507679a0fb3e9c572f7584dfb6c2277e11",
            name: "multi",
            version: MetaVersion::V1,
            single_file: false,
            private: true,
            files: vec![
                file(&["sub", "b.bin"], 40_000),
                file(&["sub", "c.dat"], 5),
                file(&["a.txt"], 20_000),
            ],
            padding: 0,
        },
        Expect {
            // The v2 file tree is a dictionary, so its files come out sorted by path.
            fixture: "multi_v2.info",
            sha1: "e150334842a9dbf4c8e7cdc2499fb30c6413aa7e",
            name: "multi",
            version: MetaVersion::V2,
            single_file: false,
            private: false,
            files: vec![
                file(&["a.txt"], 20_000),
                file(&["sub", "b.bin"], 40_000),
                file(&["sub", "c.dat"], 5),
            ],
            padding: 0,
        },
        Expect {
            // Hybrid: the v1 list is in file-tree order and every file is followed by a BEP-47
            // pad file (`attr: "p"`, path `.pad/<n>`) up to the next 16 KiB boundary, the last
            // one included.
            fixture: "multi_hybrid.info",
            sha1: "cb618198c0cb31d57fd0bdf14c5b814041c072de",
            name: "multi",
            version: MetaVersion::Hybrid,
            single_file: false,
            private: false,
            files: vec![
                file(&["a.txt"], 20_000),
                file(&["sub", "b.bin"], 40_000),
                file(&["sub", "c.dat"], 5),
            ],
            padding: 12_768 + 9_152 + 16_379,
        },
    ]
}

#[test]
fn libtorrent_fixtures_parse() {
    for e in expectations() {
        let bytes = fixture(e.fixture);
        assert_eq!(hex(&sha1(&bytes)), e.sha1, "{}: fixture changed", e.fixture);
        let d = InfoDict::parse(&bytes).unwrap_or_else(|err| panic!("{}: {err}", e.fixture));
        assert_eq!(d.name, e.name, "{}", e.fixture);
        assert_eq!(d.version, e.version, "{}", e.fixture);
        let mv = match e.version {
            MetaVersion::V1 => None,
            _ => Some(2),
        };
        assert_eq!(d.meta_version, mv, "{}", e.fixture);
        assert_eq!(d.single_file, e.single_file, "{}", e.fixture);
        assert_eq!(d.private, e.private, "{}", e.fixture);
        assert_eq!(d.piece_length, Some(16384), "{}", e.fixture);
        assert_eq!(d.files, e.files, "{}", e.fixture);
        assert_eq!(d.file_count(), e.files.len());
        assert_eq!(
            d.total_size,
            e.files.iter().map(|f| f.length).sum::<u64>(),
            "{}",
            e.fixture
        );
        assert_eq!(d.padding, e.padding, "{}", e.fixture);
    }
}

#[test]
fn v1_v2_and_hybrid_agree_on_contents() {
    // Same directory, three formats: same name, same total size, same set of files.
    for shape in ["single", "multi"] {
        let mut seen = Vec::new();
        for v in ["v1", "v2", "hybrid"] {
            let d = InfoDict::parse(&fixture(&format!("{shape}_{v}.info"))).unwrap();
            let mut files = d.files.clone();
            files.sort_by(|a, b| a.path.cmp(&b.path));
            seen.push((d.name, d.total_size, files));
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{shape}: {seen:?}");
    }
}

#[test]
fn every_truncation_of_a_fixture_fails_cleanly() {
    for name in FIXTURES {
        let bytes = fixture(name);
        for cut in 0..bytes.len() {
            assert!(
                InfoDict::parse(&bytes[..cut]).is_err(),
                "{name} cut at {cut}"
            );
        }
    }
}

#[test]
fn big_synthetic_dict() {
    let d = InfoDict::parse(&big_info_dict(5000)).unwrap();
    assert_eq!(d.file_count(), 5000);
    assert_eq!(d.files[4999].path, ["dir", "file-004999.bin"]);
    assert_eq!(d.total_size, (1000..6000).sum::<u64>());
}
