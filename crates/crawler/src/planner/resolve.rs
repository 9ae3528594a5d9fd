//! How one candidate's peers are found and its metadata fetched: a state machine per
//! candidate, stepped by the [`Planner`](super::Planner) as the driver reports results.
//!
//! 1. `get_peers` at the node that sampled the hash.
//! 2. No peers there: an iterative lookup seeded with that node (it scrapes in its second
//!    phase), then the swarm check and the fetch. Peers, and the filter
//!    [`wants_swarm`](crate::filter::PreFetchFilter::wants_swarm): the scrape first, then the
//!    swarm check and the fetch. Otherwise: the swarm check, then the fetch with the scrape
//!    alongside.
//! 3. The sampling node's peers were tried and all failed: one more lookup (no seed: the
//!    routing table knows the nodes close to the hash), and a fetch from the peers not tried.
//! 4. Nothing fetched: give up with a cause (`no_peers` when no peer was ever tried, else the
//!    last failure's cause, `other` when there was none).

use std::net::SocketAddr;
use std::time::Instant;

use crate::filter::Candidate;

/// A BEP-33 estimate: seeders, leechers.
pub type Swarm = (f64, f64);

/// What a metadata fetch from a list of peers came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchReport {
    /// Whether verified metadata came back.
    pub ok: bool,
    /// How many peers of the list were connected to (a prefix of the list).
    pub attempted: usize,
    /// The last failure's cause (a `bitagent_dht_crawler_fetch_total` label).
    pub last_failure: Option<&'static str>,
}

impl FetchReport {
    /// Nothing tried (an empty list).
    const NOTHING: Self = Self {
        ok: false,
        attempted: 0,
        last_failure: None,
    };
}

/// What the resolution needs next.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// `get_peers` at the sampling node.
    GetPeers,
    /// A BEP-33 scrape of the sampling node.
    Scrape,
    /// An iterative lookup (with scrape).
    Lookup { seed: Option<SocketAddr> },
    /// A metadata fetch from these peers (under the global TCP cap).
    Fetch { peers: Vec<SocketAddr> },
    /// Fetched: the record is made with this swarm estimate.
    Finish { swarm: Option<Swarm> },
    /// Nothing fetched, for this cause.
    GiveUp { cause: &'static str },
    /// The swarm check dropped it (counted there).
    Dropped,
}

/// What the resolution asks of its planner: settings and the swarm check.
pub(crate) struct Policy<'a> {
    /// Peers tried per infohash.
    pub peers_per_hash: usize,
    /// Whether to scrape at all.
    pub scrape: bool,
    /// Whether the filter waits for the scrape before connecting.
    pub wants_swarm: bool,
    /// The swarm check: peers found, the estimate; `false` drops the candidate.
    pub swarm_check: &'a mut dyn FnMut(usize, Option<Swarm>) -> bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Stage {
    SourcePeers,
    FirstLookup,
    ScrapeFirst { peers: Vec<SocketAddr> },
    First { fetching: bool, scraping: bool },
    SecondLookup,
    Second,
    Over,
}

/// One candidate on its way to a record.
#[derive(Debug)]
pub(crate) struct Resolution {
    pub candidate: Candidate,
    pub started: Instant,
    stage: Stage,
    tried: Vec<SocketAddr>,
    /// The list of the fetch in flight.
    fetching: Vec<SocketAddr>,
    swarm: Option<Swarm>,
    fetched: bool,
    last_failure: Option<&'static str>,
    used_lookup: bool,
}

impl Resolution {
    /// A resolution, and its first step.
    pub(super) fn start(candidate: Candidate, now: Instant) -> (Self, Step) {
        let r = Self {
            candidate,
            started: now,
            stage: Stage::SourcePeers,
            tried: Vec::new(),
            fetching: Vec::new(),
            swarm: None,
            fetched: false,
            last_failure: None,
            used_lookup: false,
        };
        (r, Step::GetPeers)
    }

    /// Whether it has ended (finished, given up or dropped).
    pub(super) fn is_over(&self) -> bool {
        self.stage == Stage::Over
    }

    /// The sampling node's answer (empty on error).
    pub(super) fn on_peers(&mut self, peers: Vec<SocketAddr>, p: &mut Policy<'_>) -> Vec<Step> {
        if self.stage != Stage::SourcePeers {
            return Vec::new();
        }
        if peers.is_empty() {
            self.used_lookup = true;
            self.stage = Stage::FirstLookup;
            return vec![Step::Lookup {
                seed: Some(self.candidate.source),
            }];
        }
        if p.wants_swarm {
            self.stage = Stage::ScrapeFirst { peers };
            if p.scrape {
                return vec![Step::Scrape];
            }
            return self.on_scrape(None, p);
        }
        if !(p.swarm_check)(peers.len(), None) {
            return self.over(Step::Dropped);
        }
        self.stage = Stage::First {
            fetching: true,
            scraping: p.scrape,
        };
        let mut steps = Vec::new();
        if p.scrape {
            steps.push(Step::Scrape);
        }
        steps.extend(self.fetch(&peers, p));
        steps
    }

    /// A scrape's estimate (`None` on error or without one).
    pub(super) fn on_scrape(&mut self, swarm: Option<Swarm>, p: &mut Policy<'_>) -> Vec<Step> {
        match std::mem::replace(&mut self.stage, Stage::Over) {
            Stage::ScrapeFirst { peers } => {
                self.swarm = swarm;
                if !(p.swarm_check)(peers.len(), swarm) {
                    return self.over(Step::Dropped);
                }
                self.stage = Stage::First {
                    fetching: true,
                    scraping: false,
                };
                self.fetch(&peers, p)
            }
            Stage::First { fetching, .. } => {
                self.swarm = swarm;
                self.stage = Stage::First {
                    fetching,
                    scraping: false,
                };
                if fetching {
                    Vec::new()
                } else {
                    self.after_first()
                }
            }
            other => {
                self.stage = other;
                Vec::new()
            }
        }
    }

    /// A lookup's peers and estimate (`None` when it failed).
    pub(super) fn on_lookup(
        &mut self,
        found: Option<(Vec<SocketAddr>, Option<Swarm>)>,
        p: &mut Policy<'_>,
    ) -> Vec<Step> {
        match self.stage {
            Stage::FirstLookup => {
                let (peers, swarm) = found.unwrap_or_default();
                self.swarm = swarm;
                if peers.is_empty() {
                    return self.conclude();
                }
                if !(p.swarm_check)(peers.len(), swarm) {
                    return self.over(Step::Dropped);
                }
                self.stage = Stage::First {
                    fetching: true,
                    scraping: false,
                };
                self.fetch(&peers, p)
            }
            Stage::SecondLookup => {
                let Some((more, s)) = found else {
                    return self.conclude();
                };
                self.swarm = self.swarm.or(s);
                let fresh: Vec<SocketAddr> = more
                    .into_iter()
                    .filter(|a| !self.tried.contains(a))
                    .collect();
                if fresh.is_empty() {
                    return self.conclude();
                }
                self.stage = Stage::Second;
                self.fetch(&fresh, p)
            }
            _ => Vec::new(),
        }
    }

    /// How the fetch in flight ended.
    pub(super) fn on_fetch(&mut self, report: FetchReport) -> Vec<Step> {
        let attempted = report.attempted.min(self.fetching.len());
        self.tried.extend(self.fetching.drain(..).take(attempted));
        self.fetched = report.ok;
        match self.stage {
            Stage::First { scraping, .. } => {
                self.last_failure = report.last_failure;
                self.stage = Stage::First {
                    fetching: false,
                    scraping,
                };
                if scraping {
                    Vec::new()
                } else {
                    self.after_first()
                }
            }
            Stage::Second => {
                self.last_failure = report.last_failure.or(self.last_failure);
                self.conclude()
            }
            _ => Vec::new(),
        }
    }

    /// Starts a fetch from `peers`: up to `peers_per_hash` minus those tried, no repeats, no
    /// port 0. An empty list ends at once (nothing tried).
    fn fetch(&mut self, peers: &[SocketAddr], p: &mut Policy<'_>) -> Vec<Step> {
        let budget = p.peers_per_hash.saturating_sub(self.tried.len());
        let mut list: Vec<SocketAddr> = Vec::new();
        for a in peers {
            if list.len() >= budget {
                break;
            }
            if !self.tried.contains(a) && !list.contains(a) && a.port() != 0 {
                list.push(*a);
            }
        }
        if list.is_empty() {
            return self.on_fetch(FetchReport::NOTHING);
        }
        self.fetching = list.clone();
        vec![Step::Fetch { peers: list }]
    }

    /// Fetch and scrape of the first round are both done.
    fn after_first(&mut self) -> Vec<Step> {
        if !self.fetched && !self.used_lookup && !self.tried.is_empty() {
            self.stage = Stage::SecondLookup;
            return vec![Step::Lookup { seed: None }];
        }
        self.conclude()
    }

    fn conclude(&mut self) -> Vec<Step> {
        if self.fetched {
            let swarm = self.swarm;
            return self.over(Step::Finish { swarm });
        }
        let cause = if self.tried.is_empty() {
            "no_peers"
        } else {
            self.last_failure.unwrap_or("other")
        };
        self.over(Step::GiveUp { cause })
    }

    fn over(&mut self, last: Step) -> Vec<Step> {
        self.stage = Stage::Over;
        vec![last]
    }
}
