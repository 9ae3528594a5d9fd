//! Fuzz `krpc::Message::decode`: see `krpc_roundtrip` in `src/checks.rs` for the properties.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bitagent_fuzz::krpc_roundtrip(data));
