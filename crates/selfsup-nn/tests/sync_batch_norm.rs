//! `SyncBatchNorm` in one process: [`selfsup_nn::layers::BatchNorm`] under an installed group of
//! world size 1 runs the synchronised path (sums through `all_reduce_sum_with_grad`, PyTorch's
//! formulas written out) and must agree with the same layer without a group, which calls ATen's
//! `batch_norm` kernel (the one behind `torch.nn.BatchNorm2d`), within 1e-6: outputs, input and
//! parameter gradients, running mean and (unbiased) running variance, over three training steps
//! and then in evaluation mode. A counting group checks that the synchronised path is the one
//! taken (two collectives per forward) and that evaluation mode issues none.
//!
//! The multi-process equivalence (2 ranks × B against 1 × 2B) is in `selfsup-dist`'s
//! `tests/trainer.rs`.

use selfsup_nn::collectives::{install_sync_batch_norm_group, sync_batch_norm_group};
use selfsup_nn::layers::BatchNorm;
use selfsup_nn::{Collectives, Reduction, SingleProcess};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

/// World size 1, counting the differentiable all-reduces.
#[derive(Default)]
struct Counting(AtomicUsize);

impl Collectives for Counting {
    fn rank(&self) -> usize {
        0
    }
    fn world_size(&self) -> usize {
        1
    }
    fn all_gather(&self, x: &Tensor) -> selfsup_nn::Result<Tensor> {
        SingleProcess.all_gather(x)
    }
    fn all_gather_with_grad(&self, x: &Tensor) -> selfsup_nn::Result<Tensor> {
        SingleProcess.all_gather_with_grad(x)
    }
    fn all_reduce(&self, x: &Tensor, op: Reduction) -> selfsup_nn::Result<()> {
        SingleProcess.all_reduce(x, op)
    }
    fn all_reduce_sum_with_grad(&self, x: &Tensor) -> selfsup_nn::Result<Tensor> {
        self.0.fetch_add(1, Ordering::Relaxed);
        SingleProcess.all_reduce_sum_with_grad(x)
    }
    fn broadcast(&self, x: &Tensor, root: usize) -> selfsup_nn::Result<()> {
        SingleProcess.broadcast(x, root)
    }
    fn barrier(&self) -> selfsup_nn::Result<()> {
        Ok(())
    }
    fn broadcast_parameters(&self, vs: &VarStore) -> selfsup_nn::Result<()> {
        SingleProcess.broadcast_parameters(vs)
    }
    fn all_reduce_gradients(&self, vs: &VarStore, op: Reduction) -> selfsup_nn::Result<()> {
        SingleProcess.all_reduce_gradients(vs, op)
    }
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// Three training steps of a BatchNorm on `shape` inputs, with or without a group; returns per
/// step (output, input gradient, weight gradient, bias gradient) and the final running
/// statistics and evaluation-mode output.
fn run(shape: &[i64], group: Option<Arc<dyn Collectives>>) -> (Vec<[Tensor; 4]>, [Tensor; 3]) {
    let vs = VarStore::new(Device::Cpu);
    let bn = BatchNorm::new(&vs.root(), shape[1]);
    tch::no_grad(|| {
        let mut w = bn.weight.as_ref().unwrap().shallow_clone();
        let mut b = bn.bias.as_ref().unwrap().shallow_clone();
        let c = shape[1];
        w.copy_(&(Tensor::arange(c, (Kind::Float, Device::Cpu)) * 0.3 + 0.5));
        b.copy_(&(Tensor::arange(c, (Kind::Float, Device::Cpu)) * -0.2));
    });
    let _g = install_sync_batch_norm_group(group);
    let n: i64 = shape.iter().product();
    let mut steps = Vec::new();
    for s in 0..3 {
        let x = ((Tensor::arange(n, (Kind::Float, Device::Cpu)) * (0.37 + 0.1 * s as f64)).sin()
            * 2.0
            + 0.5)
            .view(shape)
            .set_requires_grad(true);
        let y = bn.forward_t(&x, true);
        // A loss that weights every output differently, so every gradient term matters.
        let wts = (Tensor::arange(n, (Kind::Float, Device::Cpu)) * 0.11)
            .cos()
            .view(shape);
        (&y * &wts).sum(Kind::Float).backward();
        let g = |t: &Tensor| t.grad().detach().copy();
        steps.push([
            y.detach().copy(),
            g(&x),
            g(bn.weight.as_ref().unwrap()),
            g(bn.bias.as_ref().unwrap()),
        ]);
        for t in [&x, bn.weight.as_ref().unwrap(), bn.bias.as_ref().unwrap()] {
            let mut gr = t.grad();
            let _ = gr.zero_();
        }
    }
    let x = (Tensor::arange(n, (Kind::Float, Device::Cpu)) * 0.5)
        .cos()
        .view(shape);
    let eval = bn.forward_t(&x, false);
    (steps, [bn.running_mean.copy(), bn.running_var.copy(), eval])
}

#[test]
fn synchronised_batch_norm_in_one_process_equals_the_plain_kernel() {
    for shape in [vec![6i64, 3], vec![4, 3, 5], vec![4, 2, 3, 5]] {
        let plain = run(&shape, None);
        // One thread: the counter's `Cell` never crosses threads, but the layer takes an `Arc`.
        #[allow(clippy::arc_with_non_send_sync)]
        let counting = Arc::new(Counting::default());
        let synced = run(&shape, Some(counting.clone()));
        // Two differentiable all-reduces per training forward (sums; squared deviations), none
        // in evaluation mode.
        assert_eq!(counting.0.load(Ordering::Relaxed), 2 * 3, "{shape:?}");
        let names = ["output", "input grad", "weight grad", "bias grad"];
        for (s, (p, q)) in plain.0.iter().zip(&synced.0).enumerate() {
            for (name, (a, b)) in names.iter().zip(p.iter().zip(q)) {
                let d = max_diff(a, b);
                assert!(d <= 1e-6, "{shape:?} step {s} {name}: max |Δ| = {d:e}");
            }
        }
        for (name, (a, b)) in ["running_mean", "running_var", "eval output"]
            .iter()
            .zip(plain.1.iter().zip(&synced.1))
        {
            let d = max_diff(a, b);
            assert!(d <= 1e-6, "{shape:?} {name}: max |Δ| = {d:e}");
        }
        // The statistics moved (the comparison is not between two untouched buffers).
        assert!(max_diff(&plain.1[1], &Tensor::ones_like(&plain.1[1])) > 1e-2);
    }
}

#[test]
fn the_group_is_uninstalled_when_the_guard_drops() {
    assert!(sync_batch_norm_group().is_none());
    {
        let _g = install_sync_batch_norm_group(Some(Arc::new(SingleProcess)));
        assert!(sync_batch_norm_group().is_some());
    }
    assert!(sync_batch_norm_group().is_none());
}
