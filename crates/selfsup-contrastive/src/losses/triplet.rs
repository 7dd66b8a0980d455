//! Triplet losses with margin `m`.
//!
//! - [`TripletLoss::forward`]: explicit triplets, `mean(max(0, d(a,p) − d(a,n) + m))` with
//!   `d(x,y) = ‖x − y + ε‖₂`, `ε = 1e-6` (torch's `TripletMarginLoss(margin, p=2)`).
//! - [`TripletLoss::batch_hard`]: batch-hard mining (Hermans et al., 2017): for each anchor with at
//!   least one other sample of its label and one of another label, the farthest positive and the
//!   nearest negative, `mean(max(0, d_ap − d_an + m))` over those anchors (Euclidean distance,
//!   `√max(‖x−y‖², 1e-12)`); zero when no anchor qualifies.

use super::{check_2d, check_pair, eye_mask};
use selfsup_nn::Result;
use tch::{Kind, Tensor};

/// See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TripletLoss {
    /// Margin `m ≥ 0` (default 1.0, as torch).
    pub margin: f64,
}

impl Default for TripletLoss {
    fn default() -> Self {
        TripletLoss { margin: 1.0 }
    }
}

impl TripletLoss {
    /// A loss with margin `m ≥ 0`.
    pub fn new(margin: f64) -> Result<Self> {
        selfsup_core::check::non_negative("margin", margin)?;
        Ok(TripletLoss { margin })
    }

    /// Explicit `N×D` anchors, positives and negatives.
    pub fn forward(&self, anchor: &Tensor, positive: &Tensor, negative: &Tensor) -> Result<Tensor> {
        check_pair(anchor, positive, 1)?;
        check_pair(anchor, negative, 1)?;
        let d = |x: &Tensor, y: &Tensor| (x - y + 1e-6).norm_scalaropt_dim(2, [1], false);
        let k = anchor.kind();
        Ok((d(anchor, positive) - d(anchor, negative) + self.margin)
            .clamp_min(0.0)
            .mean(k))
    }

    /// Batch-hard mining over `N×D` embeddings with `N` int64 labels.
    pub fn batch_hard(&self, emb: &Tensor, labels: &Tensor) -> Result<Tensor> {
        let (n, _) = check_2d("embeddings", emb, 1)?;
        if labels.size() != [n] {
            return Err(selfsup_core::Error::shape(format!(
                "labels: expected shape [{n}], got {:?}",
                labels.size()
            ))
            .into());
        }
        let k = emb.kind();
        let sq = emb.pow_tensor_scalar(2).sum_dim_intlist(1, true, k);
        let d2 = &sq + sq.tr() - emb.mm(&emb.tr()) * 2.0;
        let dist = d2.clamp_min(1e-12).sqrt();
        let l = labels.to_device(emb.device());
        let same = l.unsqueeze(1).eq_tensor(&l.unsqueeze(0));
        let pos_mask = same.logical_and(&eye_mask(n, emb).logical_not());
        let neg_mask = same.logical_not();
        let hardest_pos = dist
            .masked_fill(&pos_mask.logical_not(), f64::NEG_INFINITY)
            .amax(1, false);
        let hardest_neg = dist.masked_fill(&same, f64::INFINITY).amin(1, false);
        let valid = pos_mask
            .any_dim(1, false)
            .logical_and(&neg_mask.any_dim(1, false));
        let count = valid.to_kind(Kind::Int64).sum(Kind::Int64).int64_value(&[]);
        if count == 0 {
            return Ok((emb * 0.0).sum(k));
        }
        let per = (hardest_pos - hardest_neg + self.margin).clamp_min(0.0);
        let per = per.masked_fill(&valid.logical_not(), 0.0);
        Ok(per.sum(k) / count as f64)
    }
}
