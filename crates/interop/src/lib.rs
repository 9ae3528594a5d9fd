//! Test-only crate: see `tests/`. The integration tests start a swarm of real libtorrent DHT
//! sessions on 127.0.0.x (`tests/libtorrent/swarm.py`) and drive a BitAgent node against it.
