//! The simulator's scenario tests, one module per scenario, in one test binary (one link
//! step for all of them, and the harness runs them in parallel). `common` holds the shared
//! scenario helpers. Seeds: each scenario has a default; `BITAGENT_TEST_SEED` replays another.

mod common;

mod bep51_walk_finds_stored_hashes;
mod engine_regressions;
mod get_peers_finds_announced_peers;
mod invariants_hold_every_step;
mod lookups_converge;
mod lossy_network;
mod read_only_nodes_stay_out_of_tables;
mod same_seed_same_trace;
