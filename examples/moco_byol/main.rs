//! MoCo v2 and BYOL on the vendored MNIST subset, one after the other, with the same ConvNet and
//! recipe as the main job, each reporting kNN and linear-probe accuracy before and after.
//!
//! `cargo run --release -p selfsup-examples --example moco_byol -- [epochs]`

use anyhow::Result;
use selfsup::run::RunConfig;
use std::path::PathBuf;

fn main() -> Result<()> {
    selfsup_examples::init_logging();
    let epochs = selfsup_examples::epochs_arg(10)?;
    let mut results = Vec::new();
    for method in ["moco_v2", "byol"] {
        // The method's own defaults (queue size, momentum, head widths), from its config type.
        let mut cfg = RunConfig {
            method: serde_json::from_value(serde_json::json!({ "kind": method }))?,
            ..Default::default()
        };
        cfg.train.epochs = epochs;
        cfg.out_dir = PathBuf::from(format!("runs/example-{method}-mnist"));
        let s = selfsup::run::run_config(&cfg, false)?;
        results.push((method, s));
    }
    for (m, s) in results {
        tracing::info!(method = m, before = ?s.before, after = ?s.after, seconds = s.train_seconds, "result (kNN acc, probe acc)");
    }
    Ok(())
}
