//! [`MetadataServe`]: the seeding side of a metadata exchange, for the offline lab and tests.

use std::mem;

use infohash::InfoHash;
use sha1::{Digest, Sha1};

use crate::error::{FetchError, HandshakeError, ProtocolError};
use crate::extension::{self, ExtHandshake};
use crate::handshake::{self, HANDSHAKE_LEN, Handshake};
use crate::message::{self, EXTENDED, Header};
use crate::metadata::{self, MetadataMsg, PIECE_SIZE};

/// The extension id [`MetadataServe`] assigns to `ut_metadata` (deliberately not the
/// fetcher's, so tests catch a side that mixes up whose id to use).
pub const SERVE_UT_METADATA_ID: u8 = 3;

/// Largest message a [`MetadataServe`] reads (its peer only sends handshakes and requests).
const SERVE_MAX_MESSAGE_LEN: u32 = 64 << 10;

/// Answers one peer's handshake, extension handshake and `ut_metadata` requests with the
/// given info dictionary. Sans-IO like [`MetadataFetch`](crate::MetadataFetch).
///
/// Drain order: after each [`handle_input`](Self::handle_input), take
/// [`poll_transmit`](Self::poll_transmit) until `None`. An `Err` from `handle_input` means the
/// peer misbehaved: close the connection (the error is sticky).
#[derive(Debug)]
pub struct MetadataServe {
    info: Vec<u8>,
    info_hash: InfoHash,
    peer_id: [u8; 20],
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    handshaken: bool,
    peer_ut: Option<u8>,
    error: Option<FetchError>,
    /// Pieces served so far.
    served: usize,
}

impl MetadataServe {
    /// Serves `info_bytes` (whose SHA-1 is the info hash peers must ask for) as `peer_id`.
    pub fn new(info_bytes: Vec<u8>, peer_id: [u8; 20]) -> Self {
        let info_hash = InfoHash::v1(Sha1::digest(&info_bytes).into());
        Self {
            info: info_bytes,
            info_hash,
            peer_id,
            inbuf: Vec::new(),
            outbuf: Vec::new(),
            handshaken: false,
            peer_ut: None,
            error: None,
            served: 0,
        }
    }

    /// The info hash being served.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// How many metadata pieces were sent.
    pub fn pieces_served(&self) -> usize {
        self.served
    }

    /// Bytes read from the peer.
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<(), FetchError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        self.inbuf.extend_from_slice(bytes);
        let buf = mem::take(&mut self.inbuf);
        let r = self.process(&buf);
        match r {
            Ok(used) => {
                self.inbuf = buf;
                self.inbuf.drain(..used);
                Ok(())
            }
            Err(e) => {
                self.error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Bytes to write to the peer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.outbuf.is_empty() {
            None
        } else {
            Some(mem::take(&mut self.outbuf))
        }
    }

    fn process(&mut self, buf: &[u8]) -> Result<usize, FetchError> {
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            if !self.handshaken {
                if !handshake::prefix_plausible(rest) {
                    return Err(FetchError::Handshake(HandshakeError::BadProtocol));
                }
                let Some(hs) = rest.first_chunk::<HANDSHAKE_LEN>() else {
                    return Ok(pos);
                };
                let h = Handshake::parse(hs).map_err(FetchError::Handshake)?;
                if h.info_hash != self.info_hash.dht_key() {
                    return Err(FetchError::Handshake(HandshakeError::WrongInfoHash));
                }
                pos += HANDSHAKE_LEN;
                self.handshaken = true;
                self.outbuf.extend_from_slice(&handshake::encode_handshake(
                    &self.info_hash.dht_key(),
                    &self.peer_id,
                ));
                extension::encode_ext_handshake(
                    &mut self.outbuf,
                    SERVE_UT_METADATA_ID,
                    Some(self.info.len() as u64),
                    Some(b"BitAgent lab"),
                );
                continue;
            }
            let header =
                message::parse_header(rest, SERVE_MAX_MESSAGE_LEN).map_err(FetchError::Protocol)?;
            let Some(header) = header else {
                return Ok(pos);
            };
            let payload_len = match header {
                Header::KeepAlive => 0,
                Header::Message { payload_len, .. } => payload_len,
            };
            let total = header.header_len() + payload_len;
            let Some(msg) = rest.get(header.header_len()..total) else {
                return Ok(pos);
            };
            pos += total;
            if let Header::Message { id: EXTENDED, .. } = header {
                self.on_extended(msg)?;
            }
        }
    }

    fn on_extended(&mut self, msg: &[u8]) -> Result<(), FetchError> {
        let (&ext_id, body) = msg
            .split_first()
            .ok_or(FetchError::Protocol(ProtocolError::EmptyExtended))?;
        if ext_id == extension::HANDSHAKE_ID {
            let h = ExtHandshake::parse(body).map_err(FetchError::Protocol)?;
            self.peer_ut = h.ut_metadata;
            return Ok(());
        }
        if ext_id != SERVE_UT_METADATA_ID {
            return Ok(());
        }
        let Some(peer_ut) = self.peer_ut else {
            // The peer never told us where to send ut_metadata messages.
            return Ok(());
        };
        if let MetadataMsg::Request { piece } =
            MetadataMsg::parse(body).map_err(FetchError::Protocol)?
        {
            let start = usize::try_from(piece)
                .ok()
                .and_then(|p| p.checked_mul(PIECE_SIZE))
                .filter(|&s| s < self.info.len());
            let Ok(index) = u32::try_from(piece) else {
                return Ok(());
            };
            match start {
                Some(s) => {
                    let end = (s + PIECE_SIZE).min(self.info.len());
                    metadata::encode_data(
                        &mut self.outbuf,
                        peer_ut,
                        index,
                        self.info.len() as u64,
                        &self.info[s..end],
                    );
                    self.served += 1;
                }
                None => metadata::encode_reject(&mut self.outbuf, peer_ut, index),
            }
        }
        Ok(())
    }
}
