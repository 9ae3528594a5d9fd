//! Answers to incoming queries (full-node mode only; a read-only node answers nothing).

use std::net::SocketAddr;
use std::time::Instant;

use infohash::InfoHash;
use krpc::{
    ErrorReply, Id20, Kind, Message, Method, NodeInfo, Nodes, Peers, Response, Samples, Want,
    error_code,
};

use crate::engine::Engine;
use crate::event::Event;

impl Engine {
    /// Builds and queues the answer to `q` from `from`.
    pub(crate) fn answer(
        &mut self,
        now: Instant,
        from: SocketAddr,
        tid: &[u8],
        q: &krpc::Query<'_>,
    ) {
        let k = self.cfg.k;
        let mut resp = Response::new(self.id);
        let nodes: Vec<NodeInfo>;
        let token;
        let peers: Vec<SocketAddr>;
        let scrape;
        let samples: Vec<u8>;
        let closest = |e: &Self, target: &Id20, want: &Want| -> Vec<NodeInfo> {
            // BEP-32: with no `want`, answer in the querier's family. We hold one family only,
            // our socket's, which is also the querier's.
            let fam_ok = want.is_unspecified() || if e.local.is_ipv6() { want.v6 } else { want.v4 };
            if fam_ok {
                e.table.closest(target, k, now)
            } else {
                Vec::new()
            }
        };
        match q.method {
            Method::Ping => {}
            Method::FindNode { target, want } => {
                nodes = closest(self, &target, &want);
                resp.nodes = Nodes::Infos(&nodes);
                resp.nodes6 = Nodes::Infos(&nodes);
            }
            Method::GetPeers {
                info_hash,
                want,
                noseed,
                scrape: want_scrape,
            } => {
                token = self.tokens.issue(from.ip());
                resp.token = Some(&token);
                peers = self
                    .store
                    .peers(&info_hash, noseed, self.cfg.max_values_per_reply, now);
                if want_scrape {
                    scrape = self.store.scrape(&info_hash, now);
                    if let Some((sd, pe)) = &scrape {
                        resp.bf_seeds = Some(&sd.0);
                        resp.bf_peers = Some(&pe.0);
                    }
                }
                if peers.is_empty() {
                    nodes = closest(self, &Id20::from(info_hash), &want);
                    resp.nodes = Nodes::Infos(&nodes);
                    resp.nodes6 = Nodes::Infos(&nodes);
                } else {
                    resp.values = Peers::Addrs(&peers);
                }
            }
            Method::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token: tok,
                seed,
            } => {
                if !self.tokens.verify(from.ip(), tok) {
                    self.send_error(from, tid, error_code::PROTOCOL, b"bad token");
                    return;
                }
                let port = if implied_port { from.port() } else { port };
                if port == 0 {
                    self.send_error(from, tid, error_code::PROTOCOL, b"bad port");
                    return;
                }
                let peer = SocketAddr::new(from.ip(), port);
                if self.store.announce(info_hash, peer, seed, now) {
                    self.push_event(Event::Announced { info_hash, peer });
                }
            }
            Method::SampleInfohashes { target, want } => {
                samples = self
                    .store
                    .sample(now, &mut self.rng)
                    .iter()
                    .flat_map(InfoHash::dht_key)
                    .collect();
                resp.samples = Samples::new(&samples);
                resp.interval = Some(self.cfg.sample_interval.as_secs() as i64);
                resp.num = Some(self.store.len() as i64);
                nodes = closest(self, &target, &want);
                resp.nodes = Nodes::Infos(&nodes);
                resp.nodes6 = Nodes::Infos(&nodes);
            }
            Method::Unknown {
                target, info_hash, ..
            } => match target.or(info_hash.map(Id20::from)) {
                // BEP-5: answer unknown methods that carry a target like find_node.
                Some(t) => {
                    nodes = closest(self, &t, &Want::default());
                    resp.nodes = Nodes::Infos(&nodes);
                    resp.nodes6 = Nodes::Infos(&nodes);
                }
                None => {
                    self.send_error(from, tid, error_code::METHOD_UNKNOWN, b"method unknown");
                    return;
                }
            },
        }
        let version = self.cfg.version;
        let msg = Message {
            tid,
            version: Some(&version),
            ip: Some(from),
            read_only: false,
            kind: Kind::Response(resp),
        };
        self.stats.queries_answered += 1;
        self.push_message(from, &msg);
    }

    pub(crate) fn send_error(&mut self, to: SocketAddr, tid: &[u8], code: i64, text: &[u8]) {
        let version = self.cfg.version;
        let msg = Message {
            tid,
            version: Some(&version),
            ip: Some(to),
            read_only: false,
            kind: Kind::Error(ErrorReply {
                code,
                message: text,
            }),
        };
        self.stats.queries_answered += 1;
        self.push_message(to, &msg);
    }
}
