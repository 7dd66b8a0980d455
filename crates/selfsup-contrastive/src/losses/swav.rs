//! SwAV's swapped prediction with Sinkhorn-Knopp codes (Caron et al., 2020), lightly's `SwaVLoss`.
//!
//! [`sinkhorn`]: `Q = exp(scores/ε)ᵀ` (`K×B`), `Q /= ΣQ`, then `iterations` times: rows normalised to
//! sum `1/K`, columns to sum `1/B`; finally `Q·B`, transposed back (`B×K`, each row sums to 1).
//!
//! [`SwavLoss::forward`]: for every high-resolution view `i`, codes `q_i` = Sinkhorn of its (detached)
//! prototype scores — with the queue's scores appended before Sinkhorn and removed after, when a queue
//! is given — and the sub-loss `mean over the other views v of −mean_b Σ_k q_i log softmax(s_v/τ)`;
//! the loss is the mean of the sub-losses over the high-resolution views.

use super::check_2d;
use selfsup_nn::{Collectives, Reduction, Result};
use tch::Tensor;

/// Sinkhorn-Knopp of `B×K` scores with `ε` and a number of iterations (no gradient).
pub fn sinkhorn(scores: &Tensor, iterations: usize, epsilon: f64) -> Tensor {
    tch::no_grad(|| {
        let kind = scores.kind();
        let mut q = (scores.detach() / epsilon).exp().tr();
        let s = q.sum(kind);
        q /= s;
        let sz = q.size();
        let (k, b) = (sz[0] as f64, sz[1] as f64);
        for _ in 0..iterations {
            q = &q / q.sum_dim_intlist(1, true, kind) / k;
            q = &q / q.sum_dim_intlist(0, true, kind) / b;
        }
        (q * b).tr()
    })
}

/// [`sinkhorn`] over the columns (samples) of every rank: the reference SwAV's
/// `distributed_sinkhorn` (the total `ΣQ` and the row sums are all-reduced, `B` is the global number
/// of columns; column sums stay local, since a column lives on one rank). Each rank gets the codes of
/// its own rows, equal to those of a single [`sinkhorn`] over all ranks' rows. No gradient.
pub fn sinkhorn_across(
    scores: &Tensor,
    iterations: usize,
    epsilon: f64,
    c: &dyn Collectives,
) -> Result<Tensor> {
    tch::no_grad(|| {
        let kind = scores.kind();
        let mut q = (scores.detach() / epsilon).exp().tr();
        let total = q.sum(kind).reshape([1]);
        c.all_reduce(&total, Reduction::Sum)?;
        q /= total;
        let k = q.size()[0] as f64;
        let b = c.all_reduce_f64(&[q.size()[1] as f64], Reduction::Sum)?[0];
        for _ in 0..iterations {
            let rows = q.sum_dim_intlist(1, true, kind);
            c.all_reduce(&rows, Reduction::Sum)?;
            q = &q / rows / k;
            q = &q / q.sum_dim_intlist(0, true, kind) / b;
        }
        Ok((q * b).tr())
    })
}

/// See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SwavLoss {
    /// Softmax temperature of the predictions (0.1).
    pub temperature: f64,
    /// Sinkhorn iterations (3).
    pub sinkhorn_iterations: usize,
    /// Sinkhorn `ε` (0.05).
    pub sinkhorn_epsilon: f64,
}

impl Default for SwavLoss {
    fn default() -> Self {
        SwavLoss {
            temperature: 0.1,
            sinkhorn_iterations: 3,
            sinkhorn_epsilon: 0.05,
        }
    }
}

impl SwavLoss {
    /// Validates the hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        selfsup_core::check::positive("temperature", self.temperature)?;
        selfsup_core::check::positive("sinkhorn_epsilon", self.sinkhorn_epsilon)?;
        Ok(())
    }

    /// `high`: prototype scores of the high-resolution views; `low`: of the low-resolution views;
    /// `queue`: optional stored scores per high-resolution view (`Q×K` each).
    pub fn forward(
        &self,
        high: &[Tensor],
        low: &[Tensor],
        queue: Option<&[Tensor]>,
    ) -> Result<Tensor> {
        self.forward_across(high, low, queue, None)
    }

    /// [`SwavLoss::forward`] in a data-parallel run: with `collectives` of several ranks, the
    /// codes come from [`sinkhorn_across`] over every rank's rows, and the queue (the same on every
    /// rank: every rank's projections, in rank order) enters the Sinkhorn columns once, on rank 0;
    /// the loss is the mean over this rank's rows (the trainer averages the ranks' gradients).
    pub fn forward_across(
        &self,
        high: &[Tensor],
        low: &[Tensor],
        queue: Option<&[Tensor]>,
        collectives: Option<&dyn Collectives>,
    ) -> Result<Tensor> {
        let collectives = collectives.filter(|c| c.world_size() > 1);
        let queue = queue.filter(|_| collectives.is_none_or(|c| c.rank() == 0));
        if high.is_empty() || high.len() + low.len() < 2 {
            return Err(selfsup_core::Error::shape(
                "SwAV needs at least one high-resolution view and two views in all",
            )
            .into());
        }
        let (n, k) = check_2d("high[0]", &high[0], 1)?;
        for x in high.iter().chain(low.iter()) {
            let (_, kk) = check_2d("prototype scores", x, 1)?;
            if kk != k {
                return Err(selfsup_core::Error::shape(format!(
                    "all views need {k} prototype scores, got {kk}"
                ))
                .into());
            }
        }
        if let Some(q) = queue {
            if q.len() != high.len() {
                return Err(selfsup_core::Error::shape(format!(
                    "queue has {} entries for {} high-resolution views",
                    q.len(),
                    high.len()
                ))
                .into());
            }
        }
        let all: Vec<&Tensor> = high.iter().chain(low.iter()).collect();
        let kind = high[0].kind();
        let mut total: Option<Tensor> = None;
        for (i, h) in high.iter().enumerate() {
            let scores = match queue {
                Some(q) => Tensor::cat(&[h.detach(), q[i].detach().to_kind(kind)], 0),
                None => h.detach(),
            };
            let (iters, eps) = (self.sinkhorn_iterations, self.sinkhorn_epsilon);
            let codes = match collectives {
                Some(c) => sinkhorn_across(&scores, iters, eps, c)?,
                None => sinkhorn(&scores, iters, eps),
            }
            .narrow(0, 0, n);
            let mut sub: Option<Tensor> = None;
            for (v, z) in all.iter().enumerate() {
                if v == i {
                    continue;
                }
                let ls = (*z / self.temperature).log_softmax(1, kind);
                let l = -(&codes * ls).sum_dim_intlist(1, false, kind).mean(kind);
                sub = Some(match sub {
                    Some(a) => a + l,
                    None => l,
                });
            }
            let sub = sub.expect("at least two views") / (all.len() - 1) as f64;
            total = Some(match total {
                Some(a) => a + sub,
                None => sub,
            });
        }
        Ok(total.expect("at least one high-resolution view") / high.len() as f64)
    }
}
