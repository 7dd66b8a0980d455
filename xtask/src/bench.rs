//! `cargo xtask bench`: runs the criterion benches and the PyTorch side of each comparison in one run,
//! then writes `docs/benchmarks.md`. (Filled by the benchmark work.)

use anyhow::{bail, Result};

/// Runs the benchmarks.
pub fn run(_args: &[String]) -> Result<()> {
    bail!("`cargo xtask bench` is not implemented yet; run `cargo bench -p <crate>` for the criterion benches")
}
