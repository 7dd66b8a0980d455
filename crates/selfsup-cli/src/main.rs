//! The `selfsup` command-line program.
//!
//! Subcommands: `pretrain` (self-supervised pretraining on a dataset), `eval` (kNN / linear probe of a
//! trained encoder), `preview` (augmentation grids and spectrograms as PNG), `export` (encoder weights as
//! safetensors), `doctor` (where libtorch is and what it can do).

use anyhow::Result;
use clap::{Parser, Subcommand};

mod doctor;

/// Self-supervised learning from the command line.
#[derive(Debug, Parser)]
#[command(name = "selfsup", version, about, long_about = None)]
struct Cli {
    /// Log filter (tracing syntax), e.g. `info`, `selfsup_train=debug`. Also read from RUST_LOG.
    #[arg(long, global = true, default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Pretrain an encoder with a self-supervised method (default: SimCLR on the vendored MNIST subset).
    Pretrain(PretrainArgs),
    /// Evaluate a trained encoder downstream: `knn` or `linear` probe.
    Eval {
        /// `knn` or `linear`.
        protocol: String,
        /// A run folder or checkpoint.
        #[arg(long)]
        run: Option<std::path::PathBuf>,
    },
    /// Write a PNG preview: an augmentation grid for images, spectrograms for audio.
    Preview {
        /// Output PNG path.
        #[arg(long, default_value = "preview.png")]
        out: std::path::PathBuf,
    },
    /// Export encoder weights as safetensors (torchvision names for ResNets).
    Export {
        /// A run folder or checkpoint.
        #[arg(long)]
        run: Option<std::path::PathBuf>,
        /// Output file.
        #[arg(long, default_value = "encoder.safetensors")]
        out: std::path::PathBuf,
    },
    /// Report where libtorch is, its version, threads and CUDA availability.
    Doctor,
}

#[derive(Debug, clap::Args)]
struct PretrainArgs {
    /// A TOML run configuration.
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Dataset preset or kind (`mnist`, `fsdd`, ...).
    #[arg(long)]
    dataset: Option<String>,
}

fn unfinished(what: &str) -> Result<()> {
    anyhow::bail!("`selfsup {what}` is not implemented yet in this build (it arrives with the trainer); nothing was done")
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| cli.log.clone());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Doctor => doctor::run(),
        Command::Pretrain(_) => unfinished("pretrain"),
        Command::Eval { .. } => unfinished("eval"),
        Command::Preview { .. } => unfinished("preview"),
        Command::Export { .. } => unfinished("export"),
    }
}
