//! `cargo xtask doctor`: where libtorch is, which version, and what the `selfsup` binary sees.

use crate::{setup, util};
use anyhow::Result;

/// Prints the libtorch location and version, then runs `selfsup doctor`.
pub fn run() -> Result<()> {
    let link = util::root().join(".libtorch");
    match std::fs::canonicalize(&link) {
        Ok(target) => {
            eprintln!("xtask: .libtorch -> {}", target.display());
            eprintln!(
                "xtask: version: {}",
                setup::version_of(&target).unwrap_or_else(|| "unknown".into())
            );
        }
        Err(_) => eprintln!("xtask: .libtorch is missing; run `cargo xtask setup`"),
    }
    setup::run()?;
    util::cargo(&["run", "--quiet", "-p", "selfsup-cli", "--", "doctor"])
}
