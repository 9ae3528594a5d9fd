//! The double-hash blocklist (filled in by the blocklist work).
