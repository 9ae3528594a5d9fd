//! Misbehaving metadata peers on loopback, for robustness tests of the metadata fetcher and the
//! crawler built on it.
//!
//! A [`HostilePeer`] listens on a loopback TCP address and plays one [`Hostility`] on every
//! connection: it reads the client's BitTorrent handshake, then misbehaves in its own way (a
//! 4 GiB `metadata_size`, corrupted pieces, silence, a hang-up in the middle of a piece,
//! garbage, a flood, one byte at a time, ...). [`Hostility::Honest`] serves the metadata
//! correctly, so a test can show that its failures come from the hostility and not from the
//! harness. [`Hostility::expected_cause`] gives the [`peerwire::FetchError::cause`] label a
//! fetcher with default limits counts against each kind.
//!
//! The peer is bounded itself: it never buffers more than one small client message, reads at
//! most [`HostileConfig::max_read`] bytes per connection, closes connections idle for
//! [`HostileConfig::idle_timeout`] or older than [`HostileConfig::lifetime`], caps the number of
//! open connections, and stops every task on [`HostilePeer::shutdown`] or drop. It only ever
//! binds loopback addresses.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use lab::hostile::{HostilePeer, Hostility};
//! let info = b"d6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae".to_vec();
//! let peer = HostilePeer::start("127.0.3.1:0".parse().unwrap(), info, Hostility::Stall).await?;
//! // ... point a fetcher at peer.addr() for peer.info_hash(): it times out ...
//! peer.shutdown().await;
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use infohash::InfoHash;
use peerwire::SERVE_UT_METADATA_ID;
use peerwire::extension::{self, ExtHandshake, encode_ext_handshake};
use peerwire::handshake::{self, HANDSHAKE_LEN, Handshake, encode_handshake_with};
use peerwire::message::{self, EXTENDED, Header, LEN_PREFIX};
use peerwire::metadata::{self, MetadataMsg, PIECE_SIZE};
use rand::{RngCore as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use sha1::{Digest as _, Sha1};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

/// The `metadata_size` [`Hostility::HugeMetadataSize`] announces: 4 GiB.
pub const HUGE_METADATA_SIZE: u64 = 4 << 30;

/// The `metadata_size` [`Hostility::MetadataSizeOverCap`] announces: one byte over the
/// fetcher's default cap (`FetchConfig::default().max_metadata_size`, 10 MiB).
pub const OVER_CAP_METADATA_SIZE: u64 = (10 << 20) + 1;

/// Length prefix of each message [`Hostility::Flood`] sends: 1 MiB, within the fetcher's
/// default `max_message_len` (1 MiB + 16 KiB), so a default fetcher buffers each one whole.
pub const FLOOD_MESSAGE_LEN: u32 = 1 << 20;

/// The extension id [`Hostility::Flood`] sends its messages with: one no fetcher speaks.
pub const FLOOD_EXTENSION_ID: u8 = 0xEE;

/// Bytes of garbage [`Hostility::Garbage`] and [`Hostility::GarbageExtHandshake`] send.
pub const GARBAGE_LEN: usize = 4096;

/// The peer id every hostile peer announces.
pub const HOSTILE_PEER_ID: [u8; 20] = *b"-LH0001-hostilepeer0";

/// The client name (`v`) in a hostile peer's extension handshake.
const CLIENT_NAME: &[u8] = b"BitAgent lab hostile peer";

/// Longest client message a hostile peer reads (a fetcher only sends handshakes and
/// requests); a longer length prefix closes the connection.
const MAX_CLIENT_MESSAGE: u32 = 64 << 10;

/// Requests [`Hostility::RequestFlood`] writes per batch.
const REQUEST_FLOOD_BATCH: u32 = 1024;

/// Bytes read from the client per `read` call.
const READ_CHUNK: usize = 4096;

/// Pause after a failed `accept` (out of file descriptors, say) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How a [`HostilePeer`] (mis)behaves on each connection, after reading the client's
/// BitTorrent handshake.
///
/// Every kind but [`Honest`](Hostility::Honest) claims to have whatever torrent the client asks
/// for (it answers with the client's info hash), so it misbehaves for any fetch pointed at it.
/// The metadata size it announces (unless the kind is about the size) and the pieces it sends
/// come from the peer's `info_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hostility {
    /// The control: serves `info_bytes` correctly, and only for their info hash (a client
    /// asking for another torrent is hung up on, as libtorrent does).
    Honest,
    /// Announces a `metadata_size` of [`HUGE_METADATA_SIZE`] (4 GiB), then stalls.
    HugeMetadataSize,
    /// Announces a `metadata_size` of [`OVER_CAP_METADATA_SIZE`] (the default cap plus one
    /// byte), then stalls.
    MetadataSizeOverCap,
    /// Answers every request with a piece of the right size and `total_size` whose bytes are
    /// corrupted, so the assembled metadata fails its hash check.
    WrongPieces,
    /// Answers every request with a piece one byte short.
    ShortPieces,
    /// Completes both handshakes, then never answers a request (it keeps reading them).
    Stall,
    /// Reads the client's handshake and never sends a byte.
    Silent,
    /// Completes both handshakes, sends the first half of the first piece message, then closes
    /// its end (a clean FIN, so the half piece is delivered).
    CloseMidPiece,
    /// Answers the handshake with [`GARBAGE_LEN`] random bytes (never starting like the
    /// protocol string).
    Garbage,
    /// Sends a good handshake, then an extension handshake whose body is [`GARBAGE_LEN`]
    /// random bytes instead of a bencoded dictionary.
    GarbageExtHandshake,
    /// Completes both handshakes, then sends a message with a length prefix of `u32::MAX` and
    /// streams its endless body (up to [`HostileConfig::flood_bytes`]).
    OversizedMessage,
    /// Completes both handshakes, then floods messages of [`FLOOD_MESSAGE_LEN`] for an unknown
    /// extension ([`FLOOD_EXTENSION_ID`]) instead of answering (up to
    /// [`HostileConfig::flood_bytes`]), then stalls.
    Flood,
    /// Behaves like [`Honest`](Hostility::Honest) but for any info hash, writing one byte per
    /// [`HostileConfig::trickle_interval`] (slowloris).
    Slowloris,
    /// Completes both handshakes, then rejects every request.
    RejectAll,
    /// Completes the handshakes, but its extension handshake disables `ut_metadata` (id 0) and
    /// has no `metadata_size`.
    NoMetadataSupport,
    /// Answers with a handshake without the BEP-10 extension bit, then stalls.
    NoExtensions,
    /// Answers with a handshake for a different info hash (the requested one, last byte
    /// flipped), then stalls.
    WrongInfoHash,
    /// Completes both handshakes, then floods the client with `ut_metadata` requests of its
    /// own (up to [`HostileConfig::flood_bytes`]) while never reading its answers nor
    /// answering its requests, then stalls.
    RequestFlood,
}

impl Hostility {
    /// Every kind, [`Honest`](Hostility::Honest) first.
    pub const ALL: [Self; 18] = [
        Self::Honest,
        Self::HugeMetadataSize,
        Self::MetadataSizeOverCap,
        Self::WrongPieces,
        Self::ShortPieces,
        Self::Stall,
        Self::Silent,
        Self::CloseMidPiece,
        Self::Garbage,
        Self::GarbageExtHandshake,
        Self::OversizedMessage,
        Self::Flood,
        Self::Slowloris,
        Self::RejectAll,
        Self::NoMetadataSupport,
        Self::NoExtensions,
        Self::WrongInfoHash,
        Self::RequestFlood,
    ];

    /// The [`peerwire::FetchError::cause`] label a fetch of the peer's torrent fails with, or
    /// `None` for [`Honest`](Hostility::Honest) (the fetch succeeds).
    ///
    /// This holds for a fetcher with `FetchConfig`'s default limits (`max_metadata_size`,
    /// `max_message_len`) whose deadlines end before the peer's
    /// [`HostileConfig::idle_timeout`] and [`HostileConfig::lifetime`] (past those the peer
    /// hangs up, and a waiting fetch ends `closed` instead of `timeout`).
    pub fn expected_cause(self) -> Option<&'static str> {
        Some(match self {
            Self::Honest => return None,
            Self::HugeMetadataSize | Self::MetadataSizeOverCap => "too_big",
            Self::WrongPieces => "hash_mismatch",
            Self::ShortPieces | Self::GarbageExtHandshake | Self::OversizedMessage => "protocol",
            Self::Stall | Self::Silent | Self::Flood | Self::Slowloris | Self::RequestFlood => {
                "timeout"
            }
            Self::CloseMidPiece => "closed",
            Self::Garbage | Self::WrongInfoHash => "handshake",
            Self::RejectAll => "rejected",
            Self::NoMetadataSupport => "no_metadata_support",
            Self::NoExtensions => "no_extension_support",
        })
    }
}

/// The bounds and knobs of a [`HostilePeer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostileConfig {
    /// A connection on which nothing could be read or written for this long is closed.
    /// Default 70 s: longer than a default fetch (`FetchConfig::total_timeout` is 60 s), so a
    /// stalling peer is seen to stall rather than hang up.
    pub idle_timeout: Duration,
    /// Every connection is closed this long after it was accepted, whatever it is doing.
    /// Default 120 s.
    pub lifetime: Duration,
    /// Most bytes read from one client; past this the connection is closed. Default 1 MiB (a
    /// fetcher sends a few hundred bytes).
    pub max_read: u64,
    /// Most bytes [`Hostility::Flood`] and [`Hostility::OversizedMessage`] write per
    /// connection. Default 64 MiB.
    pub flood_bytes: u64,
    /// The pause before each byte [`Hostility::Slowloris`] writes. Default 100 ms.
    pub trickle_interval: Duration,
    /// Most connections open at once; more are accepted (and counted) and closed at once.
    /// Default 1024.
    pub max_connections: usize,
    /// Seed of the garbage; connection *n* (counting from 0) uses `seed + n`. Default 0.
    pub seed: u64,
}

impl Default for HostileConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(70),
            lifetime: Duration::from_secs(120),
            max_read: 1 << 20,
            flood_bytes: 64 << 20,
            trickle_interval: Duration::from_millis(100),
            max_connections: 1024,
            seed: 0,
        }
    }
}

/// What the accept loop and the connections share with the [`HostilePeer`] handle.
#[derive(Debug)]
struct Shared {
    /// Connections accepted so far.
    connections: AtomicU64,
    /// Connections open now.
    active: watch::Sender<usize>,
}

/// What every connection of one peer plays.
#[derive(Debug)]
struct Script {
    kind: Hostility,
    info: Vec<u8>,
    info_hash: InfoHash,
    config: HostileConfig,
}

/// A misbehaving metadata peer listening on loopback; see the [module docs](self).
///
/// Serves any number of connections, each in its own task, until
/// [`shutdown`](HostilePeer::shutdown) or drop (which abort every task and close every
/// connection).
#[derive(Debug)]
pub struct HostilePeer {
    addr: SocketAddr,
    kind: Hostility,
    info_hash: InfoHash,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl HostilePeer {
    /// Listens on `bind` (a loopback address; port 0 picks a free port) and plays `kind` on
    /// every connection, with `info_bytes` as the torrent's info dictionary and the default
    /// [`HostileConfig`].
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] for an address outside loopback, or with the
    /// error of `bind`.
    pub async fn start(bind: SocketAddr, info_bytes: Vec<u8>, kind: Hostility) -> io::Result<Self> {
        Self::start_with(bind, info_bytes, kind, HostileConfig::default()).await
    }

    /// [`start`](HostilePeer::start) with explicit bounds.
    pub async fn start_with(
        bind: SocketAddr,
        info_bytes: Vec<u8>,
        kind: Hostility,
        config: HostileConfig,
    ) -> io::Result<Self> {
        if !bind.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("hostile peers only listen on loopback, not {bind}"),
            ));
        }
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let info_hash = InfoHash::v1(Sha1::digest(&info_bytes).into());
        let shared = Arc::new(Shared {
            connections: AtomicU64::new(0),
            active: watch::Sender::new(0),
        });
        let script = Arc::new(Script {
            kind,
            info: info_bytes,
            info_hash,
            config,
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), script, stopped));
        Ok(Self {
            addr,
            kind,
            info_hash,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The kind it plays.
    pub fn kind(&self) -> Hostility {
        self.kind
    }

    /// The SHA-1 of its `info_bytes`: the info hash to fetch from it.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// Connections accepted so far (including any closed at once for exceeding
    /// [`HostileConfig::max_connections`]).
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn active(&self) -> usize {
        *self.shared.active.borrow()
    }

    /// Waits until no accepted connection is open (every client hung up, or the peer closed
    /// them). Connections the kernel queued but the peer has not accepted yet do not count.
    pub async fn wait_idle(&self) {
        let mut rx = self.shared.active.subscribe();
        // The sender lives in `self.shared`, so this cannot fail while `self` is borrowed.
        let _ = rx.wait_for(|&n| n == 0).await;
    }

    /// Stops listening and closes every connection; returns once every task has ended.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for HostilePeer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its `JoinSet`, which aborts every connection.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Counts one open connection for as long as it lives (also when its task is aborted).
#[derive(Debug)]
struct ActiveGuard(Arc<Shared>);

impl ActiveGuard {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.active.send_modify(|n| *n += 1);
        Self(Arc::clone(shared))
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.send_modify(|n| *n = n.saturating_sub(1));
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    script: Arc<Script>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let n = shared.connections.fetch_add(1, Ordering::Relaxed);
                    if conns.len() >= script.config.max_connections {
                        continue; // `stream` is dropped: closed at once.
                    }
                    let guard = ActiveGuard::new(&shared);
                    let script = Arc::clone(&script);
                    conns.spawn(async move {
                        let _guard = guard;
                        let lifetime = script.config.lifetime;
                        let rng = ChaCha8Rng::seed_from_u64(script.config.seed.wrapping_add(n));
                        let conn = Conn {
                            stream,
                            script,
                            reader: ClientReader::default(),
                            read_total: 0,
                            rng,
                        };
                        let _ = tokio::time::timeout(lifetime, conn.play()).await;
                    });
                }
                Err(e) => {
                    tracing::debug!("hostile peer: accept failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    conns.shutdown().await;
}

/// One message from the client, as far as a hostile peer cares.
#[derive(Debug)]
enum ClientMsg {
    Handshake(Handshake),
    /// The client's extension handshake: the id it wants `ut_metadata` messages sent with.
    ExtHandshake(Option<u8>),
    Request(i64),
    Other,
}

/// The outcome of looking at the client's buffered bytes.
#[derive(Debug)]
enum Parsed {
    Msg(ClientMsg),
    NeedMore,
    /// Not the protocol, or a message over [`MAX_CLIENT_MESSAGE`]: hang up.
    Bad,
}

/// The client's byte stream, cut into messages. Holds at most one message of
/// [`MAX_CLIENT_MESSAGE`] plus one read.
#[derive(Debug, Default)]
struct ClientReader {
    buf: Vec<u8>,
    handshaken: bool,
}

impl ClientReader {
    fn next(&mut self) -> Parsed {
        if !self.handshaken {
            if !handshake::prefix_plausible(&self.buf) {
                return Parsed::Bad;
            }
            let Some(hs) = self.buf.first_chunk::<HANDSHAKE_LEN>() else {
                return Parsed::NeedMore;
            };
            let Ok(h) = Handshake::parse(hs) else {
                return Parsed::Bad;
            };
            self.buf.drain(..HANDSHAKE_LEN);
            self.handshaken = true;
            return Parsed::Msg(ClientMsg::Handshake(h));
        }
        let header = match message::parse_header(&self.buf, MAX_CLIENT_MESSAGE) {
            Err(_) => return Parsed::Bad,
            Ok(None) => return Parsed::NeedMore,
            Ok(Some(h)) => h,
        };
        let (id, payload_len) = match header {
            Header::KeepAlive => (None, 0),
            Header::Message { id, payload_len } => (Some(id), payload_len),
        };
        let total = header.header_len() + payload_len;
        let Some(payload) = self.buf.get(header.header_len()..total) else {
            return Parsed::NeedMore;
        };
        let msg = match (id, payload.split_first()) {
            (Some(EXTENDED), Some((&extension::HANDSHAKE_ID, body))) => {
                match ExtHandshake::parse(body) {
                    Ok(h) => ClientMsg::ExtHandshake(h.ut_metadata),
                    Err(_) => return Parsed::Bad,
                }
            }
            (Some(EXTENDED), Some((&SERVE_UT_METADATA_ID, body))) => {
                match MetadataMsg::parse(body) {
                    Ok(MetadataMsg::Request { piece }) => ClientMsg::Request(piece),
                    Ok(_) => ClientMsg::Other,
                    Err(_) => return Parsed::Bad,
                }
            }
            _ => ClientMsg::Other,
        };
        self.buf.drain(..total);
        Parsed::Msg(msg)
    }
}

/// One connection of a hostile peer.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    script: Arc<Script>,
    reader: ClientReader,
    read_total: u64,
    rng: ChaCha8Rng,
}

impl Conn {
    /// Plays the script's kind on this connection until either side is done. Ends when the
    /// client hangs up, misbehaves, goes idle or reads too much, at the latest; the caller
    /// bounds it by the lifetime.
    async fn play(mut self) {
        let kind = self.script.kind;
        let Some(ClientMsg::Handshake(theirs)) = self.next_msg().await else {
            return;
        };
        match kind {
            Hostility::Silent => return self.drain().await,
            Hostility::Garbage => {
                let mut g = self.garbage();
                if g[0] == handshake::PROTOCOL_PREFIX[0] {
                    g[0] ^= 0x80;
                }
                if self.send(&g).await {
                    self.drain().await;
                }
                return;
            }
            Hostility::Honest if theirs.info_hash != self.script.info_hash.dht_key() => return,
            _ => {}
        }
        let mut answer_hash = theirs.info_hash;
        if kind == Hostility::WrongInfoHash {
            answer_hash[19] ^= 0xff;
        }
        let extensions = kind != Hostility::NoExtensions;
        let mut out = encode_handshake_with(&answer_hash, &HOSTILE_PEER_ID, extensions).to_vec();
        let size = self.script.info.len() as u64;
        match kind {
            Hostility::NoExtensions | Hostility::WrongInfoHash => {}
            Hostility::GarbageExtHandshake => {
                let mut body = self.garbage();
                if body[0] == b'd' {
                    body[0] = b'x';
                }
                let mut payload = vec![extension::HANDSHAKE_ID];
                payload.extend_from_slice(&body);
                message::encode_message(&mut out, EXTENDED, &payload);
            }
            Hostility::NoMetadataSupport => {
                encode_ext_handshake(&mut out, 0, None, Some(CLIENT_NAME));
            }
            Hostility::HugeMetadataSize => {
                let s = Some(HUGE_METADATA_SIZE);
                encode_ext_handshake(&mut out, SERVE_UT_METADATA_ID, s, Some(CLIENT_NAME));
            }
            Hostility::MetadataSizeOverCap => {
                let s = Some(OVER_CAP_METADATA_SIZE);
                encode_ext_handshake(&mut out, SERVE_UT_METADATA_ID, s, Some(CLIENT_NAME));
            }
            _ => encode_ext_handshake(
                &mut out,
                SERVE_UT_METADATA_ID,
                Some(size),
                Some(CLIENT_NAME),
            ),
        }
        if !self.send(&out).await {
            return;
        }
        match kind {
            Hostility::RequestFlood => {
                // Bounded by `max_read`: learn where the client wants its requests sent.
                let ut = loop {
                    match self.next_msg().await {
                        None => return,
                        Some(ClientMsg::ExtHandshake(Some(ut))) => break ut,
                        Some(_) => {}
                    }
                };
                let mut unit = Vec::new();
                for piece in 0..REQUEST_FLOOD_BATCH {
                    metadata::encode_request(&mut unit, ut, piece);
                }
                if self.flood(&unit).await {
                    self.drain().await;
                }
                return;
            }
            Hostility::OversizedMessage => {
                let mut head = u32::MAX.to_be_bytes().to_vec();
                head.push(EXTENDED);
                if self.send(&head).await {
                    self.flood(&vec![0; 64 << 10]).await;
                }
                return;
            }
            Hostility::Flood => {
                let mut msg = Vec::with_capacity(LEN_PREFIX + FLOOD_MESSAGE_LEN as usize);
                let mut payload = vec![0u8; FLOOD_MESSAGE_LEN as usize - 1];
                payload[0] = FLOOD_EXTENSION_ID;
                message::encode_message(&mut msg, EXTENDED, &payload);
                if self.flood(&msg).await {
                    self.drain().await;
                }
                return;
            }
            Hostility::Honest
            | Hostility::WrongPieces
            | Hostility::ShortPieces
            | Hostility::CloseMidPiece
            | Hostility::Slowloris
            | Hostility::RejectAll => {}
            // Everything else has said all it will say.
            _ => return self.drain().await,
        }
        self.answer_requests().await;
    }

    /// Answers the client's `ut_metadata` requests the script's way, until the client hangs
    /// up (or the connection hits a bound).
    async fn answer_requests(&mut self) {
        let kind = self.script.kind;
        let mut peer_ut = None;
        while let Some(msg) = self.next_msg().await {
            let piece = match msg {
                ClientMsg::ExtHandshake(ut) => {
                    peer_ut = ut;
                    continue;
                }
                ClientMsg::Request(piece) => piece,
                ClientMsg::Handshake(_) | ClientMsg::Other => continue,
            };
            // Without the client's `ut_metadata` id there is nowhere to answer (BEP-10).
            let Some(ut) = peer_ut else { continue };
            let Ok(index) = u32::try_from(piece) else {
                continue;
            };
            let info = &self.script.info;
            let start = (index as usize).saturating_mul(PIECE_SIZE);
            let mut out = Vec::new();
            if kind == Hostility::RejectAll || start >= info.len() {
                metadata::encode_reject(&mut out, ut, index);
            } else {
                let mut data = info[start..(start + PIECE_SIZE).min(info.len())].to_vec();
                match kind {
                    Hostility::WrongPieces => data.iter_mut().for_each(|b| *b ^= 0xA5),
                    Hostility::ShortPieces => {
                        data.pop();
                    }
                    _ => {}
                }
                metadata::encode_data(&mut out, ut, index, info.len() as u64, &data);
            }
            if kind == Hostility::CloseMidPiece {
                let half = out.len() / 2;
                if self.send(&out[..half]).await {
                    // A clean FIN after the half piece, then wait for the client to go.
                    let _ = self.stream.shutdown().await;
                    self.drain().await;
                }
                return;
            }
            if !self.send(&out).await {
                return;
            }
        }
    }

    /// The next client message, or `None` when the client hung up, misbehaved, went idle or
    /// sent more than [`HostileConfig::max_read`].
    async fn next_msg(&mut self) -> Option<ClientMsg> {
        let mut chunk = [0u8; READ_CHUNK];
        // Bounded: each turn reads at least one byte, and at most `max_read` are read.
        loop {
            match self.reader.next() {
                Parsed::Msg(m) => return Some(m),
                Parsed::Bad => return None,
                Parsed::NeedMore => {}
            }
            let n = self.read(&mut chunk).await?;
            self.reader.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads and discards until the client hangs up (or a bound is hit).
    async fn drain(&mut self) {
        let mut chunk = [0u8; READ_CHUNK];
        while self.read(&mut chunk).await.is_some() {}
    }

    /// One read of at least one byte, within the idle timeout and the read budget.
    async fn read(&mut self, chunk: &mut [u8]) -> Option<usize> {
        let budget = self.script.config.max_read.saturating_sub(self.read_total);
        let want = chunk
            .len()
            .min(usize::try_from(budget).unwrap_or(usize::MAX));
        if want == 0 {
            return None;
        }
        let idle = self.script.config.idle_timeout;
        match tokio::time::timeout(idle, self.stream.read(&mut chunk[..want])).await {
            Ok(Ok(n)) if n > 0 => {
                self.read_total += n as u64;
                Some(n)
            }
            _ => None,
        }
    }

    /// Writes `bytes` (one at a time for [`Hostility::Slowloris`]); `false` when the client is
    /// gone or stopped reading for the idle timeout.
    async fn send(&mut self, bytes: &[u8]) -> bool {
        let idle = self.script.config.idle_timeout;
        if self.script.kind == Hostility::Slowloris {
            for b in bytes {
                tokio::time::sleep(self.script.config.trickle_interval).await;
                if !matches!(
                    tokio::time::timeout(idle, self.stream.write_all(&[*b])).await,
                    Ok(Ok(()))
                ) {
                    return false;
                }
            }
            return true;
        }
        matches!(
            tokio::time::timeout(idle, self.stream.write_all(bytes)).await,
            Ok(Ok(()))
        )
    }

    /// Writes `unit` again and again until [`HostileConfig::flood_bytes`] are out; `false` when
    /// the client went away first.
    async fn flood(&mut self, unit: &[u8]) -> bool {
        let mut sent = 0u64;
        // Bounded by `flood_bytes` (and `unit` is never empty).
        while !unit.is_empty() && sent < self.script.config.flood_bytes {
            if !self.send(unit).await {
                return false;
            }
            sent += unit.len() as u64;
        }
        true
    }

    fn garbage(&mut self) -> Vec<u8> {
        let mut g = vec![0u8; GARBAGE_LEN];
        self.rng.fill_bytes(&mut g);
        g
    }
}
