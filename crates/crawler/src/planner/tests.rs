//! The planner on virtual time: no sockets, no sleeps, no clock but [`t0`] plus offsets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dht::{Id20, NodeInfo, Reply};
use infohash::InfoHash;
use testkit::rng::Rng as _;

use super::*;
use crate::filter::AllowAll;

const S: Duration = Duration::from_secs(1);

fn cfg(seed: u64) -> CrawlerConfig {
    let mut c = CrawlerConfig::scaled(1);
    c.seed = seed;
    c.sample_threshold = 300;
    c.stall_after = 30 * S;
    c
}

fn addr(i: u32) -> SocketAddr {
    SocketAddr::from(([127, 1, (i >> 8) as u8, i as u8], 6881))
}

fn node(i: u32) -> NodeInfo {
    let mut id = [0u8; 20];
    id[..4].copy_from_slice(&i.to_be_bytes());
    NodeInfo {
        id: Id20(id),
        addr: addr(i),
    }
}

fn drain(p: &mut Planner) -> Vec<Action> {
    std::iter::from_fn(|| p.poll_action()).collect()
}

fn samples(hashes: &[InfoHash]) -> Reply {
    Reply {
        samples: hashes.to_vec(),
        num: Some(1000),
        interval: Some(60),
        ..Reply::default()
    }
}

/// Infohash `i` of node `source`: uniformly random like a SHA-1 (the seen filter relies on it).
fn hash(source: u32, i: u32) -> InfoHash {
    let mut h = [0u8; 20];
    testkit::seeded(u64::from(source) << 32 | u64::from(i)).fill(&mut h);
    InfoHash::v1(h)
}

/// A planner already sampling (threshold reached) with `nodes` in its crawl table.
fn sampling_planner(c: CrawlerConfig, nodes: u32, t: Instant) -> Planner {
    let mut p = Planner::new(c, Arc::new(AllowAll), false, t);
    let saved: Vec<NodeInfo> = (1..=nodes).map(node).collect();
    p.handle_saved_nodes(t, &saved);
    p.handle_tick(t, 300);
    assert!(p.is_sampling());
    p
}

/// Feeds samples from `source` and the store's "not stored" answer, returning the actions.
fn sample_and_queue(p: &mut Planner, t: Instant, source: u32, n: u32) -> Vec<Action> {
    let hashes: Vec<InfoHash> = (0..n).map(|i| hash(source, i)).collect();
    p.handle_sample(t, addr(source), Ok(&samples(&hashes)));
    p.handle_tick(t, 300);
    let actions = drain(p);
    let stored = actions
        .iter()
        .find_map(|a| match a {
            Action::CheckStored { hashes } => Some(hashes.len()),
            _ => None,
        })
        .expect("a store lookup");
    p.handle_stored(t, 1_700_000_000, Some(vec![false; stored]));
    drain(p)
}

fn get_peers(actions: &[Action]) -> Vec<(ResolveId, SocketAddr)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::GetPeers { id, source, .. } => Some((*id, *source)),
            _ => None,
        })
        .collect()
}

#[test]
fn sampling_starts_when_discovery_stalls_on_a_small_network() {
    let t = t0();
    let mut p = Planner::new(cfg(1), Arc::new(AllowAll), false, t);
    p.handle_saved_nodes(t, &[node(1), node(2)]);
    p.handle_tick(t, 10);
    let first = drain(&mut p);
    assert!(!p.is_sampling());
    assert!(first.contains(&Action::ReadRoutingTable));
    assert!(
        first.iter().any(|a| matches!(a, Action::FindNode { .. }))
            && !first.iter().any(|a| matches!(a, Action::Sample { .. })),
        "discovery asks find_node: {first:?}"
    );
    // Growth restarts the stall clock.
    p.handle_tick(t + 20 * S, 11);
    p.handle_tick(t + 49 * S, 11);
    assert!(!p.is_sampling(), "stalled for 29 s only");
    p.handle_tick(t + 50 * S, 11);
    assert!(p.is_sampling(), "stalled for 30 s");
}

#[test]
fn sampling_starts_at_the_threshold_on_a_big_network() {
    let t = t0();
    let mut p = Planner::new(cfg(1), Arc::new(AllowAll), false, t);
    p.handle_saved_nodes(t, &[node(1)]);
    p.handle_tick(t, 299);
    assert!(!p.is_sampling());
    let _ = drain(&mut p);
    // The node asked find_node answers; it becomes due again once sampling starts.
    p.handle_find_node(t, addr(1), Ok(&Reply::default()));
    p.handle_tick(t + S, 300);
    assert!(p.is_sampling());
    let actions = drain(&mut p);
    assert!(
        actions.contains(&Action::Sample {
            addr: addr(1),
            target: match actions.iter().find(|a| matches!(a, Action::Sample { .. })) {
                Some(Action::Sample { target, .. }) => *target,
                _ => panic!("no sample in {actions:?}"),
            },
        }),
        "the discovered node is sampled at once"
    );
}

#[test]
fn a_node_is_not_sampled_again_before_its_interval() {
    let t = t0();
    let mut p = sampling_planner(cfg(2), 1, t);
    let sampled = |actions: &[Action]| {
        actions
            .iter()
            .any(|a| matches!(a, Action::Sample { addr: a, .. } if *a == addr(1)))
    };
    assert!(sampled(&drain(&mut p)));
    p.handle_sample(t, addr(1), Ok(&samples(&[hash(1, 0)])));
    for s in [1, 30, 59] {
        p.handle_tick(t + s * S, 300);
        assert!(!sampled(&drain(&mut p)), "sampled again after {s} s of 60");
    }
    p.handle_tick(t + 60 * S, 300);
    assert!(sampled(&drain(&mut p)), "due after its interval");
}

#[test]
fn a_busy_sampling_node_does_not_starve_the_others() {
    let t = t0();
    let mut c = cfg(3);
    c.per_source_in_flight = 2;
    c.resolve_concurrency = 10;
    let mut p = sampling_planner(c, 3, t);
    let _ = drain(&mut p);
    // Node 1's sample brings 20 hashes, nodes 2 and 3 one each, all in one store lookup.
    let h1: Vec<InfoHash> = (0..20).map(|i| hash(1, i)).collect();
    p.handle_sample(t, addr(1), Ok(&samples(&h1)));
    p.handle_sample(t, addr(2), Ok(&samples(&[hash(2, 0)])));
    let started = sample_and_queue(&mut p, t, 3, 1);
    let started = get_peers(&started);
    let sources: Vec<SocketAddr> = started.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        sources,
        vec![addr(1), addr(2), addr(3), addr(1)],
        "round robin over the sampling nodes, at most two of node 1 in flight"
    );
    assert_eq!(p.queued(), 18);
    // One of node 1's ends (no peers anywhere): the next of node 1 starts.
    let (first, _) = started[0];
    p.handle_peers(t, first, Vec::new());
    assert!(get_peers(&drain(&mut p)).is_empty(), "still in flight");
    p.handle_lookup(t, first, None);
    let next = get_peers(&drain(&mut p));
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].1, addr(1));
    assert_eq!(p.counts().fetch.get("no_peers"), Some(&1));
}

/// A planner with one candidate in resolution (scrape on, the filter does not wait for it).
fn one_candidate(t: Instant) -> (Planner, ResolveId, SocketAddr) {
    let mut p = sampling_planner(cfg(4), 1, t);
    let _ = drain(&mut p);
    let started = get_peers(&sample_and_queue(&mut p, t, 1, 1));
    assert_eq!(started.len(), 1);
    (p, started[0].0, started[0].1)
}

fn peer(i: u8) -> SocketAddr {
    SocketAddr::from(([127, 9, 0, i], 6881))
}

fn fetches(actions: &[Action]) -> Vec<Vec<SocketAddr>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Fetch { peers, .. } => Some(peers.clone()),
            _ => None,
        })
        .collect()
}

fn lookups(actions: &[Action]) -> Vec<Option<SocketAddr>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Lookup { seed, .. } => Some(*seed),
            _ => None,
        })
        .collect()
}

#[test]
fn no_peers_at_the_source_goes_to_a_lookup_and_never_a_second() {
    let t = t0();
    let (mut p, id, source) = one_candidate(t);
    p.handle_peers(t, id, Vec::new());
    assert_eq!(
        lookups(&drain(&mut p)),
        vec![Some(source)],
        "seeded with the source"
    );
    p.handle_lookup(t, id, Some((vec![peer(1), peer(2)], Some((3.0, 1.0)))));
    assert_eq!(fetches(&drain(&mut p)), vec![vec![peer(1), peer(2)]]);
    let failed = FetchReport {
        ok: false,
        attempted: 2,
        last_failure: Some("timeout"),
    };
    p.handle_fetch(t, id, failed);
    let after = drain(&mut p);
    assert!(
        lookups(&after).is_empty(),
        "no second lookup after a lookup: {after:?}"
    );
    assert_eq!(p.counts().fetch.get("timeout"), Some(&1));
    assert!(p.is_idle());
}

#[test]
fn when_the_source_peers_all_fail_exactly_one_more_lookup() {
    let t = t0();
    let (mut p, id, _) = one_candidate(t);
    p.handle_peers(t, id, vec![peer(1), peer(2)]);
    let first = drain(&mut p);
    assert_eq!(fetches(&first), vec![vec![peer(1), peer(2)]]);
    assert!(
        first.iter().any(|a| matches!(a, Action::Scrape { .. })),
        "the scrape runs alongside"
    );
    let failed = |last| FetchReport {
        ok: false,
        attempted: 2,
        last_failure: last,
    };
    p.handle_fetch(t, id, failed(Some("refused")));
    assert!(lookups(&drain(&mut p)).is_empty(), "waits for the scrape");
    p.handle_scrape(t, id, None);
    assert_eq!(lookups(&drain(&mut p)), vec![None], "one lookup, unseeded");
    p.handle_lookup(t, id, Some((vec![peer(2), peer(3)], Some((5.0, 2.0)))));
    assert_eq!(
        fetches(&drain(&mut p)),
        vec![vec![peer(3)]],
        "only peers not tried"
    );
    p.handle_fetch(
        t,
        id,
        FetchReport {
            ok: false,
            attempted: 1,
            last_failure: None,
        },
    );
    let after = drain(&mut p);
    assert!(lookups(&after).is_empty(), "no third lookup: {after:?}");
    // The last failure with a cause is reported.
    assert_eq!(p.counts().fetch.get("refused"), Some(&1));
    assert!(p.is_idle());
}

#[test]
fn give_up_causes() {
    let t = t0();
    // The lookup finds nothing: no peer was ever tried.
    let (mut p, id, _) = one_candidate(t);
    p.handle_peers(t, id, Vec::new());
    p.handle_lookup(t, id, Some((Vec::new(), None)));
    assert_eq!(p.counts().fetch.get("no_peers"), Some(&1));
    // Peers only with port 0: nothing to connect to.
    let (mut p, id, _) = one_candidate(t);
    p.handle_peers(t, id, vec![SocketAddr::from(([127, 9, 0, 1], 0))]);
    p.handle_scrape(t, id, None);
    assert_eq!(p.counts().fetch.get("no_peers"), Some(&1));
    // Tried, failed without a cause.
    let (mut p, id, _) = one_candidate(t);
    p.handle_peers(t, id, vec![peer(1)]);
    p.handle_scrape(t, id, None);
    let failed = FetchReport {
        ok: false,
        attempted: 1,
        last_failure: None,
    };
    p.handle_fetch(t, id, failed);
    p.handle_lookup(t, id, None);
    assert_eq!(p.counts().fetch.get("other"), Some(&1));
    assert!(p.is_idle());
}

#[test]
fn a_fetched_candidate_holds_its_slot_until_finished() {
    let t = t0();
    let (mut p, id, _) = one_candidate(t);
    p.handle_peers(t, id, vec![peer(1)]);
    let _ = drain(&mut p);
    p.handle_scrape(t, id, Some((7.0, 2.0)));
    let ok = FetchReport {
        ok: true,
        attempted: 1,
        last_failure: None,
    };
    p.handle_fetch(t + 3 * S, id, ok);
    let finish = drain(&mut p);
    assert!(
        matches!(&finish[..], [Action::Finish { swarm: Some((s, l)), took, .. }]
            if *s == 7.0 && *l == 2.0 && *took == 3 * S),
        "{finish:?}"
    );
    assert_eq!(p.counts().fetch.get("ok"), Some(&1));
    assert_eq!(p.resolving(), 0);
    assert!(!p.is_idle(), "the post-fetch stage holds the slot");
    p.handle_finished(t, id);
    assert!(p.is_idle());
}

#[test]
fn an_aborted_task_frees_its_slots() {
    let t = t0();
    let mut c = cfg(5);
    c.resolve_concurrency = 1;
    c.fetch_concurrency = 1;
    let mut p = sampling_planner(c, 2, t);
    let _ = drain(&mut p);
    p.handle_sample(t, addr(1), Ok(&samples(&[hash(1, 0)])));
    let started = get_peers(&sample_and_queue(&mut p, t, 2, 1));
    assert_eq!(started.len(), 1, "one resolution at a time");
    let (id, _) = started[0];
    p.handle_peers(t, id, vec![peer(1)]);
    assert_eq!(fetches(&drain(&mut p)).len(), 1);
    // The fetch task panics: the resolution ends, its TCP and resolution slots are free.
    p.handle_aborted(t, id);
    let next = get_peers(&drain(&mut p));
    assert_eq!(next.len(), 1, "the next candidate starts");
    assert_eq!(p.counts().fetch.get("other"), Some(&1));
    let (id2, _) = next[0];
    p.handle_peers(t, id2, vec![peer(2)]);
    assert_eq!(
        fetches(&drain(&mut p)),
        vec![vec![peer(2)]],
        "the TCP slot is free"
    );
}

#[test]
fn saved_nodes_of_the_other_family_stay_out_of_the_crawl_table() {
    let t = t0();
    let v6 = NodeInfo {
        id: Id20([6; 20]),
        addr: "[::1]:6881".parse().unwrap(),
    };
    let unspecified = NodeInfo {
        id: Id20([9; 20]),
        addr: "0.0.0.0:6881".parse().unwrap(),
    };
    let saved = [node(1), v6, unspecified];
    let mut p4 = Planner::new(cfg(6), Arc::new(AllowAll), false, t);
    p4.handle_saved_nodes(t, &saved);
    assert_eq!(p4.crawl_table().len(), 1);
    assert!(p4.crawl_table().contains(&addr(1)));
    let mut p6 = Planner::new(cfg(6), Arc::new(AllowAll), true, t);
    p6.handle_saved_nodes(t, &saved);
    assert_eq!(p6.crawl_table().len(), 1);
    assert!(p6.crawl_table().contains(&v6.addr));
}

/// A scripted crawl: discovery, sampling, resolutions; every input drawn from `script_seed`.
fn script(planner_seed: u64, script_seed: u64) -> Vec<Action> {
    let t = t0();
    let mut rng = testkit::seeded(script_seed);
    let mut c = cfg(planner_seed);
    c.stall_after = 5 * S;
    let mut p = Planner::new(c, Arc::new(AllowAll), false, t);
    let saved: Vec<NodeInfo> = (1..=20).map(node).collect();
    p.handle_saved_nodes(t, &saved);
    let mut log = Vec::new();
    for step in 0..200u32 {
        let now = t + Duration::from_millis(100 * u64::from(step));
        p.handle_tick(now, 50 + (step as usize).min(20));
        let mut todo: VecDeque<Action> = drain(&mut p).into();
        while let Some(a) = todo.pop_front() {
            match &a {
                Action::FindNode { addr, .. } => {
                    let r = Reply {
                        nodes: vec![node(rng.random_range(1..200))],
                        ..Reply::default()
                    };
                    p.handle_find_node(now, *addr, Ok(&r));
                }
                Action::Sample { addr, .. } => {
                    let hs: Vec<InfoHash> = (0..rng.random_range(0..5))
                        .map(|_| hash(rng.random_range(0..100), rng.random_range(0..50)))
                        .collect();
                    p.handle_sample(now, *addr, Ok(&samples(&hs)));
                }
                Action::CheckStored { hashes } => {
                    let known = hashes.iter().map(|_| rng.random_bool(0.2)).collect();
                    p.handle_stored(now, 1_700_000_000, Some(known));
                }
                Action::GetPeers { id, .. } => {
                    let peers = (0..rng.random_range(0..3)).map(peer).collect();
                    p.handle_peers(now, *id, peers);
                }
                Action::Lookup { id, .. } => p.handle_lookup(now, *id, None),
                Action::Scrape { id, .. } => p.handle_scrape(now, *id, None),
                Action::Fetch { id, peers, .. } => {
                    let report = FetchReport {
                        ok: rng.random_bool(0.5),
                        attempted: peers.len(),
                        last_failure: Some("timeout"),
                    };
                    p.handle_fetch(now, *id, report);
                }
                Action::Finish { id, .. } => p.handle_finished(now, *id),
                Action::ReadRoutingTable | Action::Touch { .. } => {}
            }
            log.push(a);
            todo.extend(drain(&mut p));
        }
    }
    log
}

#[test]
fn the_same_seed_gives_the_same_decisions() {
    let seed = testkit::rng::seed_or(0x5eed);
    let _guard = testkit::SeedGuard::new("planner decisions", seed);
    let a = script(seed, 11);
    assert!(
        a.iter().any(|a| matches!(a, Action::Sample { .. })),
        "the script samples"
    );
    assert!(
        a.iter().any(|a| matches!(a, Action::Finish { .. })),
        "and fetches"
    );
    assert_eq!(
        a,
        script(seed, 11),
        "same seed, same inputs: same decisions"
    );
    assert_ne!(a, script(seed ^ 1, 11), "the seed picks the targets");
}
