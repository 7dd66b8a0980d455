//! Optimizers we own: SGD (momentum, dampening, Nesterov, L2 weight decay), Adam, AdamW and LARS,
//! written with tch tensor ops under `no_grad` and following `torch.optim` update rules step for step.
//!
//! tch's built-in optimizers keep their state inside libtorch where it cannot be read or saved; here the
//! state is a plain map `parameter name → buffer name → tensor` (`momentum_buffer`, `exp_avg`,
//! `exp_avg_sq`, `step`), so checkpoints carry it and tests can inspect it.
//!
//! On contiguous CPU `f32`/`f64` tensors each update runs as single-pass loops over the parameter, its
//! gradient and its state (`crate::fused`, what `torch.optim`'s `fused=True` does) instead of a dozen
//! tensor ops; the results are bit-identical to the tensor-op path, which every other tensor takes
//! ([`Optimizer::set_fused`] forces it).
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
use crate::fused;
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
    fused: bool,
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
            fused: true,
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
        let Optimizer {
            cfg,
            params,
            state,
            fused,
            ..
        } = self;
        tch::no_grad(|| -> Result<()> {
            for (name, p) in params.iter() {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                // Biases and norms (fewer than two dimensions) may be excluded from weight decay.
                let wd = if cfg.exclude_bias_and_norm && p.dim() < 2 {
                    0.0
                } else {
                    cfg.weight_decay
                };
                let st = state.entry(name.clone()).or_default();
                let p = p.shallow_clone();
                match cfg.kind {
                    OptimizerKind::Sgd => {
                        let l2 = (wd != 0.0).then_some(wd);
                        sgd_update(cfg, st, p, g, l2, None, lr, *fused)?;
                    }
                    OptimizerKind::Lars => {
                        let (mut l2, mut scale) = (None, None);
                        if wd != 0.0 {
                            let pn = p.f_norm()?.f_double_value(&[])?;
                            let gn = g.f_norm()?.f_double_value(&[])?;
                            if pn > 0.0 && gn > 0.0 {
                                l2 = Some(wd);
                                scale =
                                    Some(cfg.trust_coefficient * pn / (gn + wd * pn + LARS_EPS));
                            }
                        }
                        sgd_update(cfg, st, p, g, l2, scale, lr, *fused)?;
                    }
                    OptimizerKind::Adam | OptimizerKind::Adamw => {
                        adam_update(cfg, st, p, g, wd, lr, *fused)?;
                    }
                }
            }
            Ok(())
        })?;
        self.steps += 1;
        Ok(())
    }

    /// Whether the single-pass CPU kernels run (the default; like `torch.optim`'s `fused=True`). Both
    /// paths give bit-identical results; `false` forces the tensor-op path everywhere.
    pub fn set_fused(&mut self, on: bool) {
        self.fused = on;
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

/// One SGD or LARS update of `p` (`torch.optim.SGD`; LARS passes its trust ratio as `scale`): the
/// direction `(g + λp)·scale`, then heavy-ball momentum — the buffer starts as the first direction, then
/// `buf = momentum·buf + (1 − dampening)·d`, and the step direction is `buf`, or `d + momentum·buf` with
/// Nesterov — then `p −= lr·d`. Runs [`fused::sgd`] when the tensors allow.
#[allow(unsafe_code)] // the fused kernel, on tensors `fused::cpu_slices` checked
fn sgd_update(
    cfg: &OptimizerConfig,
    st: &mut BTreeMap<String, Tensor>,
    mut p: Tensor,
    g: Tensor,
    l2: Option<f64>,
    scale: Option<f64>,
    lr: f64,
    fused: bool,
) -> Result<()> {
    let has_momentum = cfg.momentum != 0.0;
    let first = !st.contains_key("momentum_buffer");
    if has_momentum && first {
        st.insert("momentum_buffer".into(), p.f_zeros_like()?);
    }
    if fused {
        let buf = st.get("momentum_buffer").filter(|_| has_momentum);
        let momentum = has_momentum.then_some(fused::MomentumStep {
            first,
            momentum: cfg.momentum,
            dampening: cfg.dampening,
            nesterov: cfg.nesterov,
        });
        let s = fused::SgdStep {
            l2,
            scale,
            lr,
            momentum,
        };
        macro_rules! run {
            ($t:ty) => {
                if let Some(([pp, gp], n)) = fused::cpu_slices::<$t, 2>([&p, &g]) {
                    let bp = match buf {
                        Some(b) => match fused::cpu_slices::<$t, 2>([&p, b]) {
                            Some(([_, bp], _)) => Some(bp),
                            None => None,
                        },
                        None => None,
                    };
                    if bp.is_some() || !has_momentum {
                        // SAFETY: contiguous CPU tensors of n elements each (checked by cpu_slices);
                        // a parameter, its gradient and its buffer are distinct storages.
                        unsafe { fused::sgd::<$t>([pp, gp], bp, n, &s) };
                        return Ok(());
                    }
                }
            };
        }
        run!(f32);
        run!(f64);
    }
    let mut d = match l2 {
        Some(wd) => g.f_add(&p.f_mul_scalar(wd)?)?,
        None => g,
    };
    if let Some(q) = scale {
        d = d.f_mul_scalar(q)?;
    }
    if has_momentum {
        let b = st
            .get_mut("momentum_buffer")
            .expect("inserted above when momentum is on");
        if first {
            b.f_copy_(&d)?;
        } else {
            let _ = b.f_mul_scalar_(cfg.momentum)?;
            let _ = b.f_add_(&d.f_mul_scalar(1.0 - cfg.dampening)?)?;
        }
        d = if cfg.nesterov {
            d.f_add(&b.f_mul_scalar(cfg.momentum)?)?
        } else {
            b.shallow_clone()
        };
    }
    let _ = p.f_sub_(&d.f_mul_scalar(lr)?)?;
    Ok(())
}

/// One Adam or AdamW update of `p` (`torch.optim.Adam`/`AdamW`, no AMSGrad): AdamW first decays
/// `p *= 1 − lr·λ`, Adam adds `λp` to the gradient; then the moments, bias corrections and
/// `p −= lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)`. Runs [`fused::adam`] when the tensors allow.
#[allow(unsafe_code)] // the fused kernel, on tensors `fused::cpu_slices` checked
fn adam_update(
    cfg: &OptimizerConfig,
    st: &mut BTreeMap<String, Tensor>,
    mut p: Tensor,
    g: Tensor,
    wd: f64,
    lr: f64,
    fused: bool,
) -> Result<()> {
    let [b1, b2] = cfg.betas;
    let t = st.get("step").map(|s| s.double_value(&[])).unwrap_or(0.0) + 1.0;
    st.insert("step".into(), Tensor::from(t));
    for buf in ["exp_avg", "exp_avg_sq"] {
        if !st.contains_key(buf) {
            st.insert(buf.into(), p.f_zeros_like()?);
        }
    }
    let (bc1, bc2) = (1.0 - b1.powf(t), 1.0 - b2.powf(t));
    let adamw = cfg.kind == OptimizerKind::Adamw;
    let (m, v) = (&st["exp_avg"], &st["exp_avg_sq"]);
    if fused {
        let s = fused::AdamStep {
            decay: (adamw && wd != 0.0).then_some(1.0 - lr * wd),
            l2: (!adamw && wd != 0.0).then_some(wd),
            beta1: b1,
            beta2: b2,
            bias2_sqrt: bc2.sqrt(),
            eps: cfg.eps,
            step_size: lr / bc1,
        };
        macro_rules! run {
            ($t:ty) => {
                if let Some((ptrs, n)) = fused::cpu_slices::<$t, 4>([&p, &g, m, v]) {
                    // SAFETY: four contiguous CPU tensors of n elements (checked), distinct storages.
                    unsafe { fused::adam_moments::<$t>(ptrs, n, &s) };
                    let r = v.f_sqrt()?;
                    let ([pp, mp, rp], n) = fused::cpu_slices::<$t, 3>([&p, m, &r])
                        .expect("sqrt of a contiguous CPU tensor is one");
                    // SAFETY: as above; `r` is a fresh tensor.
                    unsafe { fused::adam_apply::<$t>([pp, mp, rp], n, &s) };
                    return Ok(());
                }
            };
        }
        run!(f32);
        run!(f64);
    }
    let d = if adamw {
        if wd != 0.0 {
            let _ = p.f_mul_scalar_(1.0 - lr * wd)?;
        }
        g
    } else if wd != 0.0 {
        g.f_add(&p.f_mul_scalar(wd)?)?
    } else {
        g
    };
    let (mut m, mut v) = (m.shallow_clone(), v.shallow_clone());
    let _ = m.f_mul_scalar_(b1)?;
    let _ = m.f_add_(&d.f_mul_scalar(1.0 - b1)?)?;
    let _ = v.f_mul_scalar_(b2)?;
    let _ = v.f_add_(&d.f_mul(&d)?.f_mul_scalar(1.0 - b2)?)?;
    let denom = v
        .f_sqrt()?
        .f_div_scalar(bc2.sqrt())?
        .f_add_scalar(cfg.eps)?;
    let _ = p.f_sub_(&m.f_div(&denom)?.f_mul_scalar(lr / bc1)?)?;
    Ok(())
}
