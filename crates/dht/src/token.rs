//! Write tokens for `announce_peer`: a hash of the querier's IP and a rotating secret.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

/// Length of the tokens we hand out.
pub(crate) const TOKEN_LEN: usize = 8;

/// Issues and checks tokens. A token stays valid until the secret has rotated twice, i.e. for
/// one to two rotation periods (5–10 minutes by default).
#[derive(Debug)]
pub(crate) struct TokenIssuer {
    current: [u8; 16],
    previous: [u8; 16],
    rotated_at: Instant,
    period: Duration,
}

impl TokenIssuer {
    /// An issuer with an initial secret.
    pub(crate) fn new(secret: [u8; 16], now: Instant, period: Duration) -> Self {
        Self {
            current: secret,
            previous: secret,
            rotated_at: now,
            period,
        }
    }

    fn compute(secret: &[u8; 16], ip: IpAddr) -> [u8; TOKEN_LEN] {
        let mut h = Sha1::new();
        h.update(secret);
        match ip {
            IpAddr::V4(v4) => h.update(v4.octets()),
            IpAddr::V6(v6) => h.update(v6.octets()),
        }
        let d = h.finalize();
        let mut out = [0u8; TOKEN_LEN];
        out.copy_from_slice(&d[..TOKEN_LEN]);
        out
    }

    /// Whether the secret is due to rotate.
    pub(crate) fn due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.rotated_at) >= self.period
    }

    /// When the secret next rotates.
    pub(crate) fn next_rotation(&self) -> Instant {
        self.rotated_at + self.period
    }

    /// Rotates in a new secret; the current one becomes the previous.
    pub(crate) fn rotate(&mut self, fresh: [u8; 16], now: Instant) {
        self.previous = self.current;
        self.current = fresh;
        self.rotated_at = now;
    }

    /// The token for `ip`.
    pub(crate) fn issue(&self, ip: IpAddr) -> [u8; TOKEN_LEN] {
        Self::compute(&self.current, ip)
    }

    /// Whether `token` was issued to `ip` under the current or previous secret.
    pub(crate) fn verify(&self, ip: IpAddr, token: &[u8]) -> bool {
        token == Self::compute(&self.current, ip) || token == Self::compute(&self.previous, ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_for_two_rotations() {
        let t0 = Instant::now();
        let ip: IpAddr = "1.2.3.4".parse().unwrap();
        let mut t = TokenIssuer::new([1; 16], t0, Duration::from_secs(300));
        let tok = t.issue(ip);
        assert!(t.verify(ip, &tok));
        assert!(!t.verify("1.2.3.5".parse().unwrap(), &tok));
        t.rotate([2; 16], t0 + Duration::from_secs(300));
        assert!(t.verify(ip, &tok));
        t.rotate([3; 16], t0 + Duration::from_secs(600));
        assert!(!t.verify(ip, &tok));
    }
}
