//! `bitagent metadata` end to end against a seeder played in-process with
//! `peerwire::MetadataServe`, on loopback only (127.0.0.1). Every wait is bounded.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

use net::peerwire::MetadataServe;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_bitagent");
const SEED_ID: [u8; 20] = *b"-BA0001-seedpeerid00";

/// A v1 multi-file info dictionary with a nested path and a BEP-47 pad file.
fn info_dict() -> Vec<u8> {
    let mut d = b"d5:filesl".to_vec();
    d.extend_from_slice(b"d6:lengthi1000e4:pathl5:a.txtee");
    d.extend_from_slice(b"d4:attr1:p6:lengthi15384e4:pathl4:.pad5:15384ee");
    d.extend_from_slice(b"d6:lengthi70000e4:pathl3:sub5:b.binee");
    d.extend_from_slice(b"e4:name6:my-dir12:piece lengthi16384e6:pieces100:");
    d.extend_from_slice(&[0x5a; 100]);
    d.push(b'e');
    d
}

/// Serves `info` to the first `conns` connections, each in its own bounded thread.
fn seeder(info: Vec<u8>, conns: usize) -> (SocketAddr, String) {
    let hash = MetadataServe::new(info.clone(), SEED_ID).info_hash();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming().take(conns).flatten() {
            let info = info.clone();
            thread::spawn(move || serve(s, info));
        }
    });
    (addr, hash.to_string())
}

fn serve(mut s: TcpStream, info: Vec<u8>) {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut serve = MetadataServe::new(info, SEED_ID);
    let mut buf = [0u8; 4096];
    for _ in 0..1000 {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if serve.handle_input(&buf[..n]).is_err() {
            return;
        }
        while let Some(out) = serve.poll_transmit() {
            if s.write_all(&out).is_err() {
                return;
            }
        }
    }
}

/// Runs the binary (bounded by its own --timeout, and killed after 30 s regardless).
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bitagent");
    for _ in 0..3000 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    panic!("bitagent {args:?} did not exit in time");
}

fn json_of(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {text}"))
}

#[test]
fn metadata_json_from_a_seeder() {
    let (peer, hash) = seeder(info_dict(), 1);
    let out = run(&[
        "metadata",
        &hash,
        "--peer",
        &peer.to_string(),
        "--json",
        "--timeout",
        "10",
    ]);
    assert!(out.status.success(), "{out:?}");
    let v = json_of(&out);
    assert_eq!(v["infohash"], json!(hash));
    assert_eq!(v["peer"], json!(peer.to_string()));
    assert_eq!(v["name"], "my-dir");
    assert_eq!(v["total_size"], 71_000);
    assert_eq!(v["padding"], 15_384);
    assert_eq!(v["piece_length"], 16_384);
    assert_eq!(v["private"], false);
    assert_eq!(v["version"], "v1");
    assert_eq!(v["single_file"], false);
    assert_eq!(v["metadata_size"], info_dict().len());
    assert_eq!(v["file_count"], 2);
    assert_eq!(
        v["files"],
        json!([
            {"path": ["a.txt"], "size": 1000},
            {"path": ["sub", "b.bin"], "size": 70000},
        ])
    );
}

#[test]
fn metadata_text_and_a_dead_peer_first() {
    let (peer, hash) = seeder(info_dict(), 1);
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = run(&[
        "metadata",
        &hash,
        "--peer",
        &dead.to_string(),
        "--peer",
        &peer.to_string(),
        "--timeout",
        "10",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "name          my-dir",
        "total size    71000 bytes",
        "piece length  16384",
        "private       no",
        "version       v1",
        "files         2",
        "sub/b.bin",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
}

#[test]
fn metadata_failure_is_exit_1_with_a_cause() {
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let hash = "abababababababababababababababababababab";
    let out = run(&[
        "metadata",
        hash,
        "--peer",
        &dead.to_string(),
        "--json",
        "--timeout",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = json_of(&out);
    assert_eq!(v["cause"], "connect", "{v}");
    assert!(
        v["error"].as_str().unwrap().contains(&dead.to_string()),
        "{v}"
    );
    assert_eq!(v["peers"][0]["cause"], "connect");

    // A peer that answers for another torrent: the seeder refuses our handshake and hangs up.
    let (peer, _) = seeder(info_dict(), 1);
    let out = run(&[
        "metadata",
        hash,
        "--peer",
        &peer.to_string(),
        "--timeout",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: no metadata (handshake)"), "{err}");
    assert!(out.stdout.is_empty());
}
