//! Why a metadata fetch failed: one [`FetchError`] variant per cause the crawler counts.

use crate::info_dict::InfoDictError;

/// Why a metadata fetch (or serve) ended without metadata.
///
/// Each variant is one counted cause; [`FetchError::cause`] gives its stable metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The peer's BitTorrent handshake was unusable.
    #[error("bad handshake: {0}")]
    Handshake(HandshakeError),
    /// The peer's handshake lacks the BEP-10 extension bit (`reserved[5] & 0x10`).
    #[error("peer does not support the extension protocol (BEP-10)")]
    NoExtensionSupport,
    /// The peer's extension handshake does not offer `ut_metadata` or lacks `metadata_size`.
    #[error("peer does not offer metadata (BEP-9)")]
    NoMetadataSupport,
    /// The peer rejected a `ut_metadata` request.
    #[error("peer rejected metadata piece {piece}")]
    Rejected {
        /// The rejected piece index.
        piece: u32,
    },
    /// A deadline passed.
    #[error("timed out ({0})")]
    Timeout(TimeoutPhase),
    /// The advertised `metadata_size` exceeds `FetchConfig::max_metadata_size`.
    #[error("metadata of {size} bytes exceeds the limit")]
    TooBig {
        /// The advertised size.
        size: u64,
    },
    /// The assembled metadata does not hash to the info hash.
    #[error("metadata does not match the info hash")]
    HashMismatch,
    /// The metadata hashes correctly but is not a usable info dictionary.
    #[error("bad info dictionary: {0}")]
    BadInfoDict(InfoDictError),
    /// The peer broke the wire protocol after the handshake.
    #[error("protocol violation: {0}")]
    Protocol(ProtocolError),
    /// The peer closed the connection before the metadata was complete.
    #[error("connection closed before the metadata was complete")]
    Closed,
}

impl FetchError {
    /// Every label [`FetchError::cause`] can return, plus `"connect"`, which the network driver
    /// uses when the TCP connection itself fails (this crate never sees that).
    pub const CAUSES: [&'static str; 11] = [
        "connect",
        "handshake",
        "no_extension_support",
        "no_metadata_support",
        "rejected",
        "timeout",
        "too_big",
        "hash_mismatch",
        "bad_info_dict",
        "protocol",
        "closed",
    ];

    /// A stable, low-cardinality label for metrics (one per variant; see
    /// [`FetchError::CAUSES`]).
    pub fn cause(&self) -> &'static str {
        match self {
            Self::Handshake(_) => "handshake",
            Self::NoExtensionSupport => "no_extension_support",
            Self::NoMetadataSupport => "no_metadata_support",
            Self::Rejected { .. } => "rejected",
            Self::Timeout(_) => "timeout",
            Self::TooBig { .. } => "too_big",
            Self::HashMismatch => "hash_mismatch",
            Self::BadInfoDict(_) => "bad_info_dict",
            Self::Protocol(_) => "protocol",
            Self::Closed => "closed",
        }
    }
}

/// What was wrong with the peer's 68-byte BitTorrent handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The first 20 bytes are not `\x13BitTorrent protocol` (garbage, HTTP, an encrypted
    /// stream, ...).
    #[error("not the BitTorrent protocol")]
    BadProtocol,
    /// The peer answered for a different torrent.
    #[error("wrong info hash")]
    WrongInfoHash,
    /// The peer closed the connection before completing its handshake. libtorrent does this
    /// when it does not have the torrent asked for, so it is a handshake failure, not a drop
    /// in the middle of a transfer ([`FetchError::Closed`]).
    #[error("closed before its handshake")]
    Closed,
}

/// Which deadline of a fetch passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Waiting for the peer's BitTorrent handshake.
    Handshake,
    /// Waiting for the peer's extension handshake.
    ExtHandshake,
    /// Waiting for the next metadata piece.
    Piece,
    /// The whole fetch took longer than `FetchConfig::total_timeout`.
    Total,
}

impl TimeoutPhase {
    /// A stable label for the phase (`handshake`, `ext_handshake`, `piece`, `total`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Handshake => "handshake",
            Self::ExtHandshake => "ext_handshake",
            Self::Piece => "piece",
            Self::Total => "total",
        }
    }
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A wire-protocol violation after a good handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A length prefix above `FetchConfig::max_message_len`.
    #[error("message of {len} bytes exceeds the limit")]
    MessageTooLong {
        /// The announced length.
        len: u32,
    },
    /// An extended message (id 20) without its extension id byte.
    #[error("empty extended message")]
    EmptyExtended,
    /// The extension handshake is not a bencoded dictionary, or a field has the wrong type.
    #[error("malformed extension handshake")]
    BadExtHandshake,
    /// A `ut_metadata` message is not a bencoded dictionary with an integer `msg_type` and
    /// `piece`.
    #[error("malformed ut_metadata message")]
    BadMetadataMessage,
    /// A `ut_metadata` data message for a piece index outside the metadata.
    #[error("metadata piece {piece} out of range")]
    PieceOutOfRange {
        /// The index the peer sent.
        piece: i64,
    },
    /// A `ut_metadata` data message whose piece is not exactly the expected size.
    #[error("metadata piece {piece} has {got} bytes, expected {expected}")]
    BadPieceSize {
        /// The piece index.
        piece: u32,
        /// Bytes received.
        got: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// A `ut_metadata` data message whose `total_size` differs from the handshake's
    /// `metadata_size`.
    #[error("total_size {got} differs from metadata_size {expected}")]
    TotalSizeMismatch {
        /// `total_size` in the data message.
        got: i64,
        /// `metadata_size` from the extension handshake.
        expected: u64,
    },
}
