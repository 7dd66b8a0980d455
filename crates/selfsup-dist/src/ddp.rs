//! Data-parallel training pieces over a [`ProcessGroup`]: parameter broadcast, bucketed gradient
//! all-reduce and the gather of embeddings for losses over the global batch.
//!
//! Variables are always visited **sorted by name** (a `VarStore` is a hash map whose iteration order
//! differs between processes), so every rank issues the same collectives in the same order.

use crate::{Error, ProcessGroup, ReduceOp, Result};
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// PyTorch DDP's default bucket size (`bucket_cap_mb = 25`).
pub const DEFAULT_BUCKET_BYTES: usize = 25 * 1024 * 1024;

/// How [`allreduce_gradients`] combines the ranks' gradients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradReduction {
    /// Mean over ranks (PyTorch DDP): right when each rank's loss is the mean over its own batch,
    /// so that the mean of the ranks' losses is the global-batch loss.
    Mean,
    /// Sum over ranks: right when each rank evaluates the **global** loss with
    /// [`gather_with_grad`], whose backward gives this rank's share of the global gradient.
    Sum,
}

fn sorted_vars(vs: &VarStore, trainable_only: bool) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| !trainable_only || t.requires_grad())
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// FNV-1a over the names, shapes and dtypes of the variables (to check that all ranks hold the
/// same model before the first collective over it).
fn layout_hash(vars: &[(String, Tensor)]) -> i64 {
    let mut h: u64 = 0xcbf29ce484222325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= *b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    };
    for (name, t) in vars {
        eat(name.as_bytes());
        for d in t.size() {
            eat(&d.to_le_bytes());
        }
        eat(format!("{:?}", t.kind()).as_bytes());
    }
    h as i64
}

/// Fails unless every rank holds variables with the same names, shapes and dtypes.
pub fn check_same_layout(pg: &ProcessGroup, vs: &VarStore) -> Result<()> {
    let vars = sorted_vars(vs, false);
    let mine = layout_hash(&vars);
    let all = pg.all_gather(&Tensor::from_slice(&[mine]))?;
    let all: Vec<i64> = Vec::<i64>::try_from(&all)?;
    if let Some(r) = all.iter().position(|h| *h != all[0]) {
        return Err(Error::Backend {
            op: "check_same_layout",
            message: format!(
                "rank {r} holds different variables (names/shapes/dtypes) than rank 0: \
                 every rank must build the same model"
            ),
        });
    }
    Ok(())
}

/// Groups tensors into buckets of one dtype of at most `cap` bytes (a larger tensor is a bucket
/// of its own), keeping the given order.
fn buckets(tensors: &[Tensor], cap: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0usize;
    let mut kind: Option<Kind> = None;
    for (i, t) in tensors.iter().enumerate() {
        let b = t.numel() * t.kind().elt_size_in_bytes();
        let fits = kind == Some(t.kind()) && bytes + b <= cap;
        if fits {
            out.last_mut().expect("open bucket").push(i);
            bytes += b;
        } else {
            out.push(vec![i]);
            bytes = b;
            kind = Some(t.kind());
        }
    }
    out
}

/// Applies a collective to `tensors` in flat buckets: each bucket is concatenated into one
/// contiguous buffer, `op` runs on it, and the result is copied back.
fn bucketed(
    tensors: &[Tensor],
    cap: usize,
    mut op: impl FnMut(&Tensor) -> Result<()>,
) -> Result<()> {
    let _guard = tch::no_grad_guard();
    for bucket in buckets(tensors, cap) {
        if bucket.len() == 1 && tensors[bucket[0]].is_contiguous() {
            op(&tensors[bucket[0]])?;
            continue;
        }
        let flat: Vec<Tensor> = bucket.iter().map(|&i| tensors[i].reshape([-1])).collect();
        let buf = Tensor::f_cat(&flat, 0)?;
        op(&buf)?;
        let mut offset = 0i64;
        for &i in &bucket {
            let t = &tensors[i];
            let n = t.numel() as i64;
            t.shallow_clone()
                .f_copy_(&buf.narrow(0, offset, n).view(t.size().as_slice()))?;
            offset += n;
        }
    }
    Ok(())
}

/// Copies every variable of `vs` (trainable or not: weights, BatchNorm statistics, EMA targets,
/// queues) from rank `root` to all ranks, after checking that all ranks hold the same layout.
/// Call once after building the model, before the first step.
pub fn broadcast_parameters(pg: &ProcessGroup, vs: &VarStore, root: usize) -> Result<()> {
    check_same_layout(pg, vs)?;
    let vars: Vec<Tensor> = sorted_vars(vs, false).into_iter().map(|(_, t)| t).collect();
    bucketed(&vars, DEFAULT_BUCKET_BYTES, |t| pg.broadcast(t, root))
}

/// All-reduces the gradients of the trainable variables of `vs` in buckets of about
/// `bucket_bytes`, after `backward` and before the optimizer step. A trainable variable without a
/// gradient on this rank but with one on another rank gets a zero gradient first, so every rank
/// reduces the same tensors; one without a gradient on **every** rank (a layer frozen this step,
/// e.g. DINO's last layer or SwAV's prototypes in their first epoch) is left without one, so the
/// optimizer skips it as it does in one process (a zero gradient would still apply weight decay
/// and advance Adam's step count). Which variables have a gradient is agreed by one small
/// all-reduce per call.
pub fn allreduce_gradients(
    pg: &ProcessGroup,
    vs: &VarStore,
    reduction: GradReduction,
    bucket_bytes: usize,
) -> Result<()> {
    if pg.size() == 1 {
        return Ok(());
    }
    let vars = sorted_vars(vs, true);
    let has: Vec<i64> = vars
        .iter()
        .map(|(_, v)| i64::from(v.grad().defined()))
        .collect();
    let mask = Tensor::from_slice(&has);
    pg.all_reduce(&mask, ReduceOp::Sum)?;
    let mask = Vec::<i64>::try_from(&mask)?;
    let mut grads = Vec::with_capacity(vars.len());
    for ((_, v), ranks_with_grad) in vars.iter().zip(mask) {
        if ranks_with_grad == 0 {
            continue;
        }
        let mut g = v.grad();
        if !g.defined() {
            // The gradient of `0·Σv` is a zero tensor in v's grad slot.
            (v.sum(v.kind()) * 0.0).backward();
            g = v.grad();
        }
        grads.push(g);
    }
    let op = match reduction {
        GradReduction::Mean => ReduceOp::Avg,
        GradReduction::Sum => ReduceOp::Sum,
    };
    bucketed(&grads, bucket_bytes.max(1), |t| pg.all_reduce(t, op))
}

/// The rows of `x` (`N×…`, the same `N` on every rank) of all ranks concatenated in rank order
/// (`size·N×…`), with this rank's rows being `x` itself, so gradients flow into `x`, and the
/// other ranks' rows detached constants.
///
/// A loss of the global batch evaluated on the gathered rows (all rows as anchors) then has, on
/// each rank, the global loss's value, and its backward gives the part of the global gradient that
/// flows through this rank's rows; summing the ranks' gradients ([`GradReduction::Sum`]) gives the
/// gradient of one process with the global batch.
pub fn gather_with_grad(pg: &ProcessGroup, x: &Tensor) -> Result<Tensor> {
    if x.dim() == 0 {
        return Err(Error::config(
            "x",
            "gather_with_grad needs a tensor with a batch dimension",
        ));
    }
    let all = pg.all_gather(&x.detach())?;
    let n = x.size()[0];
    let r = pg.rank() as i64;
    let w = pg.size() as i64;
    let mut parts: Vec<Tensor> = Vec::with_capacity(3);
    if r > 0 {
        parts.push(all.narrow(0, 0, r * n));
    }
    parts.push(x.shallow_clone());
    if r + 1 < w {
        parts.push(all.narrow(0, (r + 1) * n, (w - r - 1) * n));
    }
    Ok(Tensor::f_cat(&parts, 0)?)
}
