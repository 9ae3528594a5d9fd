//! [`MetadataFetch`]: the sans-IO state machine that fetches one torrent's info dictionary from
//! one peer over an established byte stream.

use std::mem;
use std::time::{Duration, Instant};

use infohash::InfoHash;

use crate::error::{FetchError, HandshakeError, ProtocolError, TimeoutPhase};
use crate::extension::{self, ExtHandshake};
use crate::handshake::{self, HANDSHAKE_LEN, Handshake};
use crate::info_dict::InfoDict;
use crate::message::{self, EXTENDED, Header, LEN_PREFIX};
use crate::metadata::{self, Assembly, MetadataMsg};

/// The extension id we assign to `ut_metadata` in our extension handshake: peers send their
/// `ut_metadata` messages to us with it.
pub const OUR_UT_METADATA_ID: u8 = 1;

/// Most bytes of the peer's `v` (client name) kept.
const MAX_CLIENT_LEN: usize = 64;

/// Rejects of the peer's own metadata requests are only queued while less than this is
/// waiting to be transmitted, so a caller that is slow to drain cannot be made to buffer
/// without bound.
const MAX_QUEUED_REJECTS: usize = 64 << 10;

/// `now + d`, saturating far in the future instead of overflowing (a config may use a huge
/// duration to mean "never").
fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

/// Limits and deadlines of one fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// Largest `metadata_size` accepted; larger is [`FetchError::TooBig`] before anything is
    /// allocated. Default 10 MiB.
    pub max_metadata_size: usize,
    /// Largest peer-wire message length prefix accepted; larger is
    /// [`ProtocolError::MessageTooLong`]. The input buffer never holds more than this plus the
    /// 4-byte prefix. Default 1 MiB + 16 KiB (a bitfield of 8 M pieces, or a metadata piece
    /// with room to spare). Messages other than extended ones are skipped as they stream by,
    /// not buffered.
    pub max_message_len: u32,
    /// From the start until the peer's BitTorrent handshake, and from then until its
    /// extension handshake. Default 10 s.
    pub handshake_timeout: Duration,
    /// Longest wait for the next metadata piece. Default 10 s.
    pub piece_timeout: Duration,
    /// Longest whole fetch. Default 60 s.
    pub total_timeout: Duration,
    /// Metadata requests kept outstanding at once. Default 4.
    pub request_window: usize,
    /// Our client name, sent as `v` in the extension handshake (`None`: not sent).
    pub client: Option<String>,
    /// The TCP port we tell the peer we listen on (`p` in the extension handshake; BitAgent's
    /// `BITAGENT_PEER_PORT`). `None`: not sent.
    pub listen_port: Option<u16>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            max_metadata_size: 10 << 20,
            max_message_len: (1 << 20) + (16 << 10),
            handshake_timeout: Duration::from_secs(10),
            piece_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(60),
            request_window: 4,
            client: Some(concat!("BitAgent ", env!("CARGO_PKG_VERSION")).to_owned()),
            listen_port: None,
        }
    }
}

/// A fetched, SHA-1 verified info dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Exactly the bytes whose SHA-1 is the info hash.
    pub info_bytes: Vec<u8>,
    /// Those bytes, parsed.
    pub info: InfoDict,
}

/// How a fetch ended.
pub type Outcome = Result<Metadata, FetchError>;

#[derive(Debug)]
enum State {
    /// Waiting for the peer's 68-byte handshake.
    Handshake,
    /// Waiting for the peer's extension handshake.
    ExtHandshake,
    /// Requesting and assembling pieces.
    Fetching {
        asm: Assembly,
        /// The id the peer assigned to `ut_metadata`.
        peer_ut: u8,
        /// Next piece index not yet considered for a request.
        next_request: usize,
        /// Requests sent and not yet answered.
        outstanding: usize,
    },
    /// An outcome was produced; all further input is ignored.
    Done,
}

/// Fetches one torrent's metadata (BEP-9 over BEP-10) from one peer, without doing any IO.
///
/// The caller owns the TCP connection and the clock. [`MetadataFetch::new`] queues our
/// handshake and our extension handshake at once (sending the second before seeing the peer's
/// reserved bits saves a round trip; a peer without BEP-10 fails the fetch anyway). Then:
///
/// * bytes read from the socket go to [`handle_input`](Self::handle_input), fragmented in any
///   way (one byte at a time is fine); end of stream to [`handle_eof`](Self::handle_eof); the
///   timer firing to [`handle_timeout`](Self::handle_timeout);
/// * **drain order** after every `new`/`handle_*` call:
///   1. [`poll_transmit`](Self::poll_transmit) until `None`, writing the bytes to the socket;
///   2. [`poll_outcome`](Self::poll_outcome): `Some` means the fetch is over (success or
///      [`FetchError`]); close the connection and drop the fetch;
///   3. [`poll_timeout`](Self::poll_timeout): re-arm the timer for that instant (`None` once
///      the fetch is over).
///
/// Memory is bounded: the input buffer holds at most one extended message
/// ([`FetchConfig::max_message_len`] + 4 bytes), and the metadata buffer is allocated once,
/// after the peer announced a `metadata_size` within [`FetchConfig::max_metadata_size`].
#[derive(Debug)]
pub struct MetadataFetch {
    info_hash: InfoHash,
    config: FetchConfig,
    state: State,
    inbuf: Vec<u8>,
    /// Bytes of an ignored message still to discard as they arrive.
    skip: usize,
    outbuf: Vec<u8>,
    started: Instant,
    phase_deadline: Instant,
    outcome: Option<Outcome>,
    peer: Option<Handshake>,
    peer_client: Option<Vec<u8>>,
    metadata_size: Option<u64>,
}

impl MetadataFetch {
    /// Starts a fetch of `info_hash`, announcing ourselves as `peer_id`, at `now`. The handshake
    /// carries the hash's [`InfoHash::dht_key`].
    pub fn new(info_hash: InfoHash, peer_id: [u8; 20], config: FetchConfig, now: Instant) -> Self {
        let mut outbuf = Vec::with_capacity(256);
        outbuf.extend_from_slice(&handshake::encode_handshake(&info_hash.dht_key(), &peer_id));
        extension::encode_ext_handshake_with_port(
            &mut outbuf,
            OUR_UT_METADATA_ID,
            None,
            config.client.as_deref().map(str::as_bytes),
            config.listen_port,
        );
        let phase_deadline = after(now, config.handshake_timeout);
        Self {
            info_hash,
            config,
            state: State::Handshake,
            inbuf: Vec::new(),
            skip: 0,
            outbuf,
            started: now,
            phase_deadline,
            outcome: None,
            peer: None,
            peer_client: None,
            metadata_size: None,
        }
    }

    // ---- getters ----

    /// The torrent being fetched.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// The peer's handshake, once received.
    pub fn peer_handshake(&self) -> Option<&Handshake> {
        self.peer.as_ref()
    }

    /// The peer's `v` from its extension handshake (at most 64 bytes), once received.
    pub fn peer_client(&self) -> Option<&[u8]> {
        self.peer_client.as_deref()
    }

    /// The `metadata_size` the peer announced, once received.
    pub fn metadata_size(&self) -> Option<u64> {
        self.metadata_size
    }

    /// Whether an outcome was produced (it may already have been polled).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Bytes currently held in the input buffer.
    pub fn buffered_len(&self) -> usize {
        self.inbuf.len()
    }

    /// The most bytes [`buffered_len`](Self::buffered_len) can ever reach with this config.
    pub fn max_buffered_len(&self) -> usize {
        HANDSHAKE_LEN.max(LEN_PREFIX + self.config.max_message_len as usize)
    }

    /// Metadata bytes allocated for assembly (0 before the extension handshake and after the
    /// outcome).
    pub fn metadata_allocated(&self) -> usize {
        match &self.state {
            State::Fetching { asm, .. } => asm.size(),
            _ => 0,
        }
    }

    // ---- inputs ----

    /// Bytes read from the peer.
    pub fn handle_input(&mut self, now: Instant, mut bytes: &[u8]) {
        let cap = self.max_buffered_len();
        while !bytes.is_empty() && !self.is_finished() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            // After `process` the buffer holds less than one whole message, so there is room.
            let n = cap.saturating_sub(self.inbuf.len()).min(bytes.len()).max(1);
            self.inbuf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            self.process(now);
        }
    }

    /// The peer closed its end: unless the fetch is over, it fails with
    /// [`FetchError::Closed`].
    pub fn handle_eof(&mut self) {
        if !self.is_finished() {
            if self.peer.is_none() {
                self.fail(FetchError::Handshake(HandshakeError::Closed));
            } else {
                self.fail(FetchError::Closed);
            }
        }
    }

    /// The timer armed from [`poll_timeout`](Self::poll_timeout) fired (calling early is
    /// harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_finished() {
            return;
        }
        if now >= after(self.started, self.config.total_timeout) {
            self.fail(FetchError::Timeout(TimeoutPhase::Total));
        } else if now >= self.phase_deadline {
            let phase = match self.state {
                State::Handshake => TimeoutPhase::Handshake,
                State::ExtHandshake => TimeoutPhase::ExtHandshake,
                _ => TimeoutPhase::Piece,
            };
            self.fail(FetchError::Timeout(phase));
        }
    }

    // ---- outputs ----

    /// Bytes to write to the peer, all queued so far in one buffer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.outbuf.is_empty() {
            None
        } else {
            Some(mem::take(&mut self.outbuf))
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_finished() {
            return None;
        }
        Some(
            self.phase_deadline
                .min(after(self.started, self.config.total_timeout)),
        )
    }

    /// The outcome, once (then `None` forever).
    pub fn poll_outcome(&mut self) -> Option<Outcome> {
        self.outcome.take()
    }

    // ---- internals ----

    fn fail(&mut self, e: FetchError) {
        self.finish_with(Err(e));
    }

    fn finish_with(&mut self, outcome: Outcome) {
        self.state = State::Done;
        self.outcome = Some(outcome);
        self.inbuf = Vec::new();
        self.outbuf.clear();
        self.skip = 0;
    }

    /// Consumes every complete message at the start of the input buffer.
    fn process(&mut self, now: Instant) {
        let buf = mem::take(&mut self.inbuf);
        let mut pos = 0;
        while !self.is_finished() {
            let rest = &buf[pos..];
            if let State::Handshake = self.state {
                if !handshake::prefix_plausible(rest) {
                    self.fail(FetchError::Handshake(HandshakeError::BadProtocol));
                    break;
                }
                let Some(hs) = rest.first_chunk::<HANDSHAKE_LEN>() else {
                    break;
                };
                pos += HANDSHAKE_LEN;
                self.on_handshake(now, hs);
                continue;
            }
            let header = match message::parse_header(rest, self.config.max_message_len) {
                Err(e) => {
                    self.fail(FetchError::Protocol(e));
                    break;
                }
                Ok(None) => break,
                Ok(Some(h)) => h,
            };
            let Header::Message { id, payload_len } = header else {
                pos += header.header_len();
                continue;
            };
            let total = header.header_len() + payload_len;
            if id != EXTENDED {
                // Not ours to read: drop what is here and skip the rest as it arrives.
                if rest.len() >= total {
                    pos += total;
                } else {
                    self.skip = total - rest.len();
                    pos = buf.len();
                }
                continue;
            }
            let Some(msg) = rest.get(header.header_len()..total) else {
                break;
            };
            pos += total;
            self.on_extended(now, msg);
        }
        if !self.is_finished() {
            let mut buf = buf;
            buf.drain(..pos);
            self.inbuf = buf;
        }
    }

    fn on_handshake(&mut self, now: Instant, hs: &[u8; HANDSHAKE_LEN]) {
        let h = match Handshake::parse(hs) {
            Ok(h) => h,
            Err(e) => return self.fail(FetchError::Handshake(e)),
        };
        self.peer = Some(h);
        if h.info_hash != self.info_hash.dht_key() {
            return self.fail(FetchError::Handshake(HandshakeError::WrongInfoHash));
        }
        if !h.supports_extensions() {
            return self.fail(FetchError::NoExtensionSupport);
        }
        self.state = State::ExtHandshake;
        self.phase_deadline = after(now, self.config.handshake_timeout);
    }

    fn on_extended(&mut self, now: Instant, msg: &[u8]) {
        let Some((&ext_id, body)) = msg.split_first() else {
            return self.fail(FetchError::Protocol(ProtocolError::EmptyExtended));
        };
        if ext_id == extension::HANDSHAKE_ID {
            if let State::ExtHandshake = self.state {
                self.on_ext_handshake(now, body);
            }
            // A repeated extension handshake (allowed by BEP-10) changes nothing we use.
            return;
        }
        let State::Fetching { peer_ut, .. } = self.state else {
            // Extension messages before the extension handshake: not ours to read.
            return;
        };
        // Peers should use our id; some use their own. We speak no other extension.
        if ext_id != OUR_UT_METADATA_ID && ext_id != peer_ut {
            return;
        }
        match MetadataMsg::parse(body) {
            Err(e) => self.fail(FetchError::Protocol(e)),
            Ok(MetadataMsg::Request { piece }) => {
                // We have no metadata to give (BEP-9: reject).
                if let Ok(piece) = u32::try_from(piece)
                    && self.outbuf.len() < MAX_QUEUED_REJECTS
                {
                    metadata::encode_reject(&mut self.outbuf, peer_ut, piece);
                }
            }
            Ok(MetadataMsg::Reject { piece }) => self.fail(FetchError::Rejected {
                piece: u32::try_from(piece).unwrap_or(u32::MAX),
            }),
            Ok(MetadataMsg::Unknown { .. }) => {}
            Ok(MetadataMsg::Data {
                piece,
                total_size,
                data,
            }) => self.on_data(now, piece, total_size, data),
        }
    }

    fn on_ext_handshake(&mut self, now: Instant, body: &[u8]) {
        let h = match ExtHandshake::parse(body) {
            Ok(h) => h,
            Err(e) => return self.fail(FetchError::Protocol(e)),
        };
        self.peer_client = h.client.map(|c| c[..c.len().min(MAX_CLIENT_LEN)].to_vec());
        self.metadata_size = h.metadata_size;
        let (Some(peer_ut), Some(size)) = (h.ut_metadata, h.metadata_size) else {
            return self.fail(FetchError::NoMetadataSupport);
        };
        let asm = match Assembly::new(size, self.config.max_metadata_size) {
            Ok(a) => a,
            Err(e) => return self.fail(e),
        };
        self.state = State::Fetching {
            asm,
            peer_ut,
            next_request: 0,
            outstanding: 0,
        };
        self.phase_deadline = after(now, self.config.piece_timeout);
        self.fill_window();
    }

    fn on_data(&mut self, now: Instant, piece: i64, total_size: Option<i64>, data: &[u8]) {
        let State::Fetching {
            asm,
            next_request,
            outstanding,
            ..
        } = &mut self.state
        else {
            return;
        };
        let expected = asm.size() as u64;
        if let Some(t) = total_size
            && u64::try_from(t).ok() != Some(expected)
        {
            return self.fail(FetchError::Protocol(ProtocolError::TotalSizeMismatch {
                got: t,
                expected,
            }));
        }
        match asm.insert(piece, data) {
            Err(e) => return self.fail(FetchError::Protocol(e)),
            Ok(false) => return,
            Ok(true) => {}
        }
        // In range: `insert` checked it.
        if (piece as usize) < *next_request {
            *outstanding = outstanding.saturating_sub(1);
        }
        if asm.is_complete() {
            return self.complete();
        }
        self.phase_deadline = after(now, self.config.piece_timeout);
        self.fill_window();
    }

    fn fill_window(&mut self) {
        let window = self.config.request_window.max(1);
        let State::Fetching {
            asm,
            peer_ut,
            next_request,
            outstanding,
        } = &mut self.state
        else {
            return;
        };
        while *outstanding < window && *next_request < asm.piece_count() {
            if !asm.has(*next_request) {
                // Piece indices fit u32: metadata is capped far below 2^32 * 16 KiB.
                metadata::encode_request(&mut self.outbuf, *peer_ut, *next_request as u32);
                *outstanding += 1;
            }
            *next_request += 1;
        }
    }

    fn complete(&mut self) {
        let State::Fetching { asm, .. } = mem::replace(&mut self.state, State::Done) else {
            return;
        };
        let outcome = asm
            .finish(&self.info_hash.dht_key())
            .and_then(|info_bytes| {
                InfoDict::parse(&info_bytes)
                    .map(|info| Metadata { info_bytes, info })
                    .map_err(FetchError::BadInfoDict)
            });
        self.finish_with(outcome);
    }
}
