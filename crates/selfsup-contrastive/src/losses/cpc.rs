//! CPC's InfoNCE over future steps (van den Oord et al., 2018). Given encodings `z` (`N×T×D`) and,
//! for each offset `k = 1..=K`, predictions `p_k` (`N×T×D`, the prediction made at time `t` for
//! `z[:, t+k]`, typically `W_k c_t`), the loss at offset `k` and time `t < T − k` is the cross-entropy
//! of the scores `p_k[n, t] · z[m, t+k]` over the batch (`m`), with the true sample `n` as the class:
//! negatives are the other sequences at the same future time. The loss is the mean over `k`, then over
//! `t` and `n`.

use super::{arange, cross_entropy};
use selfsup_nn::Result;
use tch::Tensor;

/// See the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpcLoss;

impl CpcLoss {
    /// `predictions[k−1]` are the predictions for offset `k`; needs `T > K`.
    pub fn forward(&self, z: &Tensor, predictions: &[Tensor]) -> Result<Tensor> {
        let s = z.size();
        if s.len() != 3 {
            return Err(selfsup_core::Error::shape(format!(
                "CPC encodings: expected N×T×D, got {s:?}"
            ))
            .into());
        }
        let (n, t) = (s[0], s[1]);
        let kmax = predictions.len() as i64;
        if kmax == 0 || t <= kmax {
            return Err(selfsup_core::Error::shape(format!(
                "CPC needs 1 <= K < T, got K = {kmax}, T = {t}"
            ))
            .into());
        }
        for p in predictions {
            if p.size() != s {
                return Err(selfsup_core::Error::shape(format!(
                    "CPC predictions: expected {s:?}, got {:?}",
                    p.size()
                ))
                .into());
            }
        }
        let kind = z.kind();
        let labels = arange(n, z);
        let mut total: Option<Tensor> = None;
        for (i, p) in predictions.iter().enumerate() {
            let k = i as i64 + 1;
            let steps = t - k;
            // scores[t', n, m] = p[n, t'] · z[m, t'+k]
            let pk = p.narrow(1, 0, steps).transpose(0, 1); // steps×N×D
            let zk = z.narrow(1, k, steps).transpose(0, 1); // steps×N×D
            let scores = pk.bmm(&zk.transpose(1, 2)).reshape([steps * n, n]);
            let l = cross_entropy(&scores, &labels.repeat([steps]));
            total = Some(match total {
                Some(a) => a + l,
                None => l,
            });
        }
        let _ = kind;
        Ok(total.expect("K >= 1") / kmax as f64)
    }
}
