//! Compute time of one SimCLR training step (two views, ResNet backbone, 2-layer projection head,
//! NT-Xent, SGD update) on this machine, and the gradient size: the inputs of the paper model in
//! `docs/distributed.md`.
//!
//! ```sh
//! cargo run --release -p selfsup-dist --example step_time -- resnet18 224 8 3
//! #                                                          depth    px  batch steps
//! ```
//!
//! Prints one JSON line: parameters, gradient bytes (float32), median step time and time per
//! sample (one sample = its two views).
#![allow(clippy::print_stdout)]

use selfsup_contrastive::losses::NtXentLoss;
use selfsup_nn::backbones::{build_backbone, BackboneConfig, ResNetConfig, Stem};
use selfsup_nn::heads::ProjectionHead;
use std::time::Instant;
use tch::nn::{ModuleT, OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let depth = args.get(1).map_or("resnet18", String::as_str);
    let px: i64 = args.get(2).map_or(Ok(224), |s| s.parse())?;
    let batch: i64 = args.get(3).map_or(Ok(8), |s| s.parse())?;
    let steps: usize = args.get(4).map_or(Ok(3), |s| s.parse())?;
    let stem = if px <= 64 {
        Stem::Cifar
    } else {
        Stem::Imagenet
    };
    let cfg = match depth {
        "resnet18" => BackboneConfig::ResNet18(ResNetConfig { stem }),
        "resnet50" => BackboneConfig::ResNet50(ResNetConfig { stem }),
        other => anyhow::bail!("depth must be resnet18 or resnet50, got {other}"),
    };
    tch::manual_seed(0);
    let vs = VarStore::new(Device::Cpu);
    let backbone = build_backbone(&(vs.root() / "backbone"), &cfg, 3)?;
    let feat = cfg.output_dim(3);
    let head = ProjectionHead::new(&(vs.root() / "head"), &[feat, feat, 128], false, false)?;
    let mut opt = tch::nn::Sgd::default().build(&vs, 0.1)?;
    let loss = NtXentLoss::default();
    let params: i64 = vs
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum();
    let x0 = Tensor::randn([batch, 3, px, px], (Kind::Float, Device::Cpu));
    let x1 = Tensor::randn([batch, 3, px, px], (Kind::Float, Device::Cpu));
    let mut times = Vec::new();
    for step in 0..=steps {
        let t0 = Instant::now();
        let z0 = head.forward_t(&backbone.forward_t(&x0, true), true);
        let z1 = head.forward_t(&backbone.forward_t(&x1, true), true);
        let l = loss.forward(&z0, &z1)?;
        opt.zero_grad();
        l.backward();
        opt.step();
        if step > 0 {
            // step 0 is warm-up
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    let med = times[times.len() / 2];
    println!(
        "{{\"model\":\"{depth}\",\"px\":{px},\"batch\":{batch},\"threads\":{},\"params\":{params},\"grad_bytes\":{},\"step_s\":{med:.4},\"per_sample_ms\":{:.3}}}",
        tch::get_num_threads(),
        params * 4,
        med / batch as f64 * 1e3
    );
    Ok(())
}
