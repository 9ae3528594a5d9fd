//! Misbehaving metadata peers (filled in by the hostile-peer work).
