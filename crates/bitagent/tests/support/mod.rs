//! What every test of the real binary needs: the binary, started with a clean environment.
//! (Each test binary uses a part of it.)

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

/// The `bitagent` binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_bitagent");

/// `bitagent ARGS` with a clean environment: no `BITAGENT_*` variable and no user config
/// (`HOME` points at `home`, a directory of the test's), the HTTP server off, stdin closed.
/// The caller sets stdout/stderr and spawns it.
pub(crate) fn bitagent(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("HOME", home)
        .env("BITAGENT_HTTP", "off")
        .stdin(Stdio::null());
    cmd
}
