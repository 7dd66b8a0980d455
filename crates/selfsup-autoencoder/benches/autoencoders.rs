//! One training step (forward, backward, AdamW update) of the masked autoencoder and the VAE, paired
//! with `scripts/bench/autoencoders.py` (the same models in PyTorch) by `cargo xtask bench`:
//! - `autoencoder/mae_train_step_b128`: the default `MaeConfig` (28×28, patch 4, width 128, depth 4,
//!   4 heads; decoder 64 wide, 2 blocks; mask 0.75), AdamW β = (0.9, 0.95), weight decay 0.05 — images/s;
//! - `autoencoder/vae_train_step_b128`: pytorch/examples' VAE (MLP 784-400 → 20, decoder 20-400-784, BCE
//!   on logits + KL), AdamW — images/s.
//!
//! Batch 128 of uniform `[0, 1]` images; single-threaded libtorch (`tch::set_num_threads(1)`), as the
//! Python side.

use criterion::{criterion_main, Criterion, Throughput};
use selfsup_autoencoder::{AutoencoderConfig, MaeConfig, VaeConfig};
use selfsup_nn::{BackboneConfig, Batch, Method, MlpConfig, StepInfo};
use selfsup_train::{Optimizer, OptimizerConfig, OptimizerKind};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

const BATCH: i64 = 128;

fn train_steps(c: &mut Criterion) {
    tch::set_num_threads(1);
    tch::manual_seed(0);
    let x = Tensor::rand([BATCH, 1, 28, 28], (Kind::Float, Device::Cpu));
    let batch = Batch {
        views: vec![x],
        labels: None,
        targets: None,
        indices: None,
    };
    let info = StepInfo {
        step: 0,
        total_steps: 1,
        epoch: 0,
        total_epochs: 1,
    };
    let vae_backbone = BackboneConfig::Mlp(MlpConfig {
        input_dim: 784,
        hidden: vec![],
        output_dim: 400,
        batch_norm: false,
    });
    let mut g = c.benchmark_group("autoencoder");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    for (id, cfg, backbone, lr, wd) in [
        (
            "mae_train_step_b128",
            AutoencoderConfig::Mae(MaeConfig::default()),
            BackboneConfig::default(),
            1.5e-4,
            0.05,
        ),
        (
            "vae_train_step_b128",
            AutoencoderConfig::Vae(VaeConfig::default()),
            vae_backbone,
            1e-3,
            0.01,
        ),
    ] {
        let mut m: Box<dyn Method> = cfg
            .build_in(VarStore::new(Device::Cpu), &backbone, &[1, 28, 28])
            .expect("bench model");
        let ocfg = OptimizerConfig {
            kind: OptimizerKind::Adamw,
            lr,
            weight_decay: wd,
            betas: if id.starts_with("mae") {
                [0.9, 0.95]
            } else {
                [0.9, 0.999]
            },
            ..Default::default()
        };
        let mut opt = Optimizer::new(m.var_store(), &ocfg).expect("optimizer");
        g.bench_function(id, |b| {
            b.iter(|| {
                opt.zero_grad();
                let out = m.step(&batch, &info).expect("step");
                out.loss.backward();
                opt.step(lr).expect("optimizer step");
            })
        });
    }
    g.finish();
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::train_steps);
}
criterion_main!(group::benches);
