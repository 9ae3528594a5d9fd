//! The fetch state machine against a seeding peer: full transfers over randomly fragmented
//! streams, and every failure cause.

mod support;

use std::time::{Duration, Instant};

use infohash::InfoHash;
use peerwire::{
    FetchConfig, FetchError, HandshakeError, MetaVersion, MetadataFetch, ProtocolError,
    TimeoutPhase,
};
use support::*;

fn assert_fetches(info: &[u8], label: &str) {
    // Several seeds at several fragment sizes, one byte at a time included.
    for (seed, max_chunk) in [(1, 1), (2, 3), (3, 17), (4, 700), (5, 20_000), (6, 1 << 20)] {
        let (outcome, _) = run_pair(info, seed, max_chunk, FetchConfig::default());
        let m = outcome.unwrap_or_else(|e| panic!("{label} seed {seed} chunk {max_chunk}: {e}"));
        assert_eq!(m.info_bytes, info, "{label} seed {seed}");
        assert_eq!(m.info, peerwire::InfoDict::parse(info).unwrap());
    }
}

#[test]
fn fetches_every_libtorrent_fixture() {
    for name in FIXTURES {
        assert_fetches(&fixture(name), name);
    }
}

#[test]
fn fetches_multi_piece_metadata_with_a_window() {
    // ~94 KB: 6 pieces, more than the request window of 4, last piece short.
    let info = big_info_dict(2000);
    assert!(
        info.len() > 5 * 16384 && !info.len().is_multiple_of(16384),
        "{}",
        info.len()
    );
    assert_fetches(&info, "big");
    let m = run_pair(&info, 9, 5000, FetchConfig::default()).0.unwrap();
    assert_eq!(m.info.file_count(), 2000);
    assert_eq!(m.info.version, MetaVersion::V1);
    // Window of one: strictly one request at a time still completes.
    let one = FetchConfig {
        request_window: 1,
        ..FetchConfig::default()
    };
    assert!(run_pair(&info, 10, 999, one).0.is_ok());
}

#[test]
fn random_fragmentation_property() {
    // Many seeds, each printed on failure by run_pair's assertions.
    let info = big_info_dict(700);
    for seed in 100..160 {
        let max_chunk = 1 + (seed as usize * 37) % 4000;
        let (o, _) = run_pair(&info, seed, max_chunk, FetchConfig::default());
        assert!(o.is_ok(), "seed {seed} chunk {max_chunk}: {o:?}");
    }
}

#[test]
fn scripted_all_at_once_and_unsolicited_pieces() {
    // A peer that sends everything without waiting for requests is accepted.
    let info = big_info_dict(1000);
    let h = sha1(&info);
    let s = Script::new()
        .handshake(&h)
        .message(5, &[0xff; 40]) // bitfield
        .message(1, &[]) // unchoke
        .raw(&[0, 0, 0, 0]) // keep-alive
        .ext_handshake(7, Some(info.len() as u64))
        .all_pieces(&info);
    for max_chunk in [1, 13, usize::MAX] {
        let (f, o) = play(h, &s, FetchConfig::default(), 1, max_chunk, false);
        assert_eq!(o.unwrap().unwrap().info_bytes, info);
        assert!(f.is_finished() && f.poll_timeout().is_none());
        assert_eq!(f.peer_client(), Some(&b"script"[..]));
    }
}

#[test]
fn sends_handshake_ext_handshake_and_requests_with_the_peer_id() {
    let info = big_info_dict(2000);
    let h = sha1(&info);
    let now = Instant::now();
    let mut f = MetadataFetch::new(InfoHash::v1(h), OUR_ID, FetchConfig::default(), now);
    let out = f.poll_transmit().unwrap();
    assert_eq!(&out[..20], b"\x13BitTorrent protocol");
    assert_eq!(out[25] & 0x10, 0x10);
    assert_eq!(&out[28..48], &h);
    assert_eq!(&out[48..68], &OUR_ID);
    assert_eq!(out[72], 20);
    assert_eq!(out[73], 0);
    assert!(f.poll_transmit().is_none());
    let s = Script::new()
        .handshake(&h)
        .ext_handshake(9, Some(info.len() as u64));
    f.handle_input(now, &s.bytes);
    let reqs = f.poll_transmit().unwrap();
    let mut expected = Vec::new();
    for i in 0..4 {
        peerwire::metadata::encode_request(&mut expected, 9, i);
    }
    assert_eq!(reqs, expected);
    assert_eq!(f.metadata_size(), Some(info.len() as u64));
    assert_eq!(f.metadata_allocated(), info.len());
}

#[test]
fn peer_without_extension_bit() {
    let h = [1; 20];
    let s = Script::new().handshake_without_extensions(&h);
    let (_, o) = play(h, &s, FetchConfig::default(), 1, 1, false);
    assert_eq!(o.unwrap().unwrap_err(), FetchError::NoExtensionSupport);
}

#[test]
fn wrong_info_hash() {
    let s = Script::new().handshake(&[2; 20]);
    let (f, o) = play([1; 20], &s, FetchConfig::default(), 1, 5, false);
    let e = o.unwrap().unwrap_err();
    assert_eq!(e, FetchError::Handshake(HandshakeError::WrongInfoHash));
    assert_eq!(e.cause(), "handshake");
    assert_eq!(f.peer_handshake().unwrap().info_hash, [2; 20]);
}

#[test]
fn ext_handshake_without_ut_metadata_or_size() {
    let h = [1; 20];
    for s in [
        Script::new()
            .handshake(&h)
            .extended(b"\x00d1:md6:ut_pexi1eee"),
        Script::new().handshake(&h).ext_handshake(2, None),
        Script::new().handshake(&h).ext_handshake(2, Some(0)),
    ] {
        let (_, o) = play(h, &s, FetchConfig::default(), 1, 7, false);
        assert_eq!(o.unwrap().unwrap_err(), FetchError::NoMetadataSupport);
    }
}

#[test]
fn two_gib_metadata_is_too_big_without_allocating() {
    let h = [1; 20];
    let s = Script::new().handshake(&h).ext_handshake(2, Some(2 << 30));
    let (mut f, o) = play(h, &s, FetchConfig::default(), 1, 3, false);
    let e = o.unwrap().unwrap_err();
    assert_eq!(e, FetchError::TooBig { size: 2 << 30 });
    assert_eq!(e.cause(), "too_big");
    assert_eq!(f.metadata_allocated(), 0);
    assert!(f.poll_transmit().is_none(), "no requests after TooBig");
}

#[test]
fn wrong_piece_contents_is_hash_mismatch() {
    let info = fixture("multi_hybrid.info");
    let h = sha1(&info);
    let mut bad = info.clone();
    bad[100] ^= 1;
    let s = Script::new()
        .handshake(&h)
        .ext_handshake(2, Some(info.len() as u64))
        .all_pieces(&bad);
    let (_, o) = play(h, &s, FetchConfig::default(), 1, 64, false);
    assert_eq!(o.unwrap().unwrap_err(), FetchError::HashMismatch);
}

#[test]
fn hash_correct_but_not_an_info_dict() {
    let info = b"i42e".to_vec();
    let h = sha1(&info);
    let s = Script::new()
        .handshake(&h)
        .ext_handshake(2, Some(4))
        .all_pieces(&info);
    let (_, o) = play(h, &s, FetchConfig::default(), 1, 64, false);
    assert_eq!(
        o.unwrap().unwrap_err(),
        FetchError::BadInfoDict(peerwire::InfoDictError::NotADict)
    );
}

#[test]
fn reject() {
    let h = [1; 20];
    let s = Script::new()
        .handshake(&h)
        .ext_handshake(2, Some(100))
        .reject(0);
    let (_, o) = play(h, &s, FetchConfig::default(), 1, 2, false);
    assert_eq!(o.unwrap().unwrap_err(), FetchError::Rejected { piece: 0 });
}

#[test]
fn stalls_time_out_in_each_phase() {
    let cfg = FetchConfig::default();
    let h = [1; 20];
    let t0 = Instant::now();
    let cases = [
        (Script::new(), TimeoutPhase::Handshake),
        (Script::new().handshake(&h), TimeoutPhase::ExtHandshake),
        (
            Script::new().handshake(&h).ext_handshake(2, Some(40_000)),
            TimeoutPhase::Piece,
        ),
    ];
    for (s, phase) in cases {
        let mut f = MetadataFetch::new(InfoHash::v1(h), OUR_ID, cfg.clone(), t0);
        let now = t0 + Duration::from_secs(1);
        f.handle_input(now, &s.bytes);
        let deadline = f.poll_timeout().unwrap();
        f.handle_timeout(deadline - Duration::from_millis(1));
        assert!(f.poll_outcome().is_none(), "early timer is harmless");
        f.handle_timeout(deadline);
        assert_eq!(
            f.poll_outcome().unwrap().unwrap_err(),
            FetchError::Timeout(phase)
        );
        assert!(f.poll_timeout().is_none());
    }

    // A peer trickling one piece every 9 s never trips the 10 s piece timeout, but the 60 s
    // total does.
    let info = big_info_dict(3000);
    let h = sha1(&info);
    let mut f = MetadataFetch::new(InfoHash::v1(h), OUR_ID, cfg.clone(), t0);
    let s = Script::new()
        .handshake(&h)
        .ext_handshake(2, Some(info.len() as u64));
    f.handle_input(t0, &s.bytes);
    let mut now = t0;
    let mut piece = 0;
    let outcome = loop {
        now += Duration::from_secs(9);
        f.handle_timeout(now);
        if let Some(o) = f.poll_outcome() {
            break o;
        }
        let chunk = info.chunks(16384).nth(piece).unwrap();
        let p = Script::new().piece(piece as u32, info.len() as u64, chunk);
        f.handle_input(now, &p.bytes);
        piece += 1;
    };
    assert_eq!(
        outcome.unwrap_err(),
        FetchError::Timeout(TimeoutPhase::Total)
    );
    assert_eq!(now - t0, Duration::from_secs(63));
}

#[test]
fn eof_mid_piece_is_closed() {
    let info = big_info_dict(1000);
    let h = sha1(&info);
    let full = Script::new()
        .handshake(&h)
        .ext_handshake(2, Some(info.len() as u64))
        .all_pieces(&info);
    let cut = Script::new().raw(&full.bytes[..full.bytes.len() - 100]);
    let (f, o) = play(h, &cut, FetchConfig::default(), 1, 1000, true);
    assert_eq!(o.unwrap().unwrap_err(), FetchError::Closed);
    assert_eq!(f.buffered_len(), 0, "buffers are released");
    // EOF before the peer's handshake (what libtorrent does for a torrent it does not have)
    // is a handshake failure.
    let (_, o) = play(h, &Script::new(), FetchConfig::default(), 1, 1, true);
    assert_eq!(
        o.unwrap().unwrap_err(),
        FetchError::Handshake(HandshakeError::Closed)
    );
    let half = Script::new().handshake(&h);
    let cut = Script::new().raw(&half.bytes[..30]);
    let (_, o) = play(h, &cut, FetchConfig::default(), 1, 1, true);
    assert_eq!(
        o.unwrap().unwrap_err(),
        FetchError::Handshake(HandshakeError::Closed)
    );
}

#[test]
fn garbage_fails_at_the_first_wrong_byte() {
    let h = [1; 20];
    let s = Script::new().raw(b"GET / HTTP/1.1\r\n");
    let (_, o) = play(h, &s, FetchConfig::default(), 1, 1, false);
    assert_eq!(
        o.unwrap().unwrap_err(),
        FetchError::Handshake(HandshakeError::BadProtocol)
    );
    // Garbage after a good handshake: a bad extended message.
    let s = Script::new().handshake(&h).extended(b"\x00not bencode");
    let (_, o) = play(h, &s, FetchConfig::default(), 1, 1, false);
    assert_eq!(
        o.unwrap().unwrap_err(),
        FetchError::Protocol(ProtocolError::BadExtHandshake)
    );
    let s = Script::new().handshake(&h).extended(b"");
    let (_, o) = play(h, &s, FetchConfig::default(), 1, 1, false);
    assert_eq!(
        o.unwrap().unwrap_err(),
        FetchError::Protocol(ProtocolError::EmptyExtended)
    );
    let s = Script::new()
        .handshake(&h)
        .ext_handshake(2, Some(10))
        .extended(b"\x01garbage");
    let (_, o) = play(h, &s, FetchConfig::default(), 1, 1, false);
    assert_eq!(
        o.unwrap().unwrap_err(),
        FetchError::Protocol(ProtocolError::BadMetadataMessage)
    );
}

#[test]
fn oversized_length_prefix_is_protocol_with_bounded_buffer() {
    let h = [1; 20];
    let s = Script::new()
        .handshake(&h)
        .raw(&[0x7f, 0xff, 0xff, 0xff, 20])
        .raw(&[0; 5000]);
    let (f, o) = play(h, &s, FetchConfig::default(), 1, 100, false);
    assert_eq!(
        o.unwrap().unwrap_err(),
        FetchError::Protocol(ProtocolError::MessageTooLong { len: 0x7fff_ffff })
    );
    assert_eq!(f.buffered_len(), 0);

    // A large ignored message (a 1 MiB bitfield) streams through without being buffered.
    let big = vec![0u8; 1 << 20];
    let s = Script::new().handshake(&h).message(5, &big);
    let (f, o) = play(h, &s, FetchConfig::default(), 1, 70_000, false);
    assert!(o.is_none());
    assert!(f.buffered_len() < 70_000);

    // An extended message may not exceed the limit either, and is buffered up to it at most.
    let small = FetchConfig {
        max_message_len: 1000,
        ..FetchConfig::default()
    };
    let s = Script::new().handshake(&h).extended(&[1; 1000]);
    let (_, o) = play(h, &s, small, 1, 7, false);
    assert_eq!(
        o.unwrap().unwrap_err(),
        FetchError::Protocol(ProtocolError::MessageTooLong { len: 1001 })
    );
}

#[test]
fn piece_checks() {
    let info = big_info_dict(1000);
    let h = sha1(&info);
    let base = || {
        Script::new()
            .handshake(&h)
            .ext_handshake(2, Some(info.len() as u64))
    };
    let total = info.len() as u64;
    let cases = [
        (
            base().piece(0, total, &info[..100]),
            ProtocolError::BadPieceSize {
                piece: 0,
                got: 100,
                expected: 16384,
            },
        ),
        (
            base().piece(99, total, &info[..100]),
            ProtocolError::PieceOutOfRange { piece: 99 },
        ),
        (
            base().piece(0, total + 1, &info[..16384]),
            ProtocolError::TotalSizeMismatch {
                got: total as i64 + 1,
                expected: total,
            },
        ),
    ];
    for (s, want) in cases {
        let (_, o) = play(h, &s, FetchConfig::default(), 1, 999, false);
        assert_eq!(o.unwrap().unwrap_err(), FetchError::Protocol(want));
    }
}

#[test]
fn answers_peer_requests_with_reject() {
    let h = [1; 20];
    let now = Instant::now();
    let mut f = MetadataFetch::new(InfoHash::v1(h), OUR_ID, FetchConfig::default(), now);
    let _ = f.poll_transmit();
    let s = Script::new()
        .handshake(&h)
        .ext_handshake(5, Some(20_000))
        .extended(b"\x01d8:msg_typei0e5:piecei0ee");
    f.handle_input(now, &s.bytes);
    let out = f.poll_transmit().unwrap();
    let mut reject = Vec::new();
    peerwire::metadata::encode_reject(&mut reject, 5, 0);
    assert!(out.ends_with(&reject));
    assert!(f.poll_outcome().is_none());
}

#[test]
fn causes_are_listed() {
    let all = [
        FetchError::Handshake(HandshakeError::BadProtocol),
        FetchError::NoExtensionSupport,
        FetchError::NoMetadataSupport,
        FetchError::Rejected { piece: 0 },
        FetchError::Timeout(TimeoutPhase::Piece),
        FetchError::TooBig { size: 1 },
        FetchError::HashMismatch,
        FetchError::BadInfoDict(peerwire::InfoDictError::MissingName),
        FetchError::Protocol(ProtocolError::EmptyExtended),
        FetchError::Closed,
    ];
    for e in &all {
        assert!(FetchError::CAUSES.contains(&e.cause()), "{e}");
    }
    assert_eq!(FetchError::CAUSES.len(), all.len() + 1, "plus connect");
}

#[test]
fn huge_timeouts_mean_never() {
    let cfg = FetchConfig {
        handshake_timeout: Duration::MAX,
        piece_timeout: Duration::MAX,
        total_timeout: Duration::MAX,
        ..FetchConfig::default()
    };
    let t0 = Instant::now();
    let mut f = MetadataFetch::new(InfoHash::v1([1; 20]), OUR_ID, cfg, t0);
    assert!(f.poll_timeout().unwrap() > t0 + Duration::from_secs(86_400 * 365));
    f.handle_timeout(t0 + Duration::from_secs(86_400));
    assert!(f.poll_outcome().is_none());
}
