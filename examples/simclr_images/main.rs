//! SimCLR on your own images: an ImageFolder (one sub-folder per class) or a CIFAR-10 binary folder
//! (`data_batch_1.bin` ...), given on the command line. Prints kNN and linear-probe accuracy before and
//! after pretraining and leaves a run folder (checkpoints, metrics, plots, encoder weights).
//!
//! `cargo run --release -p selfsup-examples --example simclr_images -- <folder> [epochs]`

use anyhow::{bail, Result};
use selfsup::run::{DataKind, RunConfig};
use std::path::PathBuf;

fn main() -> Result<()> {
    selfsup_examples::init_logging();
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        bail!("usage: simclr_images <image-folder | cifar-10-binary-folder> [epochs]");
    };
    let epochs: u64 = args.next().map(|e| e.parse()).transpose()?.unwrap_or(10);
    let mut cfg = RunConfig::default();
    cfg.data.kind = if path.join("data_batch_1.bin").exists() {
        DataKind::Cifar
    } else {
        DataKind::ImageFolder
    };
    cfg.data.path = Some(path);
    cfg.data.batch_size = 128;
    // lightly's SimCLR recipe (random resized crop from 8 %, flip, colour jitter, greyscale, blur) at
    // 32 px; the evaluation sees the images as they are (the ConvNet pools globally).
    cfg.augment.recipe = selfsup::augment::RecipeName::SimClr.into();
    cfg.augment.image_size = Some(32);
    cfg.train.epochs = epochs;
    cfg.out_dir = PathBuf::from("runs/example-simclr-images");
    let s = selfsup::run::run_config(&cfg, false)?;
    tracing::info!(?s, "done");
    Ok(())
}
