//! One SimCLR training step (two views through the backbone and projection head, NT-Xent, backward,
//! SGD update) at batch 256 and 32 px, paired with `scripts/bench/simclr_step.py` (the same models in
//! PyTorch with lightly's head and loss) by `cargo xtask bench`:
//! - `contrastive/simclr_step_convnet4_b256_32px`: the 4-block ConvNet 32-64-128-256;
//! - `contrastive/simclr_step_resnet18_b256_32px`: ResNet-18 with the CIFAR stem (3×3 conv, no max-pool);
//! - `contrastive/simclr_step_convnet4_b256_32px_bf16`: the ConvNet-4 step with its forward pass and
//!   loss in bf16 CPU autocast (`train.precision = "bf16"`; `torch.autocast("cpu", dtype=torch.bfloat16)`
//!   on the PyTorch side).
//!
//! Head 2048 → 128 with BN, temperature 0.5 (the `SimClrConfig` defaults, lightly's `SimCLRProjectionHead`
//! and `NTXentLoss`); SGD lr 0.06, momentum 0.9, weight decay 5e-4 on every parameter (lightly's CIFAR
//! benchmark settings, `torch.optim.SGD` semantics). Two batches of uniform `[0, 1]` 3×32×32 images.
//! Single-threaded libtorch on both sides. The process keeps freed memory as the trainer does
//! (`selfsup_train::memory::keep_freed_memory`); the PyTorch side runs with glibc's defaults, as a
//! PyTorch user does.

use criterion::{criterion_main, Criterion, Throughput};
use selfsup_contrastive::methods::SimClrConfig;
use selfsup_contrastive::{build_method, MethodConfig};
use selfsup_nn::backbones::{ConvNetConfig, ResNetConfig, Stem};
use selfsup_nn::{BackboneConfig, Batch, StepInfo};
use selfsup_train::precision::step_guard;
use selfsup_train::{Optimizer, OptimizerConfig, OptimizerKind, Precision};
use tch::{Device, Kind, Tensor};

const BATCH: i64 = 256;
const LR: f64 = 0.06;

fn simclr_steps(c: &mut Criterion) {
    tch::set_num_threads(1);
    selfsup_train::memory::keep_freed_memory();
    tch::manual_seed(0);
    let views = (0..2)
        .map(|_| Tensor::rand([BATCH, 3, 32, 32], (Kind::Float, Device::Cpu)))
        .collect();
    let batch = Batch {
        views,
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
    let ocfg = OptimizerConfig {
        kind: OptimizerKind::Sgd,
        lr: LR,
        momentum: 0.9,
        weight_decay: 5e-4,
        exclude_bias_and_norm: false,
        ..Default::default()
    };
    let mut g = c.benchmark_group("contrastive");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    let convnet4 = || BackboneConfig::ConvNet(ConvNetConfig::default());
    for (id, backbone, precision) in [
        (
            "simclr_step_convnet4_b256_32px",
            convnet4(),
            Precision::Fp32,
        ),
        (
            "simclr_step_resnet18_b256_32px",
            BackboneConfig::ResNet18(ResNetConfig { stem: Stem::Cifar }),
            Precision::Fp32,
        ),
        (
            "simclr_step_convnet4_b256_32px_bf16",
            convnet4(),
            Precision::Bf16,
        ),
    ] {
        let cfg = MethodConfig::Simclr(SimClrConfig::default());
        let mut m = build_method(&cfg, &backbone, 3, Device::Cpu, 0).expect("bench model");
        let mut opt = Optimizer::new(m.var_store(), &ocfg).expect("optimizer");
        g.bench_function(id, |b| {
            b.iter(|| {
                opt.zero_grad();
                let out = {
                    let _autocast = step_guard(precision, Device::Cpu).expect("autocast");
                    m.step(&batch, &info).expect("step")
                };
                out.loss.backward();
                opt.step(LR).expect("optimizer step");
            })
        });
    }
    g.finish();
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::simclr_steps);
}
criterion_main!(group::benches);
