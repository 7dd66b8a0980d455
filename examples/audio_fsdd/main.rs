//! Audio contrastive pretraining on the vendored Free Spoken Digit Dataset: two random 0.5 s windows
//! of a recording (random gain, noise at a random SNR) as the positive pair, log-mel features, a small
//! CNN; kNN and linear-probe digit accuracy on FSDD's official test takes before and after.
//!
//! `cargo run --release -p selfsup-examples --example audio_fsdd -- [epochs]`

use anyhow::Result;
use selfsup::run::RunConfig;

fn main() -> Result<()> {
    selfsup_examples::init_logging();
    let epochs = selfsup_examples::epochs_arg(20)?;
    let mut cfg = RunConfig::fsdd();
    cfg.train.epochs = epochs;
    cfg.out_dir = "runs/example-audio-fsdd".into();
    selfsup::run::run_config(&cfg, false)?;
    Ok(())
}
