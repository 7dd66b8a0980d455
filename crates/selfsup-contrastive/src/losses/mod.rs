//! The objectives, as functions of tensors (float32 or float64, any device).
//!
//! Each loss is a small struct holding its hyper-parameters (validated in `new`) with a `forward`
//! that checks shapes and returns a scalar tensor. Semantics follow lightly (and the original papers
//! where lightly has none); each file says exactly what is computed. Stop-gradients and per-step state
//! (queues, centres, EMA targets) belong to the methods in [`crate::methods`], not to the losses,
//! except where the state is part of the loss definition (the DINO centre is passed in explicitly).
//!
//! | loss | file |
//! | --- | --- |
//! | NT-Xent / InfoNCE (+ memory-bank negatives) | [`ntxent`] |
//! | DCL, DCLW | [`dcl`] |
//! | SupCon | [`supcon`] |
//! | triplet (margin, batch-hard) | [`triplet`] |
//! | CLIP symmetric cross-entropy | [`clip`] |
//! | negative cosine (BYOL, SimSiam) | [`negcos`] |
//! | Barlow Twins | [`barlow`] |
//! | VICReg | [`vicreg`] |
//! | NNCLR nearest neighbours | [`nnclr`] |
//! | DINO | [`dino`] |
//! | SwAV + Sinkhorn-Knopp | [`swav`] |
//! | CPC InfoNCE over future steps | [`cpc`] |

pub mod barlow;
pub mod clip;
pub mod cpc;
pub mod dcl;
pub mod dino;
pub mod negcos;
pub mod nnclr;
pub mod ntxent;
pub mod supcon;
pub mod swav;
pub mod triplet;
pub mod vicreg;

pub use barlow::BarlowTwinsLoss;
pub use clip::ClipLoss;
pub use cpc::{CpcLoss, CpcNegatives};
pub use dcl::DclLoss;
pub use dino::DinoLoss;
pub use negcos::NegativeCosineSimilarity;
pub use nnclr::nearest_neighbours;
pub use ntxent::NtXentLoss;
pub use supcon::SupConLoss;
pub use swav::{sinkhorn, SwavLoss};
pub use triplet::TripletLoss;
pub use vicreg::VicRegLoss;

use selfsup_core::Error as CoreError;
use selfsup_nn::Result;
use tch::{Kind, Tensor};

/// Rows scaled to unit L2 norm (`x / max(‖x‖, 1e-12)`, as `torch.nn.functional.normalize`).
pub fn normalize(x: &Tensor) -> Tensor {
    x / x.norm_scalaropt_dim(2, [1], true).clamp_min(1e-12)
}

/// Checks `x` is a 2-D `N×D` tensor with `N ≥ min_rows`; returns `(N, D)`.
pub(crate) fn check_2d(name: &str, x: &Tensor, min_rows: i64) -> Result<(i64, i64)> {
    let s = x.size();
    if s.len() != 2 {
        return Err(CoreError::shape(format!(
            "{name}: expected a 2-D N×D tensor, got shape {s:?}"
        ))
        .into());
    }
    if s[0] < min_rows {
        return Err(CoreError::shape(format!(
            "{name}: needs a batch of at least {min_rows}, got {}",
            s[0]
        ))
        .into());
    }
    Ok((s[0], s[1]))
}

/// Checks two tensors are 2-D with the same shape; returns `(N, D)`.
pub(crate) fn check_pair(a: &Tensor, b: &Tensor, min_rows: i64) -> Result<(i64, i64)> {
    let sa = check_2d("out0", a, min_rows)?;
    let sb = check_2d("out1", b, min_rows)?;
    if sa != sb {
        return Err(CoreError::shape(format!(
            "the two views must have the same shape, got {:?} and {:?}",
            a.size(),
            b.size()
        ))
        .into());
    }
    Ok(sa)
}

/// `0, 1, …, n−1` as int64 on `x`'s device.
pub(crate) fn arange(n: i64, x: &Tensor) -> Tensor {
    Tensor::arange(n, (Kind::Int64, x.device()))
}

/// A boolean `n×n` identity mask on `x`'s device.
pub(crate) fn eye_mask(n: i64, x: &Tensor) -> Tensor {
    Tensor::eye(n, (Kind::Bool, x.device()))
}

pub(crate) fn positive_temperature(field: &str, t: f64) -> Result<()> {
    selfsup_core::check::positive(field, t)?;
    Ok(())
}

/// Mean cross-entropy of `logits` (`N×C`) against int64 class ids (`N`).
pub(crate) fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Tensor {
    logits.log_softmax(1, logits.kind()).nll_loss(labels)
}
