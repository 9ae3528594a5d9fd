//! Fuzz `peerwire::MetadataFetch` with arbitrary peer bytes: see `fetch_session` in
//! `crates/peerwire/tests/support/fuzz_checks.rs` for the input layout and the properties.

#![no_main]

#[path = "../../crates/peerwire/tests/support/fuzz_checks.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::fetch_session(data));
