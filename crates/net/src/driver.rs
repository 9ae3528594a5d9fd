//! The task that owns one UDP socket and one [`dht::Engine`] and drives it.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dht::{Engine, Event, LookupId, LookupResult, QueryFailure, QueryId, Transmit};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::command::{Command, DirectQuery, LookupRequest};
use crate::config::NodeConfig;
use crate::error::Error;
use crate::node::{DriverStats, NodeStats, Response};

/// Largest UDP payload; a smaller buffer would truncate datagrams silently.
const MAX_DATAGRAM: usize = 65_536;
/// How often waiters whose caller has gone away are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Pause after an unexpected receive error, so a broken socket cannot spin the task.
const RECV_ERROR_PAUSE: Duration = Duration::from_millis(10);

/// Creates the non-blocking UDP socket, with a larger receive buffer when asked.
pub(crate) fn bind_socket(
    addr: SocketAddr,
    recv_buffer: Option<usize>,
) -> Result<UdpSocket, Error> {
    use socket2::{Domain, Protocol, Socket, Type};
    let err = |source: io::Error| Error::Bind { addr, source };
    let socket =
        Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(err)?;
    if let Some(bytes) = recv_buffer
        && let Err(e) = socket.set_recv_buffer_size(bytes)
    {
        tracing::warn!(bytes, error = %e, "cannot set UDP receive buffer size");
    }
    socket.set_nonblocking(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    UdpSocket::from_std(socket.into()).map_err(err)
}

#[derive(Debug)]
struct QueryWaiter {
    reply: oneshot::Sender<Result<Response, Error>>,
}

/// What woke the task up.
enum Wake {
    Command(Option<Command>),
    Datagram(io::Result<(usize, SocketAddr)>),
    Timer,
}

#[derive(Debug)]
pub(crate) struct Driver {
    engine: Engine,
    socket: UdpSocket,
    commands: mpsc::Receiver<Command>,
    subscribers: Vec<mpsc::Sender<Event>>,
    max_subscribers: usize,
    queries: HashMap<QueryId, QueryWaiter>,
    lookups: HashMap<LookupId, oneshot::Sender<LookupResult>>,
    outbox: VecDeque<Transmit>,
    stats: DriverStats,
    started: Instant,
    last_sweep: Instant,
    recv_batch: usize,
    buf: Vec<u8>,
}

impl Driver {
    pub(crate) fn new(
        engine: Engine,
        socket: UdpSocket,
        commands: mpsc::Receiver<Command>,
        cfg: &NodeConfig,
    ) -> Self {
        let now = Instant::now();
        Self {
            engine,
            socket,
            commands,
            subscribers: Vec::new(),
            max_subscribers: cfg.max_subscribers,
            queries: HashMap::new(),
            lookups: HashMap::new(),
            outbox: VecDeque::new(),
            stats: DriverStats::default(),
            started: now,
            last_sweep: now,
            recv_batch: cfg.recv_batch.max(1),
            buf: vec![0; MAX_DATAGRAM],
        }
    }

    /// The task body: runs until a shutdown command or until every [`Node`](crate::Node)
    /// handle is gone.
    pub(crate) async fn run(mut self) {
        let local = self.engine.local_addr();
        let ack = loop {
            // The engine's drain order: transmits, then events, then ask for the next timeout.
            self.drain();
            self.send_outbox().await;
            let deadline = self.engine.poll_timeout();
            let wake = {
                let sleep = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    cmd = self.commands.recv() => Wake::Command(cmd),
                    r = self.socket.recv_from(&mut self.buf) => Wake::Datagram(r),
                    () = sleep => Wake::Timer,
                }
            };
            match wake {
                Wake::Command(None) => break None,
                Wake::Command(Some(cmd)) => {
                    if let Some(ack) = self.command(cmd) {
                        break Some(ack);
                    }
                }
                Wake::Datagram(r) => self.received(r).await,
                Wake::Timer => {}
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| d <= now) {
                self.engine.handle_timeout(now);
                self.drain();
            }
            if now.saturating_duration_since(self.last_sweep) >= SWEEP_EVERY {
                self.sweep(now);
            }
        };
        tracing::debug!(%local, "DHT node stopping");
        // Close the socket before acknowledging, so `shutdown().await` means it is closed.
        let Self {
            socket,
            queries,
            lookups,
            subscribers,
            commands,
            ..
        } = self;
        drop(socket);
        drop(queries);
        drop(lookups);
        drop(subscribers);
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
        drop(commands);
    }

    /// Feeds the datagram just read, then up to `recv_batch - 1` more that are already queued.
    async fn received(&mut self, first: io::Result<(usize, SocketAddr)>) {
        let mut r = first;
        for i in 0..self.recv_batch.max(1) {
            match r {
                Ok((n, from)) => {
                    self.engine
                        .handle_datagram(Instant::now(), from, &self.buf[..n]);
                    self.drain();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    self.stats.recv_errors += 1;
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
                    ) {
                        tracing::warn!(error = %e, "UDP receive failed");
                        tokio::time::sleep(RECV_ERROR_PAUSE).await;
                    }
                    return;
                }
            }
            // Read another only if this pass will handle it (reading past the batch would
            // drop a datagram on the floor).
            if i + 1 == self.recv_batch.max(1) {
                return;
            }
            r = self.socket.try_recv_from(&mut self.buf);
        }
    }

    /// Moves everything the engine wants to send into the outbox and dispatches its events.
    fn drain(&mut self) {
        while let Some(t) = self.engine.poll_transmit() {
            self.outbox.push_back(t);
        }
        while let Some(e) = self.engine.poll_event() {
            self.dispatch(e);
        }
    }

    async fn send_outbox(&mut self) {
        while let Some(t) = self.outbox.pop_front() {
            if let Err(e) = self.socket.send_to(&t.data, t.dst).await {
                self.stats.send_errors += 1;
                tracing::debug!(dst = %t.dst, error = %e, "UDP send failed");
            }
        }
    }

    fn dispatch(&mut self, event: Event) {
        match &event {
            Event::Reply {
                query,
                from,
                reply,
                rtt,
            } => {
                if let Some(w) = self.queries.remove(query) {
                    // The engine's rtt starts when the query left (after any budget wait).
                    let r = Response {
                        from: *from,
                        rtt: *rtt,
                        reply: reply.clone(),
                    };
                    let _ = w.reply.send(Ok(r));
                }
            }
            Event::QueryFailed { query, to, reason } => {
                if let Some(w) = self.queries.remove(query) {
                    let e = match reason {
                        QueryFailure::Timeout => Error::Timeout { to: *to },
                        QueryFailure::Error { code, message } => Error::Remote {
                            to: *to,
                            code: *code,
                            message: message.clone(),
                        },
                    };
                    let _ = w.reply.send(Err(e));
                }
            }
            Event::LookupDone(result) => {
                if let Some(tx) = self.lookups.remove(&result.id) {
                    let _ = tx.send(result.clone());
                }
            }
            Event::ExternalIp { ip, new_id } => {
                tracing::info!(%ip, %new_id, "external IP settled by vote; new BEP-42 node id");
            }
            _ => {}
        }
        self.forward(event);
    }

    /// Hands `event` to every subscriber with room for it; counts the ones without.
    fn forward(&mut self, event: Event) {
        if self.subscribers.is_empty() {
            return;
        }
        self.subscribers.retain(|s| !s.is_closed());
        let last = self.subscribers.len().saturating_sub(1);
        let mut event = Some(event);
        for (i, s) in self.subscribers.iter().enumerate() {
            let e = if i == last {
                event.take()
            } else {
                event.clone()
            };
            let Some(e) = e else { break };
            if let Err(mpsc::error::TrySendError::Full(_)) = s.try_send(e) {
                self.stats.events_dropped += 1;
            }
        }
    }

    /// Runs one command; returns the acknowledgement channel if it was a shutdown.
    fn command(&mut self, cmd: Command) -> Option<oneshot::Sender<()>> {
        let now = Instant::now();
        match cmd {
            Command::Query { addr, query, reply } => {
                let e = &mut self.engine;
                let started = match query {
                    DirectQuery::Ping => e.ping(now, addr),
                    DirectQuery::FindNode { target } => e.find_node_at(now, addr, target),
                    DirectQuery::Sample { target } => e.sample(now, addr, target),
                    DirectQuery::GetPeers { info_hash, scrape } => {
                        e.get_peers_at(now, addr, info_hash, scrape)
                    }
                    DirectQuery::Announce {
                        info_hash,
                        port,
                        token,
                    } => e.announce_at(now, addr, info_hash, port, token),
                };
                match started {
                    Ok(q) => {
                        let w = QueryWaiter { reply };
                        self.queries.insert(q, w);
                    }
                    Err(busy) => {
                        let _ = reply.send(Err(Error::Busy(busy)));
                    }
                }
            }
            Command::Lookup {
                request,
                started,
                done,
            } => {
                let e = &mut self.engine;
                let r = match request {
                    LookupRequest::Bootstrap(routers) => e.bootstrap(now, &routers),
                    LookupRequest::FindNode(target) => e.find_node(now, target),
                    LookupRequest::GetPeers {
                        info_hash,
                        scrape,
                        seeds,
                    } => e.get_peers(now, info_hash, scrape, &seeds),
                };
                match r {
                    Ok(id) => {
                        // Registered before the next drain, so a lookup that finished at once
                        // (nothing to ask) still reaches its waiter.
                        if let Some(done) = done {
                            self.lookups.insert(id, done);
                        }
                        let _ = started.send(Ok(id));
                    }
                    Err(busy) => {
                        let _ = started.send(Err(Error::Busy(busy)));
                    }
                }
            }
            Command::AddLocalPeer {
                info_hash,
                peer,
                seed,
                reply,
            } => {
                let ok = self.engine.add_local_peer(now, info_hash, peer, seed);
                let _ = reply.send(ok);
            }
            Command::Stats(reply) => {
                let _ = reply.send(self.snapshot(now));
            }
            Command::RoutingTable(reply) => {
                let nodes = self
                    .engine
                    .routing_table()
                    .iter()
                    .map(|e| e.info())
                    .collect();
                let _ = reply.send(nodes);
            }
            Command::Subscribe { events, reply } => {
                self.subscribers.retain(|s| !s.is_closed());
                let r = if self.subscribers.len() >= self.max_subscribers {
                    Err(Error::TooManySubscribers)
                } else {
                    self.subscribers.push(events);
                    Ok(())
                };
                let _ = reply.send(r);
            }
            Command::Shutdown(ack) => return Some(ack),
        }
        None
    }

    fn snapshot(&self, now: Instant) -> NodeStats {
        let e = &self.engine;
        let mut driver = self.stats.clone();
        driver.subscribers = self.subscribers.iter().filter(|s| !s.is_closed()).count();
        driver.waiting_queries = self.queries.len();
        driver.waiting_lookups = self.lookups.len();
        NodeStats {
            id: e.id(),
            local_addr: e.local_addr(),
            external_ip: e.external_ip(),
            routing_table_nodes: e.routing_table().len(),
            replacement_nodes: e.routing_table().replacement_len(),
            in_flight: e.in_flight(),
            queued: e.queued(),
            active_lookups: e.active_lookups(),
            stored_infohashes: e.stored_infohash_count(),
            uptime: now.saturating_duration_since(self.started),
            engine: e.stats().clone(),
            driver,
        }
    }

    /// Forgets waiters whose caller stopped waiting (it timed out or was cancelled).
    fn sweep(&mut self, now: Instant) {
        self.last_sweep = now;
        self.queries.retain(|_, w| !w.reply.is_closed());
        self.lookups.retain(|_, tx| !tx.is_closed());
    }
}
