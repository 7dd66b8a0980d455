//! The downstream step on its own: take the encoder of a finished `selfsup pretrain` run
//! (`encoder.safetensors` + `config.toml` in its run folder), then
//! 1. a linear probe on its frozen features (L-BFGS, full batch), and
//! 2. a supervised fine-tune of the whole encoder with a new linear head (Adam, a few epochs),
//!
//! both on the run's labelled splits, reporting held-out accuracy.
//!
//! `cargo run --release -p selfsup-examples --example linear_probe -- runs/simclr-mnist-csv [epochs]`

use anyhow::{bail, Context, Result};
use selfsup::run::RunConfig;
use selfsup::run::{self, data};
use selfsup_train::eval::{self, FinetuneConfig, LinearProbeConfig, ProbeOptimizer};
use std::path::PathBuf;
use tch::nn::VarStore;
use tch::Tensor;

fn main() -> Result<()> {
    selfsup_examples::init_logging();
    let mut args = std::env::args().skip(1);
    let Some(run) = args.next().map(PathBuf::from) else {
        bail!("usage: linear_probe <run folder of `selfsup pretrain`> [fine-tune epochs]");
    };
    let epochs: usize = args.next().map(|e| e.parse()).transpose()?.unwrap_or(3);
    let cfg = RunConfig::from_file(&run.join("config.toml"))?;
    let splits = data::open_splits(&cfg)?;
    let ev = run::eval_data(&cfg, &splits)?;
    let in_channels = run::input_spec(&cfg, Some(&ev), &splits)?.channels();
    let device = selfsup_nn::parse_device(&cfg.train.device)?;

    // The encoder alone, under the same names `selfsup export` writes (prefix removed).
    let mut vs = VarStore::new(device);
    let encoder = selfsup_nn::build_backbone(&vs.root(), &cfg.backbone, in_channels)?;
    let weights = run.join("encoder.safetensors");
    let (tensors, _) = selfsup_train::checkpoint::load_safetensors(&weights)
        .with_context(|| format!("run `selfsup pretrain` first: {}", weights.display()))?;
    selfsup_train::checkpoint::load_into_var_store(&weights, &tensors, &mut vs)?;

    // Fine-tuning trains on the inputs themselves: this small example stacks both splits.
    let split = splits
        .eval
        .as_ref()
        .context("the run's data has no labels")?;
    let arrays = |ds| -> Result<(Tensor, Tensor)> {
        let (x, y) = data::eval_arrays(&cfg, ds)?;
        Ok((
            selfsup_nn::array_to_tensor(x.view(), device)?,
            Tensor::from_slice(&y),
        ))
    };
    let ((xtr, ytr), (xva, yva)) = (arrays(split.bank.clone())?, arrays(split.query.clone())?);
    let feats = |x: &Tensor| -> Tensor {
        tch::no_grad(|| {
            let parts: Vec<Tensor> = x
                .split(512, 0)
                .iter()
                .map(|b| encoder.forward_t(b, false))
                .collect();
            Tensor::cat(&parts, 0)
        })
    };
    let probe = eval::linear_probe(
        &feats(&xtr),
        &ytr,
        &feats(&xva),
        &yva,
        ev.num_classes,
        &LinearProbeConfig {
            optimizer: ProbeOptimizer::Lbfgs,
            epochs: 100,
            ..Default::default()
        },
    )?;
    tracing::info!(
        test_acc = probe.test_acc,
        train_acc = probe.train_acc,
        "linear probe (frozen encoder)"
    );

    let ft = eval::finetune(
        &vs,
        &|x, train| encoder.forward_t(x, train),
        encoder.output_dim(),
        (&xtr, &ytr),
        (&xva, &yva),
        ev.num_classes,
        &FinetuneConfig {
            epochs,
            ..Default::default()
        },
    )?;
    tracing::info!(
        test_acc = ft.test_acc,
        train_acc = ft.train_acc,
        "fine-tuned encoder + linear head"
    );
    Ok(())
}
