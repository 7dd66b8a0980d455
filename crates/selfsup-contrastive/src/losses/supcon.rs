//! Supervised contrastive loss (Khosla et al., 2020) over two views. With `f = [ẑ0; ẑ1]` (`2N`
//! normalised rows), labels repeated for both views, and `P(i)` the other rows with `i`'s label:
//!
//! `ℓᵢ = −(1/|P(i)|) Σ_{p∈P(i)} log(exp(fᵢ·f_p/τ) / Σ_{a≠i} exp(fᵢ·f_a/τ))`, loss = mean over the `2N` anchors.
//!
//! Without labels every sample is its own class and the loss is NT-Xent. `P(i)` always holds the
//! other view of `i`, so it is never empty.

use super::{check_2d, check_pair, eye_mask, normalize, positive_temperature};
use selfsup_nn::Result;
use tch::{Kind, Tensor};

/// See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SupConLoss {
    /// Temperature `τ` (default 0.1).
    pub temperature: f64,
}

impl Default for SupConLoss {
    fn default() -> Self {
        SupConLoss { temperature: 0.1 }
    }
}

impl SupConLoss {
    /// A loss with temperature `τ > 0`.
    pub fn new(temperature: f64) -> Result<Self> {
        positive_temperature("temperature", temperature)?;
        Ok(SupConLoss { temperature })
    }

    /// The loss of two `N×D` views with optional `N` int64 labels.
    pub fn forward(&self, out0: &Tensor, out1: &Tensor, labels: Option<&Tensor>) -> Result<Tensor> {
        let (n, _) = check_pair(out0, out1, 1)?;
        let labels = match labels {
            Some(l) => {
                if l.size() != [n] {
                    return Err(selfsup_core::Error::shape(format!(
                        "labels: expected shape [{n}], got {:?}",
                        l.size()
                    ))
                    .into());
                }
                l.to_kind(Kind::Int64).to_device(out0.device())
            }
            None => Tensor::arange(n, (Kind::Int64, out0.device())),
        };
        let _ = check_2d("out0", out0, 1)?;
        let f = normalize(&Tensor::cat(&[out0, out1], 0));
        let l2 = Tensor::cat(&[&labels, &labels], 0);
        let selfm = eye_mask(2 * n, out0);
        let logits = f.mm(&f.tr()) / self.temperature;
        let lse = logits
            .masked_fill(&selfm, f64::NEG_INFINITY)
            .logsumexp(1, true);
        let log_prob = &logits - lse;
        let pos = l2
            .unsqueeze(1)
            .eq_tensor(&l2.unsqueeze(0))
            .logical_and(&selfm.logical_not())
            .to_kind(f.kind());
        let mean_pos = (&pos * log_prob).sum_dim_intlist(1, false, f.kind())
            / pos.sum_dim_intlist(1, false, f.kind());
        Ok(-mean_pos.mean(f.kind()))
    }
}
