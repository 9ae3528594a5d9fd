//! The double-hash blocklist: format, lookups, errors, reload detection.
//!
//! Expected digests were computed independently of this crate with
//! `python3 -c 'import hashlib;print(hashlib.sha256(bytes.fromhex("<infohash>")).hexdigest())'`.

use std::path::PathBuf;

use classify::blocklist::{
    Blocklist, BlocklistError, BlocklistWatcher, digest_of, hex_digest_line,
};

/// An infohash (Ubuntu-like, arbitrary) and the SHA-256 of its 20 raw bytes, from Python.
const INFOHASH_HEX: &str = "c9e15763f722f23e98a29decdfae341b98d53056";
const INFOHASH_SHA256: &str = "6d2055f823a7142c5e943c355f4beac770c5c168cd707603ad6b459edccb147e";
/// SHA-256 of twenty zero bytes, from Python.
const ZERO_SHA256: &str = "de47c9b27eb8d300dbb5f2c353e632c393262cf06340c4fa7f1b40c4cbd36f90";

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    assert_eq!(s.len(), 2 * N);
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn infohash() -> [u8; 20] {
    unhex(INFOHASH_HEX)
}

/// A numbered infohash that is in no test list unless put there.
fn other(n: u32) -> [u8; 20] {
    let mut h = [0xa5u8; 20];
    h[..4].copy_from_slice(&n.to_be_bytes());
    h
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn digest_is_sha256_of_the_raw_bytes() {
    assert_eq!(digest_of(&infohash()), unhex::<32>(INFOHASH_SHA256));
    assert_eq!(hex_digest_line(&infohash()), INFOHASH_SHA256);
    assert_eq!(hex_digest_line(&[0; 20]), ZERO_SHA256);
}

#[test]
fn a_published_entry_blocks_its_infohash_only() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "list.txt", &format!("{INFOHASH_SHA256}\n"));
    let list = Blocklist::load(&[p]).unwrap();
    assert_eq!(list.len(), 1);
    assert!(list.contains_infohash(&infohash()));
    assert!(list.contains_digest(&unhex(INFOHASH_SHA256)));
    assert!(!list.contains_infohash(&[0; 20]));
    for n in 0..1000 {
        assert!(!list.contains_infohash(&other(n)));
    }
    // The list does not contain the infohash itself in any form.
    let text = std::fs::read_to_string(dir.path().join("list.txt")).unwrap();
    assert!(!text.contains(INFOHASH_HEX));
}

#[test]
fn comments_blank_lines_case_and_whitespace() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "# an abuse list\r\n\
         \r\n\
         \t  {}  # trailing comment\r\n\
         # {INFOHASH_SHA256} commented out is not an entry\n\
         {ZERO_SHA256}#no space before the comment\n\
         \n\
         {ZERO_SHA256}\n\
         #",
        INFOHASH_SHA256.to_uppercase()
    );
    let p = write(&dir, "list.txt", &text);
    let list = Blocklist::load(&[p]).unwrap();
    assert_eq!(list.len(), 2, "duplicates count once");
    assert!(list.contains_infohash(&infohash()));
    assert!(list.contains_infohash(&[0; 20]));
    // Only comments, or nothing at all.
    let empty = write(&dir, "empty.txt", "");
    let comments = write(&dir, "comments.txt", "# nothing\n#\n   \n");
    let list = Blocklist::load(&[empty, comments]).unwrap();
    assert!(list.is_empty());
    assert!(!list.contains_infohash(&infohash()));
    assert!(Blocklist::load(&[]).unwrap().is_empty());
    assert!(Blocklist::empty().is_empty());
}

#[test]
fn malformed_lines_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        // a raw infohash: the mistake the format exists to prevent
        (INFOHASH_HEX, "raw infohash"),
        (&INFOHASH_SHA256[..63], "64 hex digits"),
        (
            "0x6d2055f823a7142c5e943c355f4beac770c5c168cd707603ad6b459edccb14",
            "hex digit",
        ),
        (
            "6d2055f823a7142c5e943c355f4beac770c5c168cd707603ad6b459edccb147e0",
            "64 hex digits",
        ),
        (
            "6d2055f823a7142c5e943c355f4beac770c5c168cd707603ad6b459edccb147g",
            "hex digit",
        ),
        (
            "6d2055f823a7142c5e943c355f4 eac770c5c168cd707603ad6b459edccb147e",
            "hex digit",
        ),
        (
            "6d2055f823a7142c5e943c355f4beac770c5c168cd707603ad6b459edccb147é",
            "64 hex digits",
        ),
    ];
    for (bad, why) in cases {
        let p = write(
            &dir,
            "bad.txt",
            &format!("# header\n{ZERO_SHA256}\n\n{bad}  # note\n{INFOHASH_SHA256}\n"),
        );
        match Blocklist::load(std::slice::from_ref(&p)) {
            Err(e @ BlocklistError::Malformed { .. }) => {
                let BlocklistError::Malformed { path, line, .. } = &e else {
                    unreachable!()
                };
                assert_eq!((path, *line), (&p, 4), "{bad:?}");
                let msg = e.to_string();
                assert!(msg.contains(&format!("{}:4:", p.display())), "{msg}");
                assert!(msg.contains(why), "{bad:?}: {msg}");
            }
            other => panic!("{bad:?}: expected Malformed, got {other:?}"),
        }
    }
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(&dir, "good.txt", ZERO_SHA256);
    let missing = dir.path().join("missing.txt");
    let err = Blocklist::load(&[good, missing.clone()]).unwrap_err();
    assert!(matches!(&err, BlocklistError::Io { path, .. } if *path == missing));
    assert!(err.to_string().contains("missing.txt"), "{err}");
}

#[test]
fn several_files_make_one_union() {
    let dir = tempfile::tempdir().unwrap();
    let a: Vec<String> = (0..500).map(|n| hex_digest_line(&other(n))).collect();
    let b: Vec<String> = (400..1000).map(|n| hex_digest_line(&other(n))).collect();
    let pa = write(&dir, "a.txt", &a.join("\n"));
    let pb = write(&dir, "b.txt", &(b.join("\n") + "\n"));
    let pc = write(&dir, "c.txt", &format!("# one more\n{INFOHASH_SHA256}\n"));
    let list = Blocklist::load(&[pa, pb, pc]).unwrap();
    assert_eq!(list.len(), 1001);
    for n in 0..1000 {
        assert!(list.contains_infohash(&other(n)), "{n}");
    }
    for n in 1000..3000 {
        assert!(!list.contains_infohash(&other(n)), "{n}");
    }
    assert!(list.contains_infohash(&infohash()));
    assert!(list.digests().windows(2).all(|w| w[0] < w[1]));
    // The batch form answers the same, in order.
    let batch: Vec<[u8; 20]> = (990..1010).map(other).chain([infohash()]).collect();
    let want: Vec<bool> = batch.iter().map(|h| list.contains_infohash(h)).collect();
    assert_eq!(list.contains_infohashes(&batch), want);
    assert_eq!(want.iter().filter(|&&x| x).count(), 11);
    assert_eq!(
        Blocklist::empty().contains_infohashes(&batch),
        vec![false; 21]
    );
}

#[test]
fn watcher_sees_edits_replacements_and_removals() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(&dir, "a.txt", &format!("{ZERO_SHA256}\n"));
    let b = dir.path().join("b.txt"); // does not exist yet
    let mut w = BlocklistWatcher::new(vec![a.clone(), b.clone()]);
    assert_eq!(w.paths(), [a.clone(), b.clone()]);
    assert!(!w.changed(), "nothing happened");
    // b appears: a load fails until it does; after a failure the watcher still
    // reports the change only once.
    assert!(w.load().is_err());
    std::fs::write(&b, format!("{INFOHASH_SHA256}\n")).unwrap();
    assert!(w.changed());
    assert!(!w.changed(), "the state became the baseline");
    let list = w.load().unwrap();
    assert_eq!(list.len(), 2);
    // An edit that changes the length.
    std::fs::write(
        &a,
        format!("{ZERO_SHA256}\n{}\n", hex_digest_line(&other(1))),
    )
    .unwrap();
    assert!(w.changed());
    assert_eq!(w.load().unwrap().len(), 3);
    // Same length, replaced by rename (what editors and list updaters do): new inode.
    let tmp = write(
        &dir,
        "a.tmp",
        &format!("{ZERO_SHA256}\n{}\n", hex_digest_line(&other(2))),
    );
    std::fs::rename(&tmp, &a).unwrap();
    assert!(w.changed());
    let list = w.load().unwrap();
    assert!(list.contains_infohash(&other(2)) && !list.contains_infohash(&other(1)));
    // Same length, rewritten in place a while later: new mtime.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(
        &a,
        format!("{ZERO_SHA256}\n{}\n", hex_digest_line(&other(3))),
    )
    .unwrap();
    assert!(w.changed());
    assert!(w.load().unwrap().contains_infohash(&other(3)));
    // Removal is a change too.
    std::fs::remove_file(&b).unwrap();
    assert!(w.changed());
    assert!(!w.changed());
}

#[test]
fn a_large_list_loads_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::with_capacity(100_000 * 65);
    for n in 0..100_000 {
        text.push_str(&hex_digest_line(&other(n)));
        text.push('\n');
    }
    let p = write(&dir, "big.txt", &text);
    let list = Blocklist::load(&[p]).unwrap();
    assert_eq!(list.len(), 100_000);
    assert!((0..100_000).all(|n| list.contains_infohash(&other(n))));
    assert!(!(100_000..200_000).any(|n| list.contains_infohash(&other(n))));
}
