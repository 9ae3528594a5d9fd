//! [`Node`]: the application's handle on one DHT node running in its own task.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use dht::{Event, Id20, LookupId, LookupResult, NodeInfo, Reply};
use infohash::InfoHash;
use tokio::sync::{mpsc, oneshot};

use crate::command::{Command, DirectQuery, LookupRequest};
use crate::config::NodeConfig;
use crate::driver::{Driver, bind_socket};
use crate::error::Error;

/// The answer to a direct query.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Where the answer came from.
    pub from: SocketAddr,
    /// Time from the driver accepting the command to the answer arriving (includes any wait
    /// for the engine's politeness budget).
    pub rtt: Duration,
    /// The answer itself.
    pub reply: Reply,
}

/// The driver's own counters (the engine's are in [`dht::Stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// `send_to` calls that failed (the datagram is lost, the node carries on).
    pub send_errors: u64,
    /// `recv_from` calls that failed.
    pub recv_errors: u64,
    /// Events not delivered because a subscriber's queue was full.
    pub events_dropped: u64,
    /// Event streams open.
    pub subscribers: usize,
    /// Direct queries whose caller is waiting for the answer.
    pub waiting_queries: usize,
    /// Lookups whose caller is waiting for the result.
    pub waiting_lookups: usize,
}

/// A snapshot of a node's state and counters.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStats {
    /// Our node id (it may change once after an external-IP vote, BEP-42).
    pub id: Id20,
    /// The bound socket address.
    pub local_addr: SocketAddr,
    /// Our external IP as agreed by a vote of responders, if any.
    pub external_ip: Option<IpAddr>,
    /// Nodes in the routing table.
    pub routing_table_nodes: usize,
    /// Nodes waiting in replacement caches.
    pub replacement_nodes: usize,
    /// Queries in flight.
    pub in_flight: usize,
    /// Queries waiting for their politeness budget.
    pub queued: usize,
    /// Iterative lookups in progress.
    pub active_lookups: usize,
    /// Infohashes in the peer store (from announces and `add_local_peer`).
    pub stored_infohashes: usize,
    /// Time since the node was bound.
    pub uptime: Duration,
    /// Engine counters.
    pub engine: dht::Stats,
    /// Driver counters.
    pub driver: DriverStats,
}

/// A stream of engine events, opened with [`Node::subscribe`]. Bounded: when it is full the
/// driver drops new events for it and counts them in [`DriverStats::events_dropped`].
#[derive(Debug)]
pub struct Events {
    rx: mpsc::Receiver<Event>,
}

impl Events {
    /// The next event, or `None` once the node has shut down.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }
}

/// A handle on a DHT node: one UDP socket and one [`dht::Engine`], driven by a tokio task.
///
/// Cheap to clone; every clone talks to the same task through a bounded command channel. The
/// task stops on [`Node::shutdown`] or when the last handle is dropped.
///
/// ```no_run
/// # async fn demo() -> Result<(), net::Error> {
/// use net::{Node, NodeConfig};
/// let node = Node::bind("127.0.0.1:0".parse().unwrap(), NodeConfig::default()).await?;
/// node.bootstrap(vec!["127.0.0.1:6881".parse().unwrap()]).await?;
/// let pong = node.ping("127.0.0.1:6882".parse().unwrap()).await?;
/// println!("{} answered in {:?}", pong.reply.id, pong.rtt);
/// node.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Node {
    tx: mpsc::Sender<Command>,
    local_addr: SocketAddr,
    max_wait: Duration,
    event_capacity: usize,
}

impl Node {
    /// Binds a UDP socket to `addr` and starts the node's task on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (like `tokio::spawn`).
    pub async fn bind(addr: SocketAddr, config: NodeConfig) -> Result<Self, Error> {
        let socket = bind_socket(addr, config.recv_buffer_bytes)?;
        let local_addr = socket
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let engine = dht::Engine::new(config.dht.clone(), local_addr, Instant::now());
        let (tx, rx) = mpsc::channel(config.command_capacity.max(1));
        let node = Self {
            tx,
            local_addr,
            max_wait: config.max_wait,
            event_capacity: config.event_capacity.max(1),
        };
        tracing::debug!(%local_addr, id = %engine.id(), "DHT node bound");
        tokio::spawn(Driver::new(engine, socket, rx, &config).run());
        Ok(node)
    }

    /// The bound socket address (with the port the OS chose, if `0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the node's task has stopped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    // ------------------------------------------------------------ direct queries

    /// Sends one direct query to `addr` and waits for its answer.
    pub async fn query(&self, addr: SocketAddr, query: DirectQuery) -> Result<Response, Error> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Query { addr, query, reply }).await?;
        self.wait(rx).await?
    }

    /// `ping` `addr`.
    pub async fn ping(&self, addr: SocketAddr) -> Result<Response, Error> {
        self.query(addr, DirectQuery::Ping).await
    }

    /// Asks `addr` for the nodes it knows closest to `target`.
    pub async fn find_node_at(&self, addr: SocketAddr, target: Id20) -> Result<Response, Error> {
        self.query(addr, DirectQuery::FindNode { target }).await
    }

    /// BEP-51: asks `addr` for a sample of the infohashes it stores.
    pub async fn sample(&self, addr: SocketAddr, target: Id20) -> Result<Response, Error> {
        self.query(addr, DirectQuery::Sample { target }).await
    }

    /// Asks `addr` for peers of `info_hash` (with a BEP-33 scrape if `scrape`).
    pub async fn get_peers_at(
        &self,
        addr: SocketAddr,
        info_hash: InfoHash,
        scrape: bool,
    ) -> Result<Response, Error> {
        self.query(addr, DirectQuery::GetPeers { info_hash, scrape })
            .await
    }

    /// Announces to `addr` that we are a peer of `info_hash`, with the `token` it gave us.
    pub async fn announce_at(
        &self,
        addr: SocketAddr,
        info_hash: InfoHash,
        port: Option<u16>,
        token: Vec<u8>,
    ) -> Result<Response, Error> {
        let query = DirectQuery::Announce {
            info_hash,
            port,
            token,
        };
        self.query(addr, query).await
    }

    // ------------------------------------------------------------ lookups

    /// Starts an iterative lookup without waiting for it; its result arrives as
    /// [`Event::LookupDone`] on the event streams.
    pub async fn start_lookup(&self, request: LookupRequest) -> Result<LookupId, Error> {
        let (started, rx) = oneshot::channel();
        let cmd = Command::Lookup {
            request,
            started,
            done: None,
        };
        self.send(cmd).await?;
        self.wait(rx).await?
    }

    /// Runs an iterative lookup and waits for its result.
    pub async fn lookup(&self, request: LookupRequest) -> Result<LookupResult, Error> {
        let (started, started_rx) = oneshot::channel();
        let (done, done_rx) = oneshot::channel();
        let cmd = Command::Lookup {
            request,
            started,
            done: Some(done),
        };
        self.send(cmd).await?;
        self.wait(started_rx).await??;
        self.wait(done_rx).await
    }

    /// Joins the DHT through `routers` (a `find_node` lookup for our own id) and waits until
    /// that lookup is done. An empty list reuses the routers given last time. The engine
    /// remembers them and goes back to them if its routing table ever empties.
    pub async fn bootstrap(&self, routers: Vec<SocketAddr>) -> Result<LookupResult, Error> {
        self.lookup(LookupRequest::Bootstrap(routers)).await
    }

    /// An iterative `find_node` lookup for `target`.
    pub async fn find_node(&self, target: Id20) -> Result<LookupResult, Error> {
        self.lookup(LookupRequest::FindNode(target)).await
    }

    /// An iterative `get_peers` lookup for `info_hash`, asking `seeds` first.
    pub async fn lookup_peers(
        &self,
        info_hash: InfoHash,
        scrape: bool,
        seeds: Vec<SocketAddr>,
    ) -> Result<LookupResult, Error> {
        let request = LookupRequest::GetPeers {
            info_hash,
            scrape,
            seeds,
        };
        self.lookup(request).await
    }

    // ------------------------------------------------------------ state

    /// Stores `peer` for `info_hash` as if it had announced itself (for labs and tests).
    /// Returns whether the store took it.
    pub async fn add_local_peer(
        &self,
        info_hash: InfoHash,
        peer: SocketAddr,
        seed: bool,
    ) -> Result<bool, Error> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::AddLocalPeer {
            info_hash,
            peer,
            seed,
            reply,
        };
        self.send(cmd).await?;
        self.wait(rx).await
    }

    /// A snapshot of the node's counters and state.
    pub async fn stats(&self) -> Result<NodeStats, Error> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Stats(reply)).await?;
        self.wait(rx).await
    }

    /// Our current node id.
    pub async fn id(&self) -> Result<Id20, Error> {
        Ok(self.stats().await?.id)
    }

    /// The routing table's nodes (ids and addresses), bucket by bucket.
    pub async fn routing_table(&self) -> Result<Vec<NodeInfo>, Error> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::RoutingTable(reply)).await?;
        self.wait(rx).await
    }

    /// Opens a bounded stream of the engine's events from now on (every event, including the
    /// replies and lookup results also delivered to the methods above).
    pub async fn subscribe(&self) -> Result<Events, Error> {
        let (events, events_rx) = mpsc::channel(self.event_capacity);
        let (reply, rx) = oneshot::channel();
        self.send(Command::Subscribe { events, reply }).await?;
        self.wait(rx).await??;
        Ok(Events { rx: events_rx })
    }

    /// Stops the node's task and waits until its socket is closed. Pending queries and
    /// lookups fail with [`Error::Shutdown`]; event streams end. Idempotent.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(reply)).await.is_ok() {
            let _ = tokio::time::timeout(self.max_wait, rx).await;
        } else {
            // Already stopped (or stopping): wait until the task has dropped its receiver.
            let _ = tokio::time::timeout(self.max_wait, self.tx.closed()).await;
        }
    }

    async fn send(&self, cmd: Command) -> Result<(), Error> {
        match tokio::time::timeout(self.max_wait, self.tx.send(cmd)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Error::Shutdown),
            Err(_) => Err(Error::Deadline(self.max_wait)),
        }
    }

    async fn wait<T>(&self, rx: oneshot::Receiver<T>) -> Result<T, Error> {
        match tokio::time::timeout(self.max_wait, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(Error::Shutdown),
            Err(_) => Err(Error::Deadline(self.max_wait)),
        }
    }
}
