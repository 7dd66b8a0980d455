//! Optimizers we own: SGD (momentum, dampening, Nesterov, L2 weight decay), Adam, AdamW and LARS,
//! written with tch tensor ops under `no_grad` and following `torch.optim` update rules step for step.
//!
//! tch's built-in optimizers keep their state inside libtorch where it cannot be read or saved; here the
//! state is a plain map `parameter name → buffer name → tensor` (`momentum_buffer`, `exp_avg`,
//! `exp_avg_sq`, `step`), so checkpoints carry it and tests can inspect it.
//!
//! Parameters are the *trainable* variables of the method's `VarStore` (those with `requires_grad`),
//! sorted by name. "Bias and norm" parameters — every parameter with fewer than two dimensions — are
//! excluded from weight decay and from LARS' trust-ratio adaptation when
//! `exclude_bias_and_norm` is set (a BN weight is 1-D, a conv/linear weight is not).
//!
//! LARS follows lightly's `LARS` (itself after solo-learn / the SimCLR code): for a parameter with
//! weight decay `λ > 0`, `‖p‖ > 0` and `‖g‖ > 0`, the update `g + λ p` is scaled by
//! `η ‖p‖ / (‖g‖ + λ ‖p‖ + ε)`; a parameter without weight decay (the excluded biases and norms, or
//! all of them when `λ = 0`) is neither decayed nor adapted. Then SGD momentum (optionally Nesterov).

use crate::config::{OptimizerConfig, OptimizerKind};
use crate::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// An optimizer over a `VarStore`'s trainable variables, with inspectable state.
#[derive(Debug)]
pub struct Optimizer {
    cfg: OptimizerConfig,
    params: Vec<(String, Tensor)>,
    state: BTreeMap<String, BTreeMap<String, Tensor>>,
    steps: u64,
}

const LARS_EPS: f64 = 1e-8;

impl Optimizer {
    /// An optimizer for every trainable variable of `vs`.
    pub fn new(vs: &VarStore, cfg: &OptimizerConfig) -> Result<Self> {
        let params: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        Self::from_params(params, cfg)
    }

    /// An optimizer over explicitly named parameters (e.g. an encoder's and a head's, from two stores).
    pub fn from_params(mut params: Vec<(String, Tensor)>, cfg: &OptimizerConfig) -> Result<Self> {
        cfg.validate()?;
        params.sort_by(|a, b| a.0.cmp(&b.0));
        if params.is_empty() {
            return Err(selfsup_core::Error::config(
                "optimizer",
                "the method has no trainable parameters",
            )
            .into());
        }
        Ok(Optimizer {
            cfg: cfg.clone(),
            params,
            state: BTreeMap::new(),
            steps: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OptimizerConfig {
        &self.cfg
    }

    /// Number of `step` calls so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Names of the optimized parameters, sorted.
    pub fn param_names(&self) -> Vec<&str> {
        self.params.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// A state buffer (`momentum_buffer`, `exp_avg`, `exp_avg_sq`, `step`) of parameter `param`.
    pub fn state(&self, param: &str, buffer: &str) -> Option<&Tensor> {
        self.state.get(param).and_then(|m| m.get(buffer))
    }

    /// True when `name`/`t` is excluded from weight decay and LARS adaptation.
    fn excluded(&self, t: &Tensor) -> bool {
        self.cfg.exclude_bias_and_norm && t.dim() < 2
    }

    /// Sets every gradient to zero.
    pub fn zero_grad(&mut self) {
        for (_, p) in self.params.iter_mut() {
            p.zero_grad();
        }
    }

    /// The global L2 norm of all gradients (0 when none is defined).
    pub fn grad_norm(&self) -> Result<f64> {
        let mut sq = 0.0f64;
        for (_, p) in &self.params {
            let g = p.grad();
            if g.defined() {
                let n = g.f_norm()?.f_to_kind(Kind::Double)?.f_double_value(&[])?;
                sq += n * n;
            }
        }
        Ok(sq.sqrt())
    }

    /// `torch.nn.utils.clip_grad_norm_`: scales all gradients by `max_norm / (total + 1e-6)` when that
    /// is below 1. Returns the total norm before clipping.
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> Result<f64> {
        let total = self.grad_norm()?;
        let coef = max_norm / (total + 1e-6);
        if coef < 1.0 {
            tch::no_grad(|| -> Result<()> {
                for (_, p) in &self.params {
                    let mut g = p.grad();
                    if g.defined() {
                        let _ = g.f_mul_scalar_(coef)?;
                    }
                }
                Ok(())
            })?;
        }
        Ok(total)
    }

    /// Applies one update with learning rate `lr` to every parameter that has a gradient.
    pub fn step(&mut self, lr: f64) -> Result<()> {
        let cfg = self.cfg.clone();
        tch::no_grad(|| -> Result<()> {
            for i in 0..self.params.len() {
                let (name, p) = &self.params[i];
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let excluded = self.excluded(p);
                let wd = if excluded { 0.0 } else { cfg.weight_decay };
                let name = name.clone();
                let mut p = p.shallow_clone();
                let st = self.state.entry(name).or_default();
                match cfg.kind {
                    OptimizerKind::Sgd => {
                        let mut d = if wd != 0.0 {
                            g.f_add(&p.f_mul_scalar(wd)?)?
                        } else {
                            g
                        };
                        if cfg.momentum != 0.0 {
                            d = momentum_direction(st, d, &cfg)?;
                        }
                        let _ = p.f_sub_(&d.f_mul_scalar(lr)?)?;
                    }
                    OptimizerKind::Adam | OptimizerKind::Adamw => {
                        let d = if cfg.kind == OptimizerKind::Adamw {
                            if wd != 0.0 {
                                let _ = p.f_mul_scalar_(1.0 - lr * wd)?;
                            }
                            g
                        } else if wd != 0.0 {
                            g.f_add(&p.f_mul_scalar(wd)?)?
                        } else {
                            g
                        };
                        let [b1, b2] = cfg.betas;
                        let t = st.get("step").map(|s| s.double_value(&[])).unwrap_or(0.0) + 1.0;
                        st.insert("step".into(), Tensor::from(t));
                        let m = st.entry("exp_avg".into()).or_insert_with(|| p.zeros_like());
                        let _ = m.f_mul_scalar_(b1)?;
                        let _ = m.f_add_(&d.f_mul_scalar(1.0 - b1)?)?;
                        let m = m.shallow_clone();
                        let v = st
                            .entry("exp_avg_sq".into())
                            .or_insert_with(|| p.zeros_like());
                        let _ = v.f_mul_scalar_(b2)?;
                        let _ = v.f_add_(&d.f_mul(&d)?.f_mul_scalar(1.0 - b2)?)?;
                        let bc1 = 1.0 - b1.powf(t);
                        let bc2 = 1.0 - b2.powf(t);
                        let denom = v
                            .f_sqrt()?
                            .f_div_scalar(bc2.sqrt())?
                            .f_add_scalar(cfg.eps)?;
                        let _ = p.f_sub_(&m.f_div(&denom)?.f_mul_scalar(lr / bc1)?)?;
                    }
                    OptimizerKind::Lars => {
                        let mut d = g;
                        if wd != 0.0 {
                            let pn = p.f_norm()?.f_double_value(&[])?;
                            let gn = d.f_norm()?.f_double_value(&[])?;
                            if pn > 0.0 && gn > 0.0 {
                                let q = cfg.trust_coefficient * pn / (gn + wd * pn + LARS_EPS);
                                d = d.f_add(&p.f_mul_scalar(wd)?)?.f_mul_scalar(q)?;
                            }
                        }
                        if cfg.momentum != 0.0 {
                            d = momentum_direction(st, d, &cfg)?;
                        }
                        let _ = p.f_sub_(&d.f_mul_scalar(lr)?)?;
                    }
                }
            }
            Ok(())
        })?;
        self.steps += 1;
        Ok(())
    }

    /// The state as named tensors `"{param}/{buffer}"` (for checkpoints).
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (p, bufs) in &self.state {
            for (b, t) in bufs {
                out.push((format!("{p}/{b}"), t.shallow_clone()));
            }
        }
        out
    }

    /// Restores state written by [`Optimizer::state_tensors`] and the step count. Unknown parameters
    /// are an error (the checkpoint belongs to another model).
    pub fn load_state(&mut self, tensors: HashMap<String, Tensor>, steps: u64) -> Result<()> {
        let device = self.params.first().map(|(_, p)| p.device());
        let mut state: BTreeMap<String, BTreeMap<String, Tensor>> = BTreeMap::new();
        for (key, t) in tensors {
            let (param, buf) = key.rsplit_once('/').ok_or_else(|| {
                Error::Core(selfsup_core::Error::Other(format!(
                    "optimizer state entry `{key}` is not `param/buffer`"
                )))
            })?;
            let Some((_, p)) = self.params.iter().find(|(n, _)| n == param) else {
                return Err(Error::Core(selfsup_core::Error::Other(format!(
                    "optimizer state names parameter `{param}`, which the model does not have"
                ))));
            };
            if buf != "step" && t.size() != p.size() {
                return Err(Error::Core(selfsup_core::Error::Other(format!(
                    "optimizer state `{key}` has shape {:?}, parameter has {:?}",
                    t.size(),
                    p.size()
                ))));
            }
            let t = match device {
                Some(d) if buf != "step" => t.f_to_device(d)?,
                _ => t,
            };
            state
                .entry(param.to_string())
                .or_default()
                .insert(buf.to_string(), t);
        }
        self.state = state;
        self.steps = steps;
        Ok(())
    }
}

/// SGD's heavy-ball momentum (shared by SGD and LARS, as in `torch.optim.SGD`): the buffer starts as the
/// first direction, then `buf = momentum·buf + (1 − dampening)·d`; the step direction is `buf`, or
/// `d + momentum·buf` with Nesterov.
fn momentum_direction(
    st: &mut BTreeMap<String, Tensor>,
    d: Tensor,
    cfg: &OptimizerConfig,
) -> Result<Tensor> {
    let buf = match st.get_mut("momentum_buffer") {
        None => {
            let b = d.f_detach()?.copy();
            st.insert("momentum_buffer".into(), b.shallow_clone());
            b
        }
        Some(b) => {
            let _ = b.f_mul_scalar_(cfg.momentum)?;
            let _ = b.f_add_(&d.f_mul_scalar(1.0 - cfg.dampening)?)?;
            b.shallow_clone()
        }
    };
    Ok(if cfg.nesterov {
        d.f_add(&buf.f_mul_scalar(cfg.momentum)?)?
    } else {
        buf
    })
}
