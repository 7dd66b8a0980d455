//! Every autoencoder of `selfsup-autoencoder` trained briefly on the vendored MNIST subset, with the
//! encoder's kNN and linear-probe accuracy on a held-out split before and after pretraining.
//!
//! `cargo run --release -p selfsup-examples --example autoencoders -- [steps] [kinds]`
//! (`steps` per model, default 600; `kinds` a comma-separated subset of `ae,dae,sparse_ae,vae,mae`).
//!
//! Split: a seeded permutation of the 5000 digits (the CSV is sorted by class); its first 4000 train
//! the autoencoder and the probes, the last 1000 are held out.
//! Adam (lr 1e-3, batch 128) for the AEs and the VAE; AdamW (β = 0.9, 0.95, weight decay 0.05, lr
//! 1.5e-3) for the MAE, as its preset. The DAE's `[corrupted, clean]` pairs come from the crate's
//! loader pipeline, keyed by `(seed, epoch, index)`.

#![allow(clippy::print_stdout)] // an example program reports to its user

use anyhow::Result;
use selfsup::autoencoder::{
    view_pipeline, AeConfig, AutoencoderConfig, DaeConfig, MaeConfig, SparseAeConfig, VaeConfig,
};
use selfsup::core::{Generator, Sample, SampleKey};
use selfsup::data::{Dataset, MnistCsv};
use selfsup_nn::{BackboneConfig, Batch, Method, MlpConfig, StepInfo};
use selfsup_train::eval::{self, KnnConfig, LinearProbeConfig};
use std::time::Instant;
use tch::nn::{OptimizerConfig, VarStore};
use tch::{nn, Device, Tensor};

const N_TRAIN: usize = 4000;
const BATCH: i64 = 128;

fn image(s: &Sample) -> Tensor {
    let img = match s {
        Sample::Image(f) => f.clone(),
        Sample::ImageU8(u) => u.to_f32(),
        _ => unreachable!("MNIST samples are images"),
    };
    let (c, h, w) = img.dims();
    Tensor::from_slice(img.data()).reshape([c as i64, h as i64, w as i64])
}

fn mlp(hidden: Vec<i64>, out: i64) -> BackboneConfig {
    BackboneConfig::Mlp(MlpConfig {
        input_dim: 784,
        hidden,
        output_dim: out,
        batch_norm: false,
    })
}

fn model(kind: &str) -> (AutoencoderConfig, BackboneConfig) {
    match kind {
        "ae" => (
            AutoencoderConfig::Ae(AeConfig::default()),
            mlp(vec![512], 64),
        ),
        "dae" => (
            AutoencoderConfig::Dae(DaeConfig::default()),
            mlp(vec![512], 64),
        ),
        "sparse_ae" => (
            AutoencoderConfig::SparseAe(SparseAeConfig::default()),
            mlp(vec![512], 64),
        ),
        "vae" => (
            AutoencoderConfig::Vae(VaeConfig::default()),
            mlp(vec![], 400),
        ),
        _ => (
            AutoencoderConfig::Mae(MaeConfig::default()),
            BackboneConfig::default(),
        ),
    }
}

fn scores(m: &dyn Method, x: &Tensor, y: &Tensor) -> Result<(f64, f64)> {
    let parts: Vec<Tensor> = x
        .split(500, 0)
        .iter()
        .map(|b| m.embed(b))
        .collect::<selfsup_nn::Result<_>>()?;
    let feats = Tensor::cat(&parts, 0);
    let (ftr, fte) = (
        feats.narrow(0, 0, N_TRAIN as i64),
        feats.narrow(0, N_TRAIN as i64, 1000),
    );
    let (ytr, yte) = (
        y.narrow(0, 0, N_TRAIN as i64),
        y.narrow(0, N_TRAIN as i64, 1000),
    );
    let knn = eval::knn_accuracy(&ftr, &ytr, &fte, &yte, 10, &KnnConfig::default())?;
    let probe = eval::linear_probe(&ftr, &ytr, &fte, &yte, 10, &LinearProbeConfig::default())?;
    Ok((knn, probe.test_acc))
}

fn main() -> Result<()> {
    selfsup_examples::init_logging();
    let mut args = std::env::args().skip(1);
    let steps: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(600);
    let kinds: Vec<String> = args
        .next()
        .map(|k| k.split(',').map(str::to_string).collect())
        .unwrap_or_else(|| {
            AutoencoderConfig::KINDS
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/mnist5k/mnist_5k.csv.gz"
    );
    let ds = MnistCsv::new(path)?;
    // The CSV is sorted by digit: a seeded permutation, then 4000 train / 1000 held out.
    let order = Generator::seed_from_u64(0).permutation(ds.len());
    let order = &order[..(N_TRAIN + 1000).min(ds.len())];
    let xs: Vec<Tensor> = order
        .iter()
        .map(|&i| Ok(image(&ds.get(i)?.sample)))
        .collect::<Result<_>>()?;
    let x = Tensor::stack(&xs, 0);
    let y = Tensor::from_slice(
        &order
            .iter()
            .map(|&i| i64::from(ds.labels()[i]))
            .collect::<Vec<_>>(),
    );
    println!("kind       kNN before → after   probe before → after   steps  seconds");
    for kind in &kinds {
        let (cfg, backbone) = model(kind);
        tch::manual_seed(0);
        let mut m = cfg.build_in(VarStore::new(Device::Cpu), &backbone, &[1, 28, 28])?;
        let (knn0, probe0) = scores(m.as_ref(), &x, &y)?;
        let pipeline = view_pipeline(&cfg)?;
        let mut opt = if kind == "mae" {
            nn::AdamW {
                beta1: 0.9,
                beta2: 0.95,
                wd: 0.05,
                ..Default::default()
            }
            .build(m.var_store(), 1.5e-3)?
        } else {
            nn::Adam::default().build(m.var_store(), 1e-3)?
        };
        let per_epoch = N_TRAIN as i64 / BATCH;
        let start = Instant::now();
        let mut last = Vec::new();
        for step in 0..steps {
            let epoch = step as i64 / per_epoch;
            let b = step as i64 % per_epoch;
            let idx: Vec<usize> = (0..BATCH)
                .map(|j| {
                    order[((b * BATCH + j) as usize * 7919 + epoch as usize * 104_729) % N_TRAIN]
                })
                .collect();
            let views: Vec<Vec<Tensor>> = idx
                .iter()
                .map(|&i| -> Result<Vec<Tensor>> {
                    let key = SampleKey::new(0, epoch as u64, i as u64);
                    Ok(pipeline
                        .views(ds.get(i)?.sample, key)?
                        .iter()
                        .map(image)
                        .collect())
                })
                .collect::<Result<_>>()?;
            let batch = Batch {
                views: (0..views[0].len())
                    .map(|v| {
                        Tensor::stack(
                            &views
                                .iter()
                                .map(|s| s[v].shallow_clone())
                                .collect::<Vec<_>>(),
                            0,
                        )
                    })
                    .collect(),
                labels: None,
                targets: None,
                indices: None,
            };
            let info = StepInfo {
                step: step as u64,
                total_steps: steps as u64,
                epoch: epoch as u64,
                total_epochs: (steps as u64).div_ceil(per_epoch as u64),
            };
            let out = m.step(&batch, &info)?;
            opt.zero_grad();
            out.loss.backward();
            opt.step();
            if step + 20 >= steps {
                last.push(out.loss.double_value(&[]));
            }
            if step % 100 == 0 {
                tracing::info!(kind = %kind, step, loss = out.loss.double_value(&[]), scalars = ?out.scalars);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let (knn1, probe1) = scores(m.as_ref(), &x, &y)?;
        println!(
            "{kind:<10} {knn0:.3} → {knn1:.3}        {probe0:.3} → {probe1:.3}          {steps:>5}  {secs:>6.1}   (final loss {:.4})",
            last.iter().sum::<f64>() / last.len().max(1) as f64
        );
    }
    Ok(())
}
