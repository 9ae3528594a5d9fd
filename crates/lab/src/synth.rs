//! Synthetic torrents (filled in by the lab work).
