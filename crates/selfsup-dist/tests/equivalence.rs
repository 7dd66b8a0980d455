//! Data-parallel SimCLR equals one process with the global batch: a tiny MLP (no BatchNorm)
//! trained with NT-Xent (`selfsup_contrastive::losses::NtXentLoss`) for 10 SGD steps on W ranks ×
//! batch B — each rank a `Shard` of the same epoch order, parameters broadcast from rank 0 (the
//! other ranks start from different random weights), embeddings gathered with `gather_with_grad`,
//! gradients summed — gives the losses, first-step gradients and final weights of one process
//! with batch W·B within 1e-5.
//!
//! A second check covers DDP's mean semantics: a per-rank mean-squared loss with gradients averaged
//! (`GradReduction::Mean`) equals the same loss over the global batch.

mod common;

use selfsup_contrastive::losses::NtXentLoss;
use selfsup_dist::{
    allreduce_gradients, broadcast_parameters, gather_with_grad, GradReduction, ProcessGroup,
    Shard, DEFAULT_BUCKET_BYTES,
};
use std::time::Duration;
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

const B: usize = 4;
const STEPS: usize = 10;
const LR: f64 = 0.5;
const DIM: i64 = 8;

fn model(vs: &VarStore) -> impl Module {
    let p = vs.root();
    nn::seq()
        .add(nn::linear(&p / "fc1", DIM, 16, Default::default()))
        .add_fn(|x| x.tanh())
        .add(nn::linear(&p / "fc2", 16, 6, Default::default()))
}

/// The epoch order: a fixed permutation of `0..L` (stands for the loader's keyed shuffle).
fn epoch_order(len: usize) -> Vec<usize> {
    (0..len).map(|i| (i * 7 + 3) % len).collect()
}

/// Two deterministic "views" of the samples `idx` (functions of the sample index only, as keyed
/// augmentations are).
fn views(idx: &[usize]) -> (Tensor, Tensor) {
    let mut a = Vec::new();
    let mut b = Vec::new();
    for &i in idx {
        for j in 0..DIM as usize {
            let x = (0.37 * i as f64 + 0.91 * j as f64).sin();
            a.push((x + 0.3 * (1.3 * i as f64 + j as f64).cos()) as f32);
            b.push((x - 0.3 * (0.7 * i as f64 - 2.0 * j as f64).sin()) as f32);
        }
    }
    let n = idx.len() as i64;
    (
        Tensor::from_slice(&a).reshape([n, DIM]),
        Tensor::from_slice(&b).reshape([n, DIM]),
    )
}

fn sorted_vars(vs: &VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<_> = vs.variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn sgd_step(vs: &VarStore) {
    tch::no_grad(|| {
        for (_, v) in sorted_vars(vs) {
            let g = v.grad();
            let _ = v.shallow_clone().f_sub_(&(g * LR)).unwrap();
        }
    });
    for (_, v) in sorted_vars(vs) {
        let _ = v.grad().zero_();
    }
}

/// Trains and returns (losses, first-step gradients, final weights) as named tensors.
/// `pg = None` is the single process with batch `world·B`.
fn train(pg: Option<&ProcessGroup>, world: usize, loss_kind: &str) -> Vec<(String, Tensor)> {
    let rank = pg.map_or(0, |p| p.rank());
    let vs = VarStore::new(Device::Cpu);
    let net = model(&vs);
    // Deterministic weights without the global torch RNG (tests share a process): rank 0 and the
    // single process get the same ones; other ranks get different ones, which
    // broadcast_parameters must overwrite.
    tch::no_grad(|| {
        for (k, (_, v)) in sorted_vars(&vs).into_iter().enumerate() {
            let phase = k as f64 + 10.0 * rank as f64;
            let init = ((Tensor::arange(v.numel() as i64, (Kind::Float, Device::Cpu)) * 0.37
                + phase)
                .sin()
                * 0.4)
                .reshape(v.size().as_slice());
            v.shallow_clone().copy_(&init);
        }
    });
    if let Some(pg) = pg {
        broadcast_parameters(pg, &vs, 0).unwrap();
    }
    let (shard_world, shard_rank, shard_batch) = match pg {
        Some(p) => (p.size(), p.rank(), B),
        None => (1, 0, world * B),
    };
    let shard = Shard::new(shard_world, shard_rank, shard_batch).unwrap();
    let order = epoch_order(STEPS * world * B);
    let batches = shard.batches(&order);
    assert_eq!(batches.len(), STEPS);
    let ntxent = NtXentLoss::new(0.5).unwrap();
    let mut losses = Vec::new();
    let mut out = Vec::new();
    for (step, idx) in batches.iter().enumerate() {
        let (v0, v1) = views(idx);
        let (z0, z1) = (net.forward(&v0), net.forward(&v1));
        let loss = match loss_kind {
            "ntxent" | "ntxent_mean" => {
                let (g0, g1) = match pg {
                    Some(pg) => (
                        gather_with_grad(pg, &z0).unwrap(),
                        gather_with_grad(pg, &z1).unwrap(),
                    ),
                    None => (z0, z1),
                };
                ntxent.forward(&g0, &g1).unwrap()
            }
            // A mean of per-sample terms: each rank the mean over its own batch (DDP's convention),
            // whose average over ranks is the global-batch mean.
            _ => (&z0 - &z1).square().mean(Kind::Float) + z0.square().mean(Kind::Float) * 0.1,
        };
        loss.backward();
        let reported = match (pg, loss_kind) {
            (Some(pg), "ntxent") => {
                allreduce_gradients(pg, &vs, GradReduction::Sum, DEFAULT_BUCKET_BYTES).unwrap();
                loss.double_value(&[])
            }
            // The wrong reduction for a gathered loss (negative control).
            (Some(pg), "ntxent_mean") => {
                allreduce_gradients(pg, &vs, GradReduction::Mean, DEFAULT_BUCKET_BYTES).unwrap();
                loss.double_value(&[])
            }
            (Some(pg), _) => {
                allreduce_gradients(pg, &vs, GradReduction::Mean, 64).unwrap();
                pg.all_reduce_f64(loss.double_value(&[]), selfsup_dist::ReduceOp::Avg)
                    .unwrap()
            }
            (None, _) => loss.double_value(&[]),
        };
        losses.push(reported);
        if step == 0 {
            for (name, v) in sorted_vars(&vs) {
                out.push((format!("grad0.{name}"), v.grad().copy()));
            }
        }
        sgd_step(&vs);
    }
    out.push(("losses".into(), Tensor::from_slice(&losses)));
    for (name, v) in sorted_vars(&vs) {
        out.push((format!("final.{name}"), v.detach().copy()));
    }
    out
}

#[test]
fn worker() {
    let Some(scenario) = common::scenario() else {
        return;
    };
    let (_store, pg) = common::join(Duration::from_secs(20));
    let result = train(Some(&pg), pg.size(), &scenario);
    let path = common::dir().join(format!("rank{}.ot", pg.rank()));
    Tensor::save_multi(&result, &path).unwrap();
    pg.barrier().unwrap();
}

/// Runs `loss_kind` on `world` ranks and returns, per rank, the largest difference to the single
/// process of every named tensor.
fn run_against_reference(
    world: usize,
    loss_kind: &str,
) -> (Vec<(String, Tensor)>, Vec<Vec<(String, f64)>>) {
    let reference = train(None, world, loss_kind);
    let (dir, workers) = common::launch(loss_kind, world, &[]);
    workers.wait(Duration::from_secs(10)).expect("workers pass");
    let mut diffs = Vec::new();
    for r in 0..world {
        let got = Tensor::load_multi(dir.path().join(format!("rank{r}.ot"))).unwrap();
        assert_eq!(got.len(), reference.len());
        let mut d = Vec::new();
        for ((gn, g), (rn, want)) in got.iter().zip(&reference) {
            assert_eq!(gn, rn);
            d.push((gn.clone(), (g - want).abs().max().double_value(&[])));
        }
        diffs.push(d);
    }
    (reference, diffs)
}

fn equivalence(world: usize, loss_kind: &str) {
    let (reference, diffs) = run_against_reference(world, loss_kind);
    for (r, d) in diffs.iter().enumerate() {
        for (name, diff) in d {
            assert!(*diff <= 1e-5, "rank {r}, {name}: max |Δ| = {diff:e}");
        }
    }
    let losses = Vec::<f64>::try_from(
        &reference
            .iter()
            .find(|(n, _)| n == "losses")
            .expect("losses")
            .1,
    )
    .unwrap();
    assert!(
        (losses[0] - losses[STEPS - 1]).abs() > 1e-3,
        "training did not move the loss: {losses:?}"
    );
}

#[test]
fn simclr_2_ranks_equals_1_process_with_twice_the_batch() {
    equivalence(2, "ntxent");
}

#[test]
fn simclr_3_ranks_equals_1_process_with_three_times_the_batch() {
    equivalence(3, "ntxent");
}

/// Negative control: averaging (instead of summing) the gradients of a gathered loss must be
/// detected by the same comparison.
#[test]
fn gathered_loss_with_mean_reduction_differs() {
    let (_, diffs) = run_against_reference(2, "ntxent_mean");
    let worst = diffs[0]
        .iter()
        .filter(|(n, _)| n.starts_with("grad0."))
        .map(|(_, d)| *d)
        .fold(0.0, f64::max);
    assert!(
        worst > 1e-3,
        "the comparison cannot tell Sum from Mean: {worst:e}"
    );
}

#[test]
fn mean_reduced_loss_2_ranks_equals_1_process() {
    equivalence(2, "mse");
}
