//! Compact node info (26 / 38 bytes) and compact peer info (6 / 18 bytes).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bencode::List;
use infohash::InfoHash;

use crate::Id20;

/// Bytes per IPv4 compact node: id, address, port.
pub const NODE_V4_LEN: usize = 26;
/// Bytes per IPv6 compact node.
pub const NODE_V6_LEN: usize = 38;
/// Bytes per IPv4 compact peer: address, port.
pub const PEER_V4_LEN: usize = 6;
/// Bytes per IPv6 compact peer.
pub const PEER_V6_LEN: usize = 18;

/// A DHT contact: its id and UDP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeInfo {
    /// The node's self-chosen id.
    pub id: Id20,
    /// Where it answers.
    pub addr: SocketAddr,
}

/// Decodes a 6- or 18-byte compact address.
pub fn decode_compact_addr(b: &[u8]) -> Option<SocketAddr> {
    match b.len() {
        PEER_V4_LEN => {
            let ip = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
            Some(SocketAddr::new(
                IpAddr::V4(ip),
                u16::from_be_bytes([b[4], b[5]]),
            ))
        }
        PEER_V6_LEN => {
            let mut o = [0u8; 16];
            o.copy_from_slice(&b[..16]);
            Some(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(o)),
                u16::from_be_bytes([b[16], b[17]]),
            ))
        }
        _ => None,
    }
}

/// Encodes an address compactly into `out` (at least 18 bytes); returns the length used.
pub fn encode_compact_addr(addr: &SocketAddr, out: &mut [u8; 18]) -> usize {
    let port = addr.port().to_be_bytes();
    match addr.ip() {
        IpAddr::V4(ip) => {
            out[..4].copy_from_slice(&ip.octets());
            out[4..6].copy_from_slice(&port);
            PEER_V4_LEN
        }
        IpAddr::V6(ip) => {
            out[..16].copy_from_slice(&ip.octets());
            out[16..18].copy_from_slice(&port);
            PEER_V6_LEN
        }
    }
}

/// Appends one compact node (26 or 38 bytes) to `out`.
pub fn write_compact_node(n: &NodeInfo, out: &mut Vec<u8>) {
    out.extend_from_slice(&n.id.0);
    let mut a = [0u8; 18];
    let len = encode_compact_addr(&n.addr, &mut a);
    out.extend_from_slice(&a[..len]);
}

/// A list of nodes: borrowed compact bytes from a decoded message, or contacts to encode.
///
/// Which family a field holds is fixed by the field: `nodes` is IPv4, `nodes6` is IPv6. When
/// encoding from [`Nodes::Infos`], contacts of the other family are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nodes<'a> {
    /// Compact bytes as they arrived in a message, already validated by the decoder.
    Compact {
        /// Concatenated entries of 20-byte id + address + big-endian port: 26 bytes each for
        /// IPv4, 38 for IPv6. The length is a whole multiple of the entry length.
        bytes: &'a [u8],
        /// Whether the entries carry 16-byte IPv6 addresses (`nodes6`) rather than 4-byte IPv4
        /// ones (`nodes`); fixes the entry length.
        v6: bool,
    },
    /// Contacts to encode.
    Infos(&'a [NodeInfo]),
}

impl Default for Nodes<'_> {
    fn default() -> Self {
        Nodes::Infos(&[])
    }
}

impl<'a> Nodes<'a> {
    /// Iterates the contacts.
    pub fn iter(&self) -> NodesIter<'a> {
        NodesIter {
            inner: *self,
            pos: 0,
        }
    }
    /// Whether there are no contacts.
    pub fn is_empty(&self) -> bool {
        match self {
            Nodes::Compact { bytes, .. } => bytes.is_empty(),
            Nodes::Infos(i) => i.is_empty(),
        }
    }
    /// Number of contacts.
    pub fn len(&self) -> usize {
        match self {
            Nodes::Compact { bytes, v6 } => {
                bytes.len() / if *v6 { NODE_V6_LEN } else { NODE_V4_LEN }
            }
            Nodes::Infos(i) => i.len(),
        }
    }
}

/// Iterator over [`Nodes`].
#[derive(Debug, Clone)]
pub struct NodesIter<'a> {
    inner: Nodes<'a>,
    pos: usize,
}

impl Iterator for NodesIter<'_> {
    type Item = NodeInfo;
    fn next(&mut self) -> Option<NodeInfo> {
        match self.inner {
            Nodes::Compact { bytes, v6 } => {
                let step = if v6 { NODE_V6_LEN } else { NODE_V4_LEN };
                let chunk = bytes.get(self.pos..self.pos + step)?;
                self.pos += step;
                let id = Id20::from_slice(&chunk[..20])?;
                let addr = decode_compact_addr(&chunk[20..])?;
                Some(NodeInfo { id, addr })
            }
            Nodes::Infos(infos) => {
                let n = infos.get(self.pos)?;
                self.pos += 1;
                Some(*n)
            }
        }
    }
}

/// A `values` list of peers: validated borrowed bencode, or addresses to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peers<'a> {
    /// A decoded list whose every item is a 6- or 18-byte string.
    Encoded(List<'a>),
    /// Addresses to encode.
    Addrs(&'a [SocketAddr]),
}

impl Default for Peers<'_> {
    fn default() -> Self {
        Peers::Addrs(&[])
    }
}

impl<'a> Peers<'a> {
    /// Iterates the peers.
    pub fn iter(&self) -> PeersIter<'a> {
        match *self {
            Peers::Encoded(l) => PeersIter::Encoded(l.iter()),
            Peers::Addrs(a) => PeersIter::Addrs(a.iter()),
        }
    }
    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        match self {
            Peers::Encoded(l) => l.is_empty(),
            Peers::Addrs(a) => a.is_empty(),
        }
    }
}

/// Iterator over [`Peers`].
#[derive(Debug, Clone)]
pub enum PeersIter<'a> {
    #[doc(hidden)]
    Encoded(bencode::ListIter<'a>),
    #[doc(hidden)]
    Addrs(std::slice::Iter<'a, SocketAddr>),
}

impl Iterator for PeersIter<'_> {
    type Item = SocketAddr;
    fn next(&mut self) -> Option<SocketAddr> {
        match self {
            PeersIter::Encoded(it) => it
                .next()
                .and_then(|v| v.as_bytes())
                .and_then(decode_compact_addr),
            PeersIter::Addrs(it) => it.next().copied(),
        }
    }
}

/// BEP-51 `samples`: a validated concatenation of 20-byte infohashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Samples<'a>(&'a [u8]);

impl<'a> Samples<'a> {
    /// Wraps concatenated hashes; `None` unless the length is a multiple of 20.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        bytes.len().is_multiple_of(20).then_some(Samples(bytes))
    }
    /// The raw bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
    /// Number of hashes.
    pub fn len(&self) -> usize {
        self.0.len() / 20
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Iterates the hashes (each 20-byte key read as a v1 infohash).
    pub fn iter(&self) -> impl Iterator<Item = InfoHash> + 'a {
        self.0.chunks_exact(20).filter_map(InfoHash::from_v1_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_addr_roundtrip() {
        for a in ["1.2.3.4:6881", "[2001:db8::1]:443"] {
            let addr: SocketAddr = a.parse().unwrap();
            let mut buf = [0u8; 18];
            let n = encode_compact_addr(&addr, &mut buf);
            assert_eq!(decode_compact_addr(&buf[..n]), Some(addr));
        }
        assert_eq!(
            decode_compact_addr(&[1, 2, 3, 4, 0x1a, 0xe1]),
            Some("1.2.3.4:6881".parse().unwrap())
        );
        assert_eq!(decode_compact_addr(&[1, 2, 3]), None);
    }

    #[test]
    fn nodes_iterate() {
        let n = NodeInfo {
            id: Id20([7; 20]),
            addr: "10.0.0.1:1".parse().unwrap(),
        };
        let mut v = Vec::new();
        write_compact_node(&n, &mut v);
        write_compact_node(&n, &mut v);
        assert_eq!(v.len(), 52);
        let nodes = Nodes::Compact {
            bytes: &v,
            v6: false,
        };
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes.iter().collect::<Vec<_>>(), vec![n, n]);
    }
}
