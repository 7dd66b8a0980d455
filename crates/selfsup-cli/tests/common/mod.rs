//! Shared by the CLI test binaries: runs the built `selfsup` binary on the vendored data.

use std::path::Path;
use std::process::Command;

/// Runs `selfsup args...` in `cwd` with the vendored data and `RUST_LOG=warn`; returns (success,
/// stdout, stderr).
pub fn selfsup(args: &[&str], cwd: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_selfsup"))
        .args(args)
        .current_dir(cwd)
        .env(
            "SELFSUP_DATA",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../data"),
        )
        .env("RUST_LOG", "warn")
        .output()
        .expect("run selfsup");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
