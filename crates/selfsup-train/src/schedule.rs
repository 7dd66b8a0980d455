//! The learning-rate schedule ([`LrSchedule`]: constant, step, linear warmup + cosine), a pure
//! function of the step, so resuming needs no extra state. The EMA momentum of BYOL/MoCo/DINO targets
//! is `selfsup_nn::cosine_momentum` (tested against lightly) and DINO's teacher temperature is
//! `selfsup_contrastive`'s `DinoLoss::teacher_temp_at`, next to the methods that use them.

use crate::config::{ScheduleConfig, ScheduleKind};
use std::f64::consts::PI;

/// A learning-rate schedule resolved to steps.
#[derive(Clone, Debug, PartialEq)]
pub struct LrSchedule {
    kind: ScheduleKind,
    base_lr: f64,
    min_lr: f64,
    warmup_steps: u64,
    warmup_start_factor: f64,
    total_steps: u64,
    milestone_steps: Vec<u64>,
    gamma: f64,
}

impl LrSchedule {
    /// Resolves `cfg` for a run of `total_steps` optimizer steps, `steps_per_epoch` per epoch.
    pub fn new(cfg: &ScheduleConfig, base_lr: f64, steps_per_epoch: u64, total_steps: u64) -> Self {
        let warmup_steps =
            ((cfg.warmup_epochs * steps_per_epoch as f64).round() as u64).min(total_steps);
        LrSchedule {
            kind: cfg.kind,
            base_lr,
            min_lr: cfg.min_lr,
            warmup_steps,
            warmup_start_factor: cfg.warmup_start_factor,
            total_steps,
            milestone_steps: cfg
                .milestones
                .iter()
                .map(|&e| e * steps_per_epoch)
                .collect(),
            gamma: cfg.gamma,
        }
    }

    /// The LR of optimizer step `step` (0-based).
    ///
    /// Warmup (any kind): step `s < W` gets `lr × (f + (1 − f)(s + 1)/W)` with `f` the start factor, so
    /// the last warmup step reaches the peak. Cosine: for `s >= W`,
    /// `min_lr + (lr − min_lr)(1 + cos(π (s − W)/(T − W)))/2`, reaching `min_lr` only after the last
    /// step. Step: the peak times `gamma` per milestone epoch passed.
    pub fn lr(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            let f = self.warmup_start_factor;
            return self.base_lr * (f + (1.0 - f) * (step + 1) as f64 / self.warmup_steps as f64);
        }
        match self.kind {
            ScheduleKind::Constant => self.base_lr,
            ScheduleKind::Step => {
                let passed = self.milestone_steps.iter().filter(|&&m| step >= m).count();
                self.base_lr * self.gamma.powi(passed as i32)
            }
            ScheduleKind::WarmupCosine => {
                let span = self.total_steps.saturating_sub(self.warmup_steps).max(1);
                let t = (step - self.warmup_steps) as f64 / span as f64;
                self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1.0 + (PI * t.min(1.0)).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kind: ScheduleKind) -> ScheduleConfig {
        ScheduleConfig {
            kind,
            ..Default::default()
        }
    }

    #[test]
    fn warmup_cosine_matches_closed_form_points() {
        // 10 steps/epoch, 11 epochs, 1 warmup epoch: warmup steps 0..10 rise to 1.0, then cosine over 100.
        let mut c = cfg(ScheduleKind::WarmupCosine);
        c.warmup_epochs = 1.0;
        c.min_lr = 0.1;
        let s = LrSchedule::new(&c, 1.0, 10, 110);
        assert!((s.lr(0) - 0.1).abs() < 1e-12);
        assert!((s.lr(4) - 0.5).abs() < 1e-12);
        assert!((s.lr(9) - 1.0).abs() < 1e-12);
        assert!((s.lr(10) - 1.0).abs() < 1e-12);
        // Half way through the decay: cos(pi/2) = 0 → midpoint of [0.1, 1.0].
        assert!((s.lr(60) - 0.55).abs() < 1e-12);
        // A quarter (step 35 = 25/100 of the decay): 0.1 + 0.9 * (1 + cos(pi/4))/2.
        let q = 0.1 + 0.9 * (1.0 + (PI / 4.0).cos()) / 2.0;
        assert!((s.lr(35) - q).abs() < 1e-12);
        assert!((s.lr(110) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn step_schedule_multiplies_at_milestones() {
        let mut c = cfg(ScheduleKind::Step);
        c.milestones = vec![2, 4];
        c.gamma = 0.5;
        let s = LrSchedule::new(&c, 0.8, 5, 30);
        assert_eq!(s.lr(9), 0.8);
        assert_eq!(s.lr(10), 0.4);
        assert_eq!(s.lr(19), 0.4);
        assert_eq!(s.lr(20), 0.2);
        let s = LrSchedule::new(&cfg(ScheduleKind::Constant), 0.3, 5, 30);
        assert_eq!(s.lr(0), 0.3);
        assert_eq!(s.lr(29), 0.3);
    }
}
