//! Momentum (EMA) targets and freezing.
//!
//! A target network (BYOL, MoCo, DINO teacher) lives in the *same* `VarStore` as the online network,
//! under its own prefix, as non-trainable variables: [`build_frozen`] builds any module in a scratch
//! store and re-registers its variables under the given path with `requires_grad = false`, so the
//! optimizer never sees them and a checkpoint holds them. [`copy_prefix`] initialises the target
//! from the online network, and [`ema_update`] applies `t ← m·t + (1 − m)·o` to every *trainable*
//! online variable with a matching target (the parameters, as lightly's `update_momentum`; BN
//! running statistics of the target follow its own forward passes). [`cosine_momentum`] is the
//! cosine schedule from `m0` to `m1` (lightly's `cosine_schedule`).

use crate::Result;
use std::collections::HashMap;
use tch::nn::{self, VarStore};
use tch::{Kind, Tensor};

/// Builds a module with `f` and registers all its variables under `p` as non-trainable
/// (`requires_grad = false`). The names below `p` are the names `f` gave relative to its root.
pub fn build_frozen<T>(p: &nn::Path<'_>, f: impl FnOnce(&nn::Path<'_>) -> Result<T>) -> Result<T> {
    let scratch = VarStore::new(p.device());
    let module = f(&scratch.root())?;
    let mut vars: Vec<(String, Tensor)> = scratch.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, t) in vars {
        let _ = t.set_requires_grad(false);
        let parts: Vec<&str> = name.split('.').collect();
        let mut q = p.set_group(0);
        for part in &parts[..parts.len() - 1] {
            q = q.sub(*part);
        }
        let _ = q.add(parts[parts.len() - 1], t, false);
    }
    Ok(module)
}

fn with_prefix(vs: &VarStore, prefix: &str) -> HashMap<String, Tensor> {
    let dotted = format!("{prefix}.");
    vs.variables()
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix(&dotted).map(|rest| (rest.to_string(), v)))
        .collect()
}

fn missing(prefix: &str, name: &str) -> crate::Error {
    selfsup_core::Error::config(
        "ema",
        format!("variable `{name}` has no counterpart under `{prefix}`"),
    )
    .into()
}

/// Copies every variable under `from.` into the variable of the same name under `to.` (weights and
/// buffers). Returns the number of variables copied; fails when a name has no counterpart.
pub fn copy_prefix(vs: &VarStore, from: &str, to: &str) -> Result<usize> {
    let src = with_prefix(vs, from);
    let dst = with_prefix(vs, to);
    tch::no_grad(|| -> Result<usize> {
        for (name, s) in &src {
            let mut d = dst
                .get(name)
                .ok_or_else(|| missing(to, name))?
                .shallow_clone();
            d.f_copy_(s)?;
        }
        Ok(src.len())
    })
}

/// `target ← m·target + (1 − m)·online` for every trainable floating-point variable under
/// `online.` and its namesake under `target.`. Returns the number of variables updated.
pub fn ema_update(vs: &VarStore, target: &str, online: &str, m: f64) -> Result<usize> {
    selfsup_core::check::probability("momentum", m)?;
    let src = with_prefix(vs, online);
    let dst = with_prefix(vs, target);
    tch::no_grad(|| -> Result<usize> {
        let mut n = 0;
        for (name, o) in &src {
            if !o.requires_grad()
                || !matches!(
                    o.kind(),
                    Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
                )
            {
                continue;
            }
            let mut t = dst
                .get(name)
                .ok_or_else(|| missing(target, name))?
                .shallow_clone();
            ema_tensor(&mut t, o, m)?;
            n += 1;
        }
        Ok(n)
    })
}

/// `t ← m·t + (1 − m)·o` in place, without gradient.
pub fn ema_tensor(t: &mut Tensor, o: &Tensor, m: f64) -> Result<()> {
    tch::no_grad(|| -> Result<()> {
        let _ = t.f_mul_scalar_(m)?;
        let _ = t.f_add_(&o.f_mul_scalar(1.0 - m)?)?;
        Ok(())
    })
}

/// Freezes (`trainable = false`) or unfreezes every variable under `prefix.` by switching
/// `requires_grad`; returns how many variables were switched. Frozen variables get no gradient, so
/// optimizers leave them untouched.
pub fn set_trainable(vs: &VarStore, prefix: &str, trainable: bool) -> usize {
    let vars = with_prefix(vs, prefix);
    for t in vars.values() {
        if matches!(
            t.kind(),
            Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
        ) {
            let _ = t.set_requires_grad(trainable);
        }
    }
    vars.len()
}

/// Cosine schedule from `m0` (step 0) to `m1` (step `max_steps − 1`), lightly's `cosine_schedule`:
/// `m1 − (m1 − m0)·(cos(π·step/(max_steps − 1)) + 1)/2`; `m1` when `max_steps ≤ 1` or past the end.
pub fn cosine_momentum(step: u64, max_steps: u64, m0: f64, m1: f64) -> f64 {
    if max_steps <= 1 || step >= max_steps {
        m1
    } else {
        cos_value(step, max_steps, m0, m1)
    }
}

fn cos_value(step: u64, max_steps: u64, m0: f64, m1: f64) -> f64 {
    let t = std::f64::consts::PI * step as f64 / (max_steps - 1) as f64;
    m1 - (m1 - m0) * (t.cos() + 1.0) / 2.0
}
