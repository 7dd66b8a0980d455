//! Throughput of the trainer's hot numeric paths, paired with `scripts/bench/train_ops.py` (PyTorch):
//! - `train/knn_predict_bank5000_d128`: weighted kNN (k = 200, T = 0.1) of 1,000 queries against a bank
//!   of 5,000 128-d features — queries/s;
//! - `train/adamw_step_1m_params`: one AdamW update of 1,048,576 parameters (4 tensors) — params/s;
//! - `train/sgd_nesterov_step_1m_params`: the same with SGD + Nesterov momentum — params/s;
//! - `train/{adamw,sgd_nesterov}_step_1m_params_tensor_ops` (selfsup only): the same updates with the
//!   fused kernels off (`Optimizer::set_fused(false)`: one libtorch op per term), for comparison.
//!
//! Single-threaded libtorch (`tch::set_num_threads(1)`), as the Python side.

use criterion::{criterion_main, Criterion, Throughput};
use selfsup_train::eval::{knn_predict, KnnConfig};
use selfsup_train::{Optimizer, OptimizerConfig, OptimizerKind};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn knn(c: &mut Criterion) {
    tch::set_num_threads(1);
    tch::manual_seed(0);
    let bank = Tensor::randn([5000, 128], (Kind::Float, Device::Cpu));
    let labels = Tensor::randint(10, [5000], (Kind::Int64, Device::Cpu));
    let q = Tensor::randn([1000, 128], (Kind::Float, Device::Cpu));
    let cfg = KnnConfig::default();
    let mut g = c.benchmark_group("train");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("knn_predict_bank5000_d128", |b| {
        b.iter(|| knn_predict(&bank, &labels, &q, 10, &cfg).unwrap())
    });
    g.finish();
}

fn optim(c: &mut Criterion) {
    tch::set_num_threads(1);
    let mut g = c.benchmark_group("train");
    g.throughput(Throughput::Elements(1 << 20));
    for (id, kind, nesterov, fused) in [
        ("adamw_step_1m_params", OptimizerKind::Adamw, false, true),
        (
            "sgd_nesterov_step_1m_params",
            OptimizerKind::Sgd,
            true,
            true,
        ),
        (
            "adamw_step_1m_params_tensor_ops",
            OptimizerKind::Adamw,
            false,
            false,
        ),
        (
            "sgd_nesterov_step_1m_params_tensor_ops",
            OptimizerKind::Sgd,
            true,
            false,
        ),
    ] {
        let vs = VarStore::new(Device::Cpu);
        let ps: Vec<Tensor> = (0..4)
            .map(|i| vs.root().randn_standard(&format!("p{i}"), &[512, 512]))
            .collect();
        let loss = ps
            .iter()
            .map(|p| p.square().sum(Kind::Float))
            .sum::<Tensor>();
        loss.backward();
        let cfg = OptimizerConfig {
            kind,
            lr: 1e-3,
            nesterov,
            momentum: 0.9,
            weight_decay: 0.01,
            ..Default::default()
        };
        let mut opt = Optimizer::new(&vs, &cfg).unwrap();
        opt.set_fused(fused);
        g.bench_function(id, |b| b.iter(|| opt.step(1e-3).unwrap()));
    }
    g.finish();
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::knn, super::optim);
}
criterion_main!(group::benches);
