//! BEP-42: node ids bound to the node's external IP, and the check of remote ids.

use std::net::IpAddr;

use krpc::Id20;

const V4_MASK: [u8; 4] = [0x03, 0x0f, 0x3f, 0xff];
const V6_MASK: [u8; 8] = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];

/// The CRC32-C of the masked IP with `r` (0..8) mixed into the top bits, as BEP-42 defines.
fn ip_crc(ip: IpAddr, r: u8) -> u32 {
    match ip {
        IpAddr::V4(v4) => {
            let mut b = v4.octets();
            for (x, m) in b.iter_mut().zip(V4_MASK) {
                *x &= m;
            }
            b[0] |= (r & 7) << 5;
            crc32c::crc32c(&b)
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            let mut b = [0u8; 8];
            for i in 0..8 {
                b[i] = o[i] & V6_MASK[i];
            }
            b[0] |= (r & 7) << 5;
            crc32c::crc32c(&b)
        }
    }
}

/// A BEP-42 id for `ip`: the top 21 bits come from the CRC, the last byte is `rand`, the rest
/// is `random` (bytes 2..19, of which byte 2 contributes only its low 3 bits).
pub fn id_for_ip(ip: IpAddr, rand: u8, random: [u8; 17]) -> Id20 {
    let crc = ip_crc(ip, rand & 7);
    let mut id = [0u8; 20];
    id[0] = (crc >> 24) as u8;
    id[1] = (crc >> 16) as u8;
    id[2] = ((crc >> 8) as u8 & 0xf8) | (random[0] & 0x07);
    id[3..19].copy_from_slice(&random[1..17]);
    id[19] = rand;
    Id20(id)
}

/// Whether `ip` is exempt from BEP-42 (local and private networks, as the BEP lists them).
pub fn is_exempt(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            o[0] == 10
                || o[0] == 127
                || (o[0] == 172 && (o[1] & 0xf0) == 16)
                || (o[0] == 192 && o[1] == 168)
                || (o[0] == 169 && o[1] == 254)
                || v4.is_unspecified()
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_exempt(IpAddr::V4(v4)))
        }
    }
}

/// Whether `id` is a valid BEP-42 id for `ip` (exempt addresses always pass).
pub fn is_valid(id: &Id20, ip: IpAddr) -> bool {
    if is_exempt(ip) {
        return true;
    }
    let crc = ip_crc(ip, id.0[19] & 7);
    id.0[0] == (crc >> 24) as u8
        && id.0[1] == (crc >> 16) as u8
        && (id.0[2] & 0xf8) == ((crc >> 8) as u8 & 0xf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vectors from BEP-42: IP, rand, and the first three bytes and last byte of the id.
    const VECTORS: [(&str, u8, &str); 5] = [
        ("124.31.75.21", 1, "5fbfbf"),
        ("21.75.31.124", 86, "5a3ce9"),
        ("65.23.51.170", 22, "a5d432"),
        ("84.124.73.14", 65, "1b0321"),
        ("43.213.53.83", 90, "e56f6c"),
    ];

    #[test]
    fn bep42_test_vectors() {
        for (ip, rand, prefix) in VECTORS {
            let ip: IpAddr = ip.parse().unwrap();
            // The BEP's ids use random low bits in byte 2; take them from the expected prefix.
            let expected = hex::decode(prefix).unwrap();
            let mut random = [0u8; 17];
            random[0] = expected[2] & 7;
            let id = id_for_ip(ip, rand, random);
            assert_eq!(&id.0[..3], &expected[..], "ip {ip}");
            assert_eq!(id.0[19], rand);
            assert!(is_valid(&id, ip));
        }
    }

    #[test]
    fn bep42_full_example_ids_verify() {
        // Complete ids from the BEP's table.
        let ids = [
            ("124.31.75.21", "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401"),
            ("21.75.31.124", "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256"),
            ("65.23.51.170", "a5d43220bc8f112a3d426c84764f8c2a1150e616"),
            ("84.124.73.14", "1b0321dd1bb1fe518101ceef99462b947a01ff41"),
            ("43.213.53.83", "e56f6cbf5b7c4be0237986d5243b87aa6d51305a"),
        ];
        for (ip, id) in ids {
            let ip: IpAddr = ip.parse().unwrap();
            let id: Id20 = id.parse().unwrap();
            assert!(is_valid(&id, ip), "{ip}");
            // Flipping a CRC bit breaks it.
            let mut bad = id;
            bad.0[0] ^= 0x80;
            assert!(!is_valid(&bad, ip));
        }
    }

    #[test]
    fn exemptions() {
        for ip in [
            "10.1.2.3",
            "127.0.0.5",
            "172.16.0.1",
            "172.31.255.1",
            "192.168.1.1",
            "169.254.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
        ] {
            assert!(is_exempt(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["172.32.0.1", "8.8.8.8", "2001:db8::1"] {
            assert!(!is_exempt(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_valid(&Id20::ZERO, "127.0.0.1".parse().unwrap()));
        assert!(!is_valid(&Id20::ZERO, "8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn ipv6_ids_verify() {
        let ip: IpAddr = "2001:db8:1234:5678::1".parse().unwrap();
        for r in 0..=255u8 {
            let id = id_for_ip(ip, r, [r; 17]);
            assert!(is_valid(&id, ip));
        }
    }
}
