//! Fuzz `bencode::decode`: see `bencode_roundtrip` in `src/checks.rs` for the properties.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bitagent_fuzz::bencode_roundtrip(data));
