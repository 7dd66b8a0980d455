//! CPC's InfoNCE over future steps (van den Oord et al., 2018). Given encodings `z` (`N×T×D`) and,
//! for each offset `k = 1..=K`, predictions `p_k` (`N×T×D`, the prediction made at time `t` for
//! `z[:, t+k]`, typically `W_k c_t`), the loss at offset `k` and time `t < T − k` is the cross-entropy
//! of the scores `p_k[n, t] · z[m, t+k]` over the batch (`m`), with the true sample `n` as the class:
//! negatives are the other sequences at the same future time. The loss is the mean over `k`, then over
//! `t` and `n`.
//!
//! [`CpcLoss::forward_with`] chooses the negatives ([`CpcNegatives`]): the other sequences at the same
//! time (`batch`, the default above), the same sequence's other future times `t' ∈ [k, T)`
//! (`sequence`: the positive is `z[n, t+k]` among `z[n, k..T]`, so that what identifies a recording —
//! its speaker, its level — does not solve the task; Oord et al. draw negatives from the same speaker
//! for phone features), or both: every latent `z[m, t']` with `t' ∈ [k, T)` of the batch (`all`).

use super::{arange, cross_entropy};
use selfsup_nn::Result;
use tch::Tensor;

/// Where CPC's negatives come from; see the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CpcNegatives {
    /// The other sequences of the batch at the same future time.
    #[default]
    Batch,
    /// The same sequence at the other future times.
    Sequence,
    /// Every sequence of the batch at every future time.
    All,
}

/// See the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpcLoss;

impl CpcLoss {
    /// `predictions[k−1]` are the predictions for offset `k`; needs `T > K`. Negatives: the other
    /// sequences at the same time ([`CpcNegatives::Batch`]).
    pub fn forward(&self, z: &Tensor, predictions: &[Tensor]) -> Result<Tensor> {
        self.forward_with(z, predictions, CpcNegatives::Batch)
    }

    /// [`CpcLoss::forward`] with the negatives chosen by `negatives`.
    pub fn forward_with(
        &self,
        z: &Tensor,
        predictions: &[Tensor],
        negatives: CpcNegatives,
    ) -> Result<Tensor> {
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
        let d = s[2];
        let mut total: Option<Tensor> = None;
        for (i, p) in predictions.iter().enumerate() {
            let k = i as i64 + 1;
            let steps = t - k;
            let pk = p.narrow(1, 0, steps); // N×steps×D, made at t
            let zk = z.narrow(1, k, steps); // N×steps×D, at t+k
            let l = match negatives {
                CpcNegatives::Batch => {
                    // scores[t, n, m] = p[n, t] · z[m, t+k]
                    let (pt, zt) = (pk.transpose(0, 1), zk.transpose(0, 1));
                    let scores = pt.bmm(&zt.transpose(1, 2)).reshape([steps * n, n]);
                    cross_entropy(&scores, &arange(n, z).repeat([steps]))
                }
                CpcNegatives::Sequence => {
                    // scores[n, t, t'] = p[n, t] · z[n, t'+k]
                    let scores = pk.bmm(&zk.transpose(1, 2)).reshape([n * steps, steps]);
                    cross_entropy(&scores, &arange(steps, z).repeat([n]))
                }
                CpcNegatives::All => {
                    // scores[(n, t), (m, t')] = p[n, t] · z[m, t'+k]
                    let pf = pk.reshape([n * steps, d]);
                    let zf = zk.reshape([n * steps, d]);
                    cross_entropy(&pf.matmul(&zf.tr()), &arange(n * steps, z))
                }
            };
            total = Some(match total {
                Some(a) => a + l,
                None => l,
            });
        }
        Ok(total.expect("K >= 1") / kmax as f64)
    }
}
