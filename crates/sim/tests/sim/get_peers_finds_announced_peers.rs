//! Peers stored on the K nodes closest to an infohash are found by an iterative `get_peers`
//! from the node farthest from it; a peer announced with the tokens of that lookup is found
//! by another node's `get_peers`.

use crate::common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use krpc::Id20;

#[test]
fn get_peers_finds_announced_peers() {
    let (seed, _seed) = common::seed("get_peers_finds_announced_peers", 0x5eed_0005);
    let mut net = common::bootstrapped(common::config(200, seed, 0.0), Duration::from_secs(20));
    let k = net.config().engine.k;
    let ih = net.random_id();
    let closest = net.true_closest(&ih, k, None);
    let by_id = |net: &sim::Network, id: &Id20| (0..net.len()).find(|&i| net.engine(i).id() == *id);
    let mut planted = BTreeSet::new();
    for (n, id) in closest.iter().enumerate() {
        let i = by_id(&net, id).unwrap();
        for p in 0..2u16 {
            let peer = SocketAddr::from(([192, 0, 2, n as u8], 50_000 + p));
            planted.insert(peer);
            net.command(i, |e, now| e.add_local_peer(now, ih.into(), peer, p == 0));
        }
    }
    // The node farthest from the infohash.
    let far = (0..net.len())
        .max_by_key(|&i| net.engine(i).id().distance(&ih))
        .unwrap();
    let id = net
        .command(far, |e, now| e.get_peers(now, ih.into(), true, &[]))
        .unwrap();
    let r = net.wait_lookups(&[(far, id)], net.now() + Duration::from_secs(60))[0]
        .clone()
        .unwrap_or_else(|| panic!("seed {seed}: get_peers never finished"));
    let got: BTreeSet<SocketAddr> = r.peers.iter().copied().collect();
    let found = planted.intersection(&got).count();
    println!(
        "seed {seed}: get_peers from node {far} found {found}/{} planted peers in {} queries \
         ({} responses); scrape seeds {:?} peers {:?}",
        planted.len(),
        r.queries,
        r.responses,
        r.scrape_seeds,
        r.scrape_peers
    );
    assert_eq!(
        found,
        planted.len(),
        "seed {seed}: get_peers missed planted peers"
    );
    assert!(r.scrape_seeds.is_some(), "seed {seed}: no BEP-33 scrape");

    // Announce ourselves with the tokens the lookup collected, then find it from elsewhere.
    let announcer_peer_port = 40_000;
    let mut announced = 0;
    for (node, token) in &r.closest {
        if let Some(t) = token.clone() {
            net.command(far, |e, now| {
                e.announce_at(now, node.addr, ih.into(), Some(announcer_peer_port), t)
            })
            .unwrap();
            announced += 1;
        }
    }
    net.run_for(Duration::from_secs(5));
    let me = SocketAddr::new(net.addr(far).ip(), announcer_peer_port);
    let other = loop {
        let o = net.random_full_node();
        if o != far {
            break o;
        }
    };
    let id = net
        .command(other, |e, now| e.get_peers(now, ih.into(), false, &[]))
        .unwrap();
    let r2 = net.wait_lookups(&[(other, id)], net.now() + Duration::from_secs(60))[0]
        .clone()
        .unwrap_or_else(|| panic!("seed {seed}: second get_peers never finished"));
    println!(
        "seed {seed}: announced to {announced} nodes; node {other} found {} peers",
        r2.peers.len()
    );
    assert!(announced >= k / 2, "seed {seed}: only {announced} tokens");
    assert!(
        r2.peers.contains(&me),
        "seed {seed}: announced peer not found"
    );
}
