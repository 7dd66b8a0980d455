//! The `selfsup` command-line program.
//!
//! Subcommands: `pretrain` (self-supervised pretraining on a dataset, with kNN and linear-probe
//! accuracy before and after), `eval` (kNN / linear probe of a trained run), `preview` (augmented views
//! as a PNG grid; spectrograms for audio), `export` (encoder weights as safetensors, or the encoder
//! traced to TorchScript), `embed` (features of every file or sample), `generate` (text from a GPT
//! run), `doctor` (where libtorch and the vendored data are, and what libtorch can do). Log lines go
//! through `selfsup_train::progress::log_writer`, so they are drawn above the progress bars.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use anyhow::Result;
use clap::{Parser, Subcommand};

use selfsup_cli::{commands, doctor, embed, generate, pretrain};

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
#[allow(clippy::large_enum_variant)] // parsed once per process
enum Command {
    /// Pretrain an encoder with a self-supervised method (default: SimCLR on the vendored MNIST subset).
    Pretrain(pretrain::PretrainArgs),
    /// Evaluate a trained run downstream: `knn` or `linear` probe on its held-out split.
    Eval(commands::EvalArgs),
    /// Write a PNG preview of augmented views (images) or their log-mel spectrograms (audio).
    Preview(commands::PreviewArgs),
    /// Export a run's encoder: weights as safetensors (torchvision names for ResNets) or TorchScript.
    Export(commands::ExportArgs),
    /// Features of every file of an image or audio folder from a trained run (safetensors, .npy, CSV).
    Embed(embed::EmbedArgs),
    /// Sample text from a trained next-token (GPT) run, reproducibly by seed.
    Generate(generate::GenerateArgs),
    /// Report where libtorch is, its version, threads and CUDA availability.
    Doctor,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| cli.log.clone());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(selfsup_train::progress::log_writer)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let r = match cli.command {
        Command::Doctor => doctor::run(),
        Command::Pretrain(a) => pretrain::run(&a),
        Command::Eval(a) => commands::eval(&a),
        Command::Preview(a) => commands::preview(&a),
        Command::Export(a) => commands::export(&a),
        Command::Generate(a) => generate::generate(&a),
        Command::Embed(a) => embed::run(&a),
    };
    if let Err(e) = &r {
        let interrupted = e.chain().any(|c| {
            matches!(
                c.downcast_ref::<selfsup_train::Error>(),
                Some(selfsup_train::Error::Interrupted(_))
            )
        });
        if interrupted {
            // Stopped by Ctrl-C or SIGTERM: the shell's convention for SIGINT, from the main thread
            // with libtorch idle.
            eprintln!("Error: {e:#}");
            std::process::exit(130);
        }
    }
    r
}
