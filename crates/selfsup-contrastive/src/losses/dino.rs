//! DINO's self-distillation loss (Caron et al., 2021), lightly's `DINOLoss`.
//!
//! With teacher outputs `t_v` (global views), student outputs `s_w` (all views), the centre `c`, the
//! teacher temperature `τ_t` and student temperature `τ_s`:
//!
//! `P_t(v) = softmax((t_v − c)/τ_t)`, `log P_s(w) = log_softmax(s_w/τ_s)`,
//! `loss = mean over pairs (v, w), v ≠ w, of mean_batch(−Σ_k P_t(v)_k log P_s(w)_k)`.
//!
//! The teacher temperature warms up linearly from `warmup_teacher_temp` to `teacher_temp` over
//! `warmup_epochs` epochs (lightly: `linspace(warmup, final, warmup_epochs)[epoch]`, then `teacher_temp`).
//! The centre is updated after the loss as `c ← m·c + (1 − m)·mean(t)` ([`DinoLoss::updated_center`]).

use super::check_2d;
use selfsup_nn::Result;
use tch::Tensor;

/// See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DinoLoss {
    /// Teacher temperature at epoch 0.
    pub warmup_teacher_temp: f64,
    /// Teacher temperature after the warm-up.
    pub teacher_temp: f64,
    /// Warm-up length in epochs.
    pub warmup_epochs: u64,
    /// Student temperature.
    pub student_temp: f64,
    /// Centre momentum `m`.
    pub center_momentum: f64,
}

impl Default for DinoLoss {
    fn default() -> Self {
        DinoLoss {
            warmup_teacher_temp: 0.04,
            teacher_temp: 0.04,
            warmup_epochs: 30,
            student_temp: 0.1,
            center_momentum: 0.9,
        }
    }
}

impl DinoLoss {
    /// Validates the temperatures (> 0) and momentum (in [0, 1]).
    pub fn validate(&self) -> Result<()> {
        use selfsup_core::check::{positive, probability};
        positive("warmup_teacher_temp", self.warmup_teacher_temp)?;
        positive("teacher_temp", self.teacher_temp)?;
        positive("student_temp", self.student_temp)?;
        probability("center_momentum", self.center_momentum)?;
        Ok(())
    }

    /// The teacher temperature at `epoch`.
    pub fn teacher_temp_at(&self, epoch: u64) -> f64 {
        if epoch >= self.warmup_epochs {
            self.teacher_temp
        } else if self.warmup_epochs == 1 {
            self.warmup_teacher_temp
        } else {
            let f = epoch as f64 / (self.warmup_epochs - 1) as f64;
            self.warmup_teacher_temp + f * (self.teacher_temp - self.warmup_teacher_temp)
        }
    }

    /// The loss of teacher outputs (`≥ 1` views) and student outputs (all views; the first
    /// `teacher.len()` are the same views as the teacher's), each `N×K`, with centre `1×K`.
    pub fn forward(
        &self,
        teacher: &[Tensor],
        student: &[Tensor],
        center: &Tensor,
        epoch: u64,
    ) -> Result<Tensor> {
        if teacher.is_empty() || student.is_empty() {
            return Err(selfsup_core::Error::shape(
                "DINO needs at least one teacher and one student view",
            )
            .into());
        }
        let (n, k) = check_2d("teacher[0]", &teacher[0], 1)?;
        for (i, x) in teacher.iter().chain(student.iter()).enumerate() {
            if x.size() != [n, k] {
                return Err(selfsup_core::Error::shape(format!(
                    "DINO view {i}: expected shape [{n}, {k}], got {:?}",
                    x.size()
                ))
                .into());
            }
        }
        let tt = self.teacher_temp_at(epoch);
        let kind = student[0].kind();
        let c = center.to_kind(kind);
        let mut total: Option<Tensor> = None;
        let mut pairs = 0usize;
        for (v, t) in teacher.iter().enumerate() {
            let pt = ((t.detach().to_kind(kind) - &c) / tt).softmax(1, kind);
            for (w, s) in student.iter().enumerate() {
                if v == w {
                    continue;
                }
                let ls = (s / self.student_temp).log_softmax(1, kind);
                let ce = -(&pt * ls).sum_dim_intlist(1, false, kind).mean(kind);
                total = Some(match total {
                    Some(acc) => acc + ce,
                    None => ce,
                });
                pairs += 1;
            }
        }
        match total {
            Some(t) => Ok(t / pairs as f64),
            None => Err(selfsup_core::Error::shape(
                "DINO needs a student view that differs from a teacher view (at least 2 views)",
            )
            .into()),
        }
    }

    /// `m·c + (1 − m)·mean over all teacher rows`, without gradient.
    pub fn updated_center(&self, teacher: &[Tensor], center: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let all = Tensor::cat(teacher, 0).detach();
            let batch_center = all.mean_dim(0, true, center.kind());
            self.center_from_batch_mean(&batch_center, center)
        })
    }

    /// `m·c + (1 − m)·batch_center` for a batch mean computed elsewhere (`1×K`; over all ranks in
    /// a data-parallel run), without gradient.
    pub fn center_from_batch_mean(&self, batch_center: &Tensor, center: &Tensor) -> Tensor {
        tch::no_grad(|| {
            center * self.center_momentum
                + batch_center.detach().to_kind(center.kind()) * (1.0 - self.center_momentum)
        })
    }
}
