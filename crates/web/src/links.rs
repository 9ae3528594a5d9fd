//! Links every surface builds the same way: magnets and detail pages.

use std::fmt::Write as _;

use store::InfoHash;

/// A magnet link: `xt=urn:btih:<hex>`, `dn` (the name, percent-encoded) and `xl` (the size).
pub(crate) fn magnet(hash: &InfoHash, name: &str, size: u64) -> String {
    let mut m = format!("magnet:?xt=urn:btih:{hash}");
    if !name.is_empty() {
        m.push_str("&dn=");
        percent_encode(name, &mut m);
    }
    let _ = write!(m, "&xl={size}");
    m
}

/// The detail page's path.
pub(crate) fn detail_path(hash: &InfoHash) -> String {
    format!("/torrents/{hash}")
}

/// Percent-encodes everything but RFC 3986's unreserved characters (so the result is safe in
/// a query value, in XML text and in an HTML attribute once those escape `&`).
pub(crate) fn percent_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnet_encodes_the_name() {
        let h: InfoHash = "0123456789abcdef0123456789abcdef01234567".parse().unwrap();
        assert_eq!(
            magnet(&h, "a b&c=\"<x>\"\u{202e}", 42),
            "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567\
             &dn=a%20b%26c%3D%22%3Cx%3E%22%E2%80%AE&xl=42"
        );
    }
}
