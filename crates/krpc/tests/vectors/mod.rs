//! Canonical KRPC byte vectors shared by the integration tests and the fuzz seed corpus.
//!
//! Every vector in [`all`] is the canonical encoding of its message (dictionary keys sorted,
//! no unknown keys), so decoding and re-encoding it must reproduce it byte for byte.
//!
//! Provenance, per vector:
//! * `bep5_*` are the literal examples of BEP-5, except that BEP-5 writes the compact node
//!   string as the 9-byte placeholder `def456...`; those vectors put real 26-byte nodes there
//!   (the literal placeholders are in [`bep5_placeholder_literals`] and must be rejected).
//! * `bep32_*`, `bep33_*`, `bep42_*`, `bep43_*`, `bep51_*` are built from the key names and
//!   value shapes those BEPs specify (BEP-32's find_node query is its literal example).
//! * `libtorrent_*` are HAND-BUILT from libtorrent's wire format (2.1.x: `v` = `LT\x02\x01`,
//!   2-byte transaction ids, `ip` in every response, `ro` only from read-only nodes). They are
//!   not captured from a live libtorrent: nothing in this test suite touches the network.

#![allow(dead_code)]

use std::net::SocketAddr;

/// Joins byte pieces.
pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `<len>:<bytes>`
pub(crate) fn bstr(b: &[u8]) -> Vec<u8> {
    let mut v = format!("{}:", b.len()).into_bytes();
    v.extend_from_slice(b);
    v
}

pub(crate) const ID_A: &[u8; 20] = b"abcdefghij0123456789";
pub(crate) const ID_M: &[u8; 20] = b"mnopqrstuvwxyz123456";
pub(crate) const ID_0: &[u8; 20] = b"0123456789abcdefghij";

/// Two IPv4 compact nodes: ids `nnn...1`/`nnn...2` at 192.0.2.1:6881 and 198.51.100.7:51413.
pub(crate) fn nodes_v4() -> Vec<u8> {
    cat(&[
        b"nnnnnnnnnnnnnnnnnnn1",
        &[192, 0, 2, 1, 0x1a, 0xe1],
        b"nnnnnnnnnnnnnnnnnnn2",
        &[198, 51, 100, 7, 0xc8, 0xd5],
    ])
}

/// The addresses in [`nodes_v4`].
pub(crate) fn nodes_v4_addrs() -> [SocketAddr; 2] {
    [
        "192.0.2.1:6881".parse().unwrap(),
        "198.51.100.7:51413".parse().unwrap(),
    ]
}

/// One IPv6 compact node (38 bytes): id `666...a` at [2001:db8::1]:6881.
pub(crate) fn nodes_v6() -> Vec<u8> {
    cat(&[
        b"666666666666666666a6",
        &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        &[0x1a, 0xe1],
    ])
}

/// Eight IPv4 nodes, as a full find_node reply carries.
pub(crate) fn nodes_v4_x8() -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..8u8 {
        v.extend_from_slice(&[b'N'; 19]);
        v.push(b'0' + i);
        v.extend_from_slice(&[203, 0, 113, 10 + i, 0x1a, 0xe1 + i]);
    }
    v
}

/// Three 20-byte infohash samples.
pub(crate) fn samples3() -> Vec<u8> {
    cat(&[
        b"sample-infohash-0001",
        b"sample-infohash-0002",
        b"sample-infohash-0003",
    ])
}

/// BEP-33's own test vector: the filter of 192.0.2.0/24 and 2001:db8::0..=2001:db8::3e7.
pub(crate) fn bf_seeds() -> [u8; 256] {
    let hex = "f6c3f5eaa07ffd91bde89f777f26fb2bff37bdb8fb2bbaa2fd3ddde7bacfff75\
               ee7ccbaefe5eedb1fbfaff67f6abff5e43ddbca3fd9b9ffdf4ffd3e9dff12d1b\
               df59db53dbe9fa5b7ff3b8fdfcde1afb8bedd7be2f3ee71ebbbfe93bcdeefe14\
               8246c2bc5dbff7e7efdcf24fd8dc7adffd8fffdfddfff7a4bbeedf5cb95ce81f\
               c7fcff1ff4ffffdfe5f7fdcbb7fd79b3fa1fc77bfe07fff905b7b7ffc7fefeff\
               e0b8370bb0cd3f5b7f2bd93feb4386cfdd6f7fd5bfaf2e9ebffffeecd67adbf7\
               c67f17efd5d75eba6ffeba7fff47a91eb1bfbb53e8abfb5762abe8ff237279bf\
               efbfeef5ffc5febfdfe5adffadfee1fb737ffffbfd9f6aeffeee76b6fd8f72ef";
    hex::decode(hex).unwrap().try_into().unwrap()
}

/// A sparse downloaders filter: 192.0.2.1 ..= 192.0.2.10 inserted.
pub(crate) fn bf_peers() -> [u8; 256] {
    let mut f = krpc::ScrapeFilter::default();
    for i in 1..=10u8 {
        f.insert(std::net::Ipv4Addr::new(192, 0, 2, i).into());
    }
    f.0
}

/// libtorrent 2.1.x version tag.
pub(crate) const LT_V: &[u8] = b"LT\x02\x01";
/// A libtorrent-style 2-byte transaction id.
pub(crate) const LT_TID: &[u8] = b"\x8a\x3f";
/// The 4-byte write token a libtorrent node hands out.
pub(crate) const LT_TOKEN: &[u8] = b"\x9c\x12\x7e\x01";

// ---- BEP-5 ----------------------------------------------------------------------------------

pub(crate) fn bep5_ping_query() -> Vec<u8> {
    b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe".to_vec()
}

pub(crate) fn bep5_ping_response() -> Vec<u8> {
    b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re".to_vec()
}

pub(crate) fn bep5_find_node_query() -> Vec<u8> {
    b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe"
        .to_vec()
}

/// BEP-5's find_node response with two real nodes instead of `def456...`.
pub(crate) fn bep5_find_node_response() -> Vec<u8> {
    cat(&[
        b"d1:rd2:id20:0123456789abcdefghij5:nodes",
        &bstr(&nodes_v4()),
        b"e1:t2:aa1:y1:re",
    ])
}

pub(crate) fn bep5_get_peers_query() -> Vec<u8> {
    b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe"
        .to_vec()
}

/// Literal: `axje.u` and `idhtnm` happen to be valid 6-byte compact peers.
pub(crate) fn bep5_get_peers_response_values() -> Vec<u8> {
    b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re"
        .to_vec()
}

/// BEP-5's get_peers response with closest nodes, two real nodes instead of `def456...`.
pub(crate) fn bep5_get_peers_response_nodes() -> Vec<u8> {
    cat(&[
        b"d1:rd2:id20:abcdefghij01234567895:nodes",
        &bstr(&nodes_v4()),
        b"5:token8:aoeusnthe1:t2:aa1:y1:re",
    ])
}

pub(crate) fn bep5_announce_peer_query() -> Vec<u8> {
    b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe"
        .to_vec()
}

pub(crate) fn bep5_announce_peer_response() -> Vec<u8> {
    b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re".to_vec()
}

pub(crate) fn bep5_error_201() -> Vec<u8> {
    b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee".to_vec()
}

/// BEP-5 `v`: a client version (here uTorrent-style `UT` + 2 bytes) on a get_peers query.
pub(crate) fn bep5_v_query() -> Vec<u8> {
    b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:v4:UT\x05\x051:y1:qe"
        .to_vec()
}

/// The literal BEP-5 examples whose `nodes` is the 9-byte placeholder `def456...`.
pub(crate) fn bep5_placeholder_literals() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "bep5_literal_find_node_response_placeholder",
            b"d1:rd2:id20:0123456789abcdefghij5:nodes9:def456...e1:t2:aa1:y1:re".to_vec(),
        ),
        (
            "bep5_literal_get_peers_response_placeholder",
            b"d1:rd2:id20:abcdefghij01234567895:nodes9:def456...5:token8:aoeusnthe1:t2:aa1:y1:re"
                .to_vec(),
        ),
    ]
}

// ---- BEP-51 ---------------------------------------------------------------------------------

pub(crate) fn bep51_sample_infohashes_query() -> Vec<u8> {
    b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q17:sample_infohashes1:t2:aa1:y1:qe"
        .to_vec()
}

/// interval 21600 s, num 17, three samples, two nodes.
pub(crate) fn bep51_sample_infohashes_response() -> Vec<u8> {
    cat(&[
        b"d1:rd2:id20:0123456789abcdefghij8:intervali21600e5:nodes",
        &bstr(&nodes_v4()),
        b"3:numi17e7:samples",
        &bstr(&samples3()),
        b"e1:t2:aa1:y1:re",
    ])
}

// ---- BEP-33 ---------------------------------------------------------------------------------

pub(crate) fn bep33_get_peers_scrape_query() -> Vec<u8> {
    b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234566:noseedi1e6:scrapei1ee1:q9:get_peers1:t2:aa1:y1:qe"
        .to_vec()
}

/// `BFpe` and `BFsd` (256 bytes each; upper-case keys sort before `id`), token and nodes.
pub(crate) fn bep33_get_peers_scrape_response() -> Vec<u8> {
    cat(&[
        b"d1:rd4:BFpe",
        &bstr(&bf_peers()),
        b"4:BFsd",
        &bstr(&bf_seeds()),
        b"2:id20:0123456789abcdefghij5:nodes",
        &bstr(&nodes_v4()),
        b"5:token8:aoeusnthe1:t2:aa1:y1:re",
    ])
}

/// announce_peer with BEP-33 `seed=1` and an explicit port.
pub(crate) fn bep33_announce_peer_seed_query() -> Vec<u8> {
    b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti51413e4:seedi1e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe"
        .to_vec()
}

// ---- BEP-43 ---------------------------------------------------------------------------------

pub(crate) fn bep43_ro_ping_query() -> Vec<u8> {
    b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi1e1:t2:aa1:y1:qe".to_vec()
}

// ---- BEP-42 ---------------------------------------------------------------------------------

/// `ip` = 6 bytes: 203.0.113.5:6881.
pub(crate) fn bep42_ip_v4_response() -> Vec<u8> {
    cat(&[
        b"d2:ip6:",
        &[203, 0, 113, 5, 0x1a, 0xe1],
        b"1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
    ])
}

/// `ip` = 18 bytes: [2001:db8::5]:6881.
pub(crate) fn bep42_ip_v6_response() -> Vec<u8> {
    cat(&[
        b"d2:ip18:",
        &[
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0x1a, 0xe1,
        ],
        b"1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
    ])
}

// ---- BEP-32 ---------------------------------------------------------------------------------

/// BEP-32's literal example.
pub(crate) fn bep32_find_node_want_query() -> Vec<u8> {
    b"d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:wantl2:n42:n6ee1:q9:find_node1:t2:aa1:y1:qe"
        .to_vec()
}

/// `nodes` (26-byte entries) and `nodes6` (38-byte entries).
pub(crate) fn bep32_find_node_response_nodes6() -> Vec<u8> {
    cat(&[
        b"d1:rd2:id20:0123456789abcdefghij5:nodes",
        &bstr(&nodes_v4()),
        b"6:nodes6",
        &bstr(&nodes_v6()),
        b"e1:t2:aa1:y1:re",
    ])
}

/// get_peers reply carrying an IPv6 peer (18 bytes) next to an IPv4 one.
pub(crate) fn bep32_get_peers_response_values6() -> Vec<u8> {
    cat(&[
        b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u18:",
        &[
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0x1a, 0xe1,
        ],
        b"ee1:t2:aa1:y1:re",
    ])
}

// ---- libtorrent (hand-built from libtorrent's format, not captured) -------------------------

/// What libtorrent 2.1 sends as a get_peers query: `v`, 2-byte tid, no `ro`.
pub(crate) fn libtorrent_get_peers_query() -> Vec<u8> {
    cat(&[
        b"d1:ad2:id20:",
        ID_A,
        b"9:info_hash20:",
        ID_M,
        b"e1:q9:get_peers1:t2:",
        LT_TID,
        b"1:v4:",
        LT_V,
        b"1:y1:qe",
    ])
}

/// A read-only libtorrent node's find_node query: `ro=1` and `v`.
pub(crate) fn libtorrent_ro_find_node_query() -> Vec<u8> {
    cat(&[
        b"d1:ad2:id20:",
        ID_A,
        b"6:target20:",
        ID_M,
        b"e1:q9:find_node2:roi1e1:t2:",
        LT_TID,
        b"1:v4:",
        LT_V,
        b"1:y1:qe",
    ])
}

/// libtorrent's get_peers reply: `ip` (BEP-42), nodes, 4-byte token, values, `v`.
pub(crate) fn libtorrent_get_peers_response() -> Vec<u8> {
    cat(&[
        b"d2:ip6:",
        &[203, 0, 113, 5, 0x1a, 0xe1],
        b"1:rd2:id20:",
        ID_0,
        b"5:nodes",
        &bstr(&nodes_v4()),
        b"5:token",
        &bstr(LT_TOKEN),
        b"6:valuesl6:",
        &[192, 0, 2, 77, 0xc8, 0xd5],
        b"ee1:t2:",
        LT_TID,
        b"1:v4:",
        LT_V,
        b"1:y1:re",
    ])
}

/// libtorrent's sample_infohashes reply: `ip`, interval, 8 nodes, num, samples, `v`.
pub(crate) fn libtorrent_sample_infohashes_response() -> Vec<u8> {
    cat(&[
        b"d2:ip6:",
        &[203, 0, 113, 5, 0x1a, 0xe1],
        b"1:rd2:id20:",
        ID_0,
        b"8:intervali21600e5:nodes",
        &bstr(&nodes_v4_x8()),
        b"3:numi3e7:samples",
        &bstr(&samples3()),
        b"e1:t2:",
        LT_TID,
        b"1:v4:",
        LT_V,
        b"1:y1:re",
    ])
}

/// libtorrent's error for an unknown method: 204 with `ip` and `v`.
pub(crate) fn libtorrent_error_204() -> Vec<u8> {
    cat(&[
        b"d1:eli204e15:unknown messagee2:ip6:",
        &[203, 0, 113, 5, 0x1a, 0xe1],
        b"1:t2:",
        LT_TID,
        b"1:v4:",
        LT_V,
        b"1:y1:ee",
    ])
}

/// Every canonical vector, by a name usable as a file name.
pub(crate) fn all() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("bep5_ping_query", bep5_ping_query()),
        ("bep5_ping_response", bep5_ping_response()),
        ("bep5_find_node_query", bep5_find_node_query()),
        ("bep5_find_node_response", bep5_find_node_response()),
        ("bep5_get_peers_query", bep5_get_peers_query()),
        (
            "bep5_get_peers_response_values",
            bep5_get_peers_response_values(),
        ),
        (
            "bep5_get_peers_response_nodes",
            bep5_get_peers_response_nodes(),
        ),
        ("bep5_announce_peer_query", bep5_announce_peer_query()),
        ("bep5_announce_peer_response", bep5_announce_peer_response()),
        ("bep5_error_201", bep5_error_201()),
        ("bep5_v_query", bep5_v_query()),
        (
            "bep51_sample_infohashes_query",
            bep51_sample_infohashes_query(),
        ),
        (
            "bep51_sample_infohashes_response",
            bep51_sample_infohashes_response(),
        ),
        (
            "bep33_get_peers_scrape_query",
            bep33_get_peers_scrape_query(),
        ),
        (
            "bep33_get_peers_scrape_response",
            bep33_get_peers_scrape_response(),
        ),
        (
            "bep33_announce_peer_seed_query",
            bep33_announce_peer_seed_query(),
        ),
        ("bep43_ro_ping_query", bep43_ro_ping_query()),
        ("bep42_ip_v4_response", bep42_ip_v4_response()),
        ("bep42_ip_v6_response", bep42_ip_v6_response()),
        ("bep32_find_node_want_query", bep32_find_node_want_query()),
        (
            "bep32_find_node_response_nodes6",
            bep32_find_node_response_nodes6(),
        ),
        (
            "bep32_get_peers_response_values6",
            bep32_get_peers_response_values6(),
        ),
        ("libtorrent_get_peers_query", libtorrent_get_peers_query()),
        (
            "libtorrent_ro_find_node_query",
            libtorrent_ro_find_node_query(),
        ),
        (
            "libtorrent_get_peers_response",
            libtorrent_get_peers_response(),
        ),
        (
            "libtorrent_sample_infohashes_response",
            libtorrent_sample_infohashes_response(),
        ),
        ("libtorrent_error_204", libtorrent_error_204()),
    ]
}
