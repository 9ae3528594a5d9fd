//! The lab swarm (filled in by the lab work).
