//! Fuzz `peerwire::InfoDict::parse`: see `info_dict_parse` in
//! `crates/peerwire/tests/support/fuzz_checks.rs` for the properties.

#![no_main]

#[path = "../../crates/peerwire/tests/support/fuzz_checks.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| checks::info_dict_parse(data));
