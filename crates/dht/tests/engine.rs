//! Engine behaviour over hand-carried datagrams: a tiny in-test "network" of two or three
//! engines, plus raw KRPC bytes where a real peer's shape matters.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dht::{Config, Engine, Event, Id20, IdCheck, QueryFailure, Rate};
use infohash::InfoHash;
use krpc::{Kind, Message, Method, Query};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn engine(seed: u64, a: &str, tweak: impl FnOnce(&mut Config)) -> Engine {
    let mut c = Config {
        seed,
        ..Config::default()
    };
    tweak(&mut c);
    Engine::new(c, addr(a), Instant::now())
}

/// Moves every pending datagram between the given engines until none are left; returns how
/// many were delivered. Datagrams to unknown addresses are returned as undelivered.
fn shuttle(
    now: Instant,
    engines: &mut [&mut Engine],
) -> (usize, Vec<(SocketAddr, SocketAddr, Vec<u8>)>) {
    let mut delivered = 0;
    let mut lost = Vec::new();
    for _ in 0..10_000 {
        let mut moved = false;
        for i in 0..engines.len() {
            while let Some(t) = engines[i].poll_transmit() {
                moved = true;
                let from = engines[i].local_addr();
                match engines.iter().position(|e| e.local_addr() == t.dst) {
                    Some(j) => {
                        engines[j].handle_datagram(now, from, &t.data);
                        delivered += 1;
                    }
                    None => lost.push((from, t.dst, t.data)),
                }
            }
        }
        if !moved {
            break;
        }
    }
    (delivered, lost)
}

fn events(e: &mut Engine) -> Vec<Event> {
    std::iter::from_fn(|| e.poll_event()).collect()
}

#[test]
fn ping_reply_adds_both_ways() {
    let now = Instant::now();
    let mut a = engine(1, "10.0.0.1:6881", |_| {});
    let mut b = engine(2, "10.0.0.2:6881", |_| {});
    let q = a.ping(now, b.local_addr()).unwrap();
    shuttle(now, &mut [&mut a, &mut b]);
    let ev = events(&mut a);
    assert!(ev.iter().any(
        |e| matches!(e, Event::Reply { query, reply, .. } if *query == q && reply.id == b.id())
    ));
    assert!(
        a.routing_table().get(&b.id()).is_some(),
        "a adds b after b answered"
    );
    // b heard a query from a and pings it back to verify; after that a is in b's table.
    assert!(b.routing_table().get(&a.id()).is_some());
}

#[test]
fn read_only_sends_ro_and_answers_nothing() {
    let now = Instant::now();
    let mut ro = engine(1, "10.0.0.1:6881", |c| c.read_only = true);
    let mut full = engine(2, "10.0.0.2:6881", |_| {});
    ro.ping(now, full.local_addr()).unwrap();
    let t = ro.poll_transmit().unwrap();
    let m = Message::decode(&t.data).unwrap();
    assert!(m.read_only, "queries from a read-only node carry ro=1");
    full.handle_datagram(now, ro.local_addr(), &t.data);
    let reply = full.poll_transmit().expect("full node answers");
    ro.handle_datagram(now, full.local_addr(), &reply.data);
    // The full node never puts a read-only node in its table, and does not ping it either.
    assert!(full.routing_table().get(&ro.id()).is_none());
    assert!(full.poll_transmit().is_none());
    // The read-only node answers no query.
    full.ping(now, ro.local_addr()).unwrap();
    let q = full.poll_transmit().unwrap();
    ro.handle_datagram(now, full.local_addr(), &q.data);
    assert!(ro.poll_transmit().is_none());
    assert_eq!(ro.stats().queries_ignored_read_only, 1);
}

#[test]
fn get_peers_token_announce_roundtrip() {
    let now = Instant::now();
    let mut a = engine(1, "10.0.0.1:6881", |_| {});
    let mut b = engine(2, "10.0.0.2:6881", |_| {});
    let hash = InfoHash::v1([0xab; 20]);
    let q = a.get_peers_at(now, b.local_addr(), hash, false).unwrap();
    shuttle(now, &mut [&mut a, &mut b]);
    let token = events(&mut a)
        .into_iter()
        .find_map(|e| match e {
            Event::Reply { query, reply, .. } if query == q => reply.token,
            _ => None,
        })
        .expect("token");
    a.announce_at(now, b.local_addr(), hash, Some(5000), token)
        .unwrap();
    shuttle(now, &mut [&mut a, &mut b]);
    assert!(events(&mut b).iter().any(|e| matches!(e, Event::Announced { info_hash, peer } if *info_hash == hash && *peer == addr("10.0.0.1:5000"))));
    // A bad token is refused with a protocol error.
    let q = a
        .announce_at(now, b.local_addr(), hash, Some(5001), b"nope".to_vec())
        .unwrap();
    shuttle(now, &mut [&mut a, &mut b]);
    assert!(events(&mut a).iter().any(|e| matches!(e, Event::QueryFailed { query, reason: QueryFailure::Error { code: 203, .. }, .. } if *query == q)));
    // Now get_peers (with scrape) returns the peer and a BEP-33 estimate of one downloader.
    let q = a.get_peers_at(now, b.local_addr(), hash, true).unwrap();
    shuttle(now, &mut [&mut a, &mut b]);
    let reply = events(&mut a)
        .into_iter()
        .find_map(|e| match e {
            Event::Reply { query, reply, .. } if query == q => Some(reply),
            _ => None,
        })
        .unwrap();
    assert_eq!(reply.peers, vec![addr("10.0.0.1:5000")]);
    assert!(
        (reply.scrape_peers.unwrap() - 1.0).abs() < 0.01,
        "{:?}",
        reply.scrape_peers
    );
    assert_eq!(reply.scrape_seeds, Some(0.0));
}

#[test]
fn sample_infohashes_answers_bep51() {
    let now = Instant::now();
    let mut a = engine(1, "10.0.0.1:6881", |c| c.read_only = true);
    let mut b = engine(2, "10.0.0.2:6881", |c| {
        c.sample_interval = Duration::from_secs(60)
    });
    for i in 0..30u8 {
        b.add_local_peer(now, InfoHash::v1([i; 20]), addr("10.9.9.9:1"), true);
    }
    let q = a.sample(now, b.local_addr(), Id20::ZERO).unwrap();
    shuttle(now, &mut [&mut a, &mut b]);
    let ev = events(&mut a);
    let reply = ev
        .iter()
        .find_map(|e| match e {
            Event::Reply { query, reply, .. } if *query == q => Some(reply),
            _ => None,
        })
        .unwrap();
    assert_eq!(reply.samples.len(), 20);
    assert_eq!(reply.num, Some(30));
    assert_eq!(reply.interval, Some(60));
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Samples { hashes, .. } if hashes.len() == 20))
    );
}

#[test]
fn timeouts_fail_queries_and_mark_nodes() {
    let t0 = Instant::now();
    let mut a = engine(1, "10.0.0.1:6881", |_| {});
    let q = a.ping(t0, addr("10.0.0.99:6881")).unwrap();
    assert!(a.poll_transmit().is_some());
    let when = a.poll_timeout().unwrap();
    assert!(when <= t0 + a.config().query_timeout);
    a.handle_timeout(t0 + a.config().query_timeout);
    assert!(events(&mut a).iter().any(|e| matches!(e, Event::QueryFailed { query, reason: QueryFailure::Timeout, .. } if *query == q)));
    assert_eq!(a.stats().timeouts, 1);
    assert_eq!(a.in_flight(), 0);
}

#[test]
fn per_ip_budget_defers_and_never_exceeds_dos_limit() {
    let t0 = Instant::now();
    let mut a = engine(1, "10.0.0.1:6881", |_| {});
    let dst = addr("10.0.0.2:6881");
    for _ in 0..60 {
        a.ping(t0, dst).unwrap();
    }
    // Burst of 4, the rest waits for budget.
    let mut sent = std::iter::from_fn(|| a.poll_transmit()).count();
    assert_eq!(sent, 4);
    assert_eq!(a.queued(), 56);
    // Over ten seconds at most 4 + 10 go out: far below libtorrent's 50 per 10 s.
    let mut now = t0;
    while now < t0 + Duration::from_secs(10) {
        now = a
            .poll_timeout()
            .unwrap()
            .max(now + Duration::from_millis(1));
        a.handle_timeout(now.min(t0 + Duration::from_secs(10)));
        sent += std::iter::from_fn(|| a.poll_transmit()).count();
    }
    assert!((13..=15).contains(&sent), "{sent}");
}

#[test]
fn global_budget_caps_total_rate() {
    let t0 = Instant::now();
    let mut a = engine(1, "10.0.0.1:6881", |c| {
        c.global_query_rate = Rate {
            per_second: 10.0,
            burst: 10.0,
        }
    });
    for i in 0..100u8 {
        a.ping(t0, SocketAddr::from(([10, 1, 0, i], 6881))).unwrap();
    }
    assert_eq!(std::iter::from_fn(|| a.poll_transmit()).count(), 10);
    a.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(std::iter::from_fn(|| a.poll_transmit()).count(), 10);
}

#[test]
fn malformed_and_unsolicited_are_counted_and_dropped() {
    let now = Instant::now();
    let mut a = engine(1, "10.0.0.1:6881", |_| {});
    for junk in [&b""[..], b"d", b"de", b"d1:y1:re", b"\xff\xfe", b"i1e"] {
        a.handle_datagram(now, addr("10.0.0.5:1"), junk);
    }
    assert_eq!(a.stats().malformed, 6);
    // A reply with no matching transaction.
    let fake = b"d1:rd2:id20:abcdefghij0123456789e1:t4:zzzz1:y1:re";
    a.handle_datagram(now, addr("10.0.0.5:1"), fake);
    assert_eq!(a.stats().unsolicited, 1);
    // A reply to a real transaction, but from the wrong address.
    a.ping(now, addr("10.0.0.2:6881")).unwrap();
    let q = a.poll_transmit().unwrap();
    let tid = Message::decode(&q.data).unwrap().tid.to_vec();
    let mut spoof = b"d1:rd2:id20:abcdefghij0123456789e1:t4:".to_vec();
    spoof.extend_from_slice(&tid);
    spoof.extend_from_slice(b"1:y1:re");
    a.handle_datagram(now, addr("10.0.0.3:6881"), &spoof);
    assert_eq!(a.stats().unsolicited, 2);
    assert_eq!(a.in_flight(), 1);
    assert!(a.routing_table().is_empty());
    assert!(
        a.poll_transmit().is_none(),
        "nothing is sent in answer to junk"
    );
}

#[test]
fn flood_from_one_address_is_bounded() {
    let t0 = Instant::now();
    let mut a = engine(1, "10.0.0.1:6881", |_| {});
    let from = addr("10.0.0.66:6881");
    let mut answered = 0;
    for i in 0..100_000u32 {
        let mut id = [0u8; 20];
        id[..4].copy_from_slice(&i.to_be_bytes());
        let mut buf = Vec::new();
        Message {
            tid: b"aa",
            version: None,
            ip: None,
            read_only: false,
            kind: Kind::Query(Query {
                id: Id20(id),
                method: Method::FindNode {
                    target: Id20(id),
                    want: Default::default(),
                },
            }),
        }
        .encode(&mut buf)
        .unwrap();
        a.handle_datagram(t0 + Duration::from_micros(u64::from(i)), from, &buf);
        answered += std::iter::from_fn(|| a.poll_transmit())
            .filter(|t| {
                t.dst == from && !matches!(Message::decode(&t.data).unwrap().kind, Kind::Query(_))
            })
            .count();
    }
    let _ = events(&mut a);
    // 0.1 s of flood: the answer budget (burst 20 + 5/s) bounds what we send back.
    assert!(answered <= 21, "answered {answered}");
    assert!(a.stats().queries_rate_limited >= 99_970);
    // State stays bounded: at most one node of that address is even considered.
    assert!(a.routing_table().len() <= 1);
    assert!(a.queued() <= a.config().max_pending_queries);
}

#[test]
fn unknown_method_with_target_answers_like_find_node() {
    let now = Instant::now();
    let mut a = engine(1, "10.0.0.1:6881", |_| {});
    let q = b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:vote_item1:t2:aa1:y1:qe";
    a.handle_datagram(now, addr("10.0.0.2:6881"), q);
    // Skip our own verification ping of the new querier; look at the answer.
    let answer = |a: &mut Engine| {
        std::iter::from_fn(|| a.poll_transmit())
            .find(|t| !matches!(Message::decode(&t.data).unwrap().kind, Kind::Query(_)))
            .unwrap()
    };
    let m = answer(&mut a);
    let m = Message::decode(&m.data).unwrap();
    assert!(matches!(m.kind, Kind::Response(_)), "{m:?}");
    let q = b"d1:ad2:id20:abcdefghij0123456789e1:q5:bogus1:t2:aa1:y1:qe";
    a.handle_datagram(now, addr("10.0.0.3:6881"), q);
    let t = answer(&mut a);
    match Message::decode(&t.data).unwrap().kind {
        Kind::Error(e) => assert_eq!(e.code, 204),
        k => panic!("{k:?}"),
    }
}

/// Builds a reply from `responder_id` to `our_query` carrying a BEP-42 `ip` field.
fn reply_with_ip(our_query: &[u8], responder_id: Id20, seen: SocketAddr) -> Vec<u8> {
    let q = Message::decode(our_query).unwrap();
    let mut buf = Vec::new();
    Message {
        tid: q.tid,
        version: None,
        ip: Some(seen),
        read_only: false,
        kind: Kind::Response(krpc::Response::new(responder_id)),
    }
    .encode(&mut buf)
    .unwrap();
    buf
}

#[test]
fn external_ip_vote_regenerates_a_bep42_id() {
    let now = Instant::now();
    let mut a = engine(1, "0.0.0.0:6881", |_| {});
    let old = a.id();
    let public: SocketAddr = addr("203.0.113.7:6881");
    for i in 1..=3u8 {
        let peer = SocketAddr::from(([198, 51, 100, i], 6881));
        a.ping(now, peer).unwrap();
        let q = a.poll_transmit().unwrap();
        // Responders' ids are valid BEP-42 ids for their IPs, so they are accepted either way.
        let rid = dht::bep42::id_for_ip(peer.ip(), i, [i; 17]);
        a.handle_datagram(now, peer, &reply_with_ip(&q.data, rid, public));
    }
    let ev = events(&mut a);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::ExternalIp { ip, .. } if *ip == public.ip())),
        "{ev:?}"
    );
    assert_ne!(a.id(), old);
    assert!(dht::bep42::is_valid(&a.id(), public.ip()));
    assert_eq!(a.external_ip(), Some(public.ip()));
    assert_eq!(a.routing_table().own_id(), a.id());
    a.routing_table().check_invariants().unwrap();
}

#[test]
fn enforce_mode_keeps_invalid_ids_out() {
    let now = Instant::now();
    for (mode, expect_in) in [
        (IdCheck::Enforce, false),
        (IdCheck::Prefer, true),
        (IdCheck::Off, true),
    ] {
        let mut a = engine(1, "0.0.0.0:6881", |c| c.id_check = mode);
        let peer = addr("198.51.100.9:6881");
        a.ping(now, peer).unwrap();
        let q = a.poll_transmit().unwrap();
        let bogus = Id20([0x42; 20]);
        a.handle_datagram(
            now,
            peer,
            &reply_with_ip(&q.data, bogus, addr("203.0.113.7:1")),
        );
        assert_eq!(
            a.routing_table().get(&bogus).is_some(),
            expect_in,
            "{mode:?}"
        );
        assert_eq!(a.stats().bep42_invalid, 1);
    }
}

#[test]
fn lookup_over_three_nodes_finds_peers() {
    let now = Instant::now();
    let mut a = engine(1, "10.0.0.1:6881", |_| {});
    let mut b = engine(2, "10.0.0.2:6881", |_| {});
    let mut c = engine(3, "10.0.0.3:6881", |_| {});
    // b knows c; a bootstraps from b only.
    b.ping(now, c.local_addr()).unwrap();
    shuttle(now, &mut [&mut a, &mut b, &mut c]);
    let hash = InfoHash::v1([7; 20]);
    c.add_local_peer(now, hash, addr("10.7.7.7:7777"), true);
    a.bootstrap(now, &[b.local_addr()]).unwrap();
    shuttle(now, &mut [&mut a, &mut b, &mut c]);
    assert!(
        a.routing_table().get(&c.id()).is_some(),
        "a learned c through b"
    );
    let _ = events(&mut a);
    let l = a.get_peers(now, hash, true, &[]).unwrap();
    // Budgets defer some queries: advance virtual time to each engine's next timer.
    let mut t = now;
    let mut done = None;
    for _ in 0..200 {
        shuttle(t, &mut [&mut a, &mut b, &mut c]);
        if let Some(r) = events(&mut a).into_iter().find_map(|e| match e {
            Event::LookupDone(r) if r.id == l => Some(r),
            _ => None,
        }) {
            done = Some(r);
            break;
        }
        t = [a.poll_timeout(), b.poll_timeout(), c.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap()
            .max(t);
        for e in [&mut a, &mut b, &mut c] {
            e.handle_timeout(t);
        }
    }
    let done = done.expect("lookup finished");
    assert_eq!(done.peers, vec![addr("10.7.7.7:7777")]);
    assert!(done.scrape_seeds.unwrap() > 0.5);
    assert!(
        done.closest.iter().all(|(_, tok)| tok.is_some()),
        "get_peers replies carry tokens"
    );
}
