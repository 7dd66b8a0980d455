//! Downstream evaluation of a learned encoder.
//!
//! - [`knn_predict`] / [`knn_accuracy`]: weighted kNN as in InstDisc/MoCo/lightly monitors — cosine
//!   similarity on L2-normalised features, the `k` most similar bank entries (bank = training split),
//!   each voting for its class with weight `exp(sim / T)`; defaults `k = 200`, `T = 0.1`.
//! - [`linear_probe`]: a linear classifier on frozen features (standardised with the training split's
//!   mean and std), by default CLIP's protocol: full-batch L-BFGS to convergence with the L2 penalty
//!   chosen on a held-out part of the training split ([`select_weight_decay`]); Adam (full batch or
//!   mini-batch) on request. Reports train and test accuracy.
//! - [`finetune`]: encoder + linear head trained together with labels.
//! - [`OnlineProbe`]: a linear head trained on detached features during pretraining.
//! - [`embed_array`], [`embed_source`], [`export_embeddings`]: features of a whole split, and their export
//!   as safetensors.
//! - [`knn_accuracy_streamed`], [`knn_and_probe_streamed`]: both evaluations straight from two
//!   [`BatchSource`]s (the bank and the queries), encoding batch by batch: only the `N × D` features are
//!   ever held, never the inputs (a CIFAR-10 split is 600 MB of floats, an image folder unbounded).
//!
//! Everything runs on tensors on the method's device; results are plain numbers.

use crate::config::{OptimizerConfig, OptimizerKind};
use crate::optim::Optimizer;
use crate::{Error, Result};
use ndarray::ArrayViewD;
use selfsup_core::BatchSource;
use selfsup_nn::{array_to_tensor, Method};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

/// A downstream protocol on frozen features (`selfsup eval knn|linear`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "clap", value(rename_all = "snake_case"))]
pub enum EvalProtocol {
    /// Weighted kNN ([`knn_accuracy`]).
    Knn,
    /// Linear probe ([`linear_probe`]).
    Linear,
}

impl EvalProtocol {
    /// The protocol as written on the command line.
    pub fn name(self) -> &'static str {
        match self {
            EvalProtocol::Knn => "knn",
            EvalProtocol::Linear => "linear",
        }
    }
}

impl std::fmt::Display for EvalProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// kNN settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnnConfig {
    /// Neighbours (capped at the bank size).
    pub k: usize,
    /// Temperature of the vote weights `exp(sim / T)`.
    pub temperature: f64,
}

impl Default for KnnConfig {
    fn default() -> Self {
        KnnConfig {
            k: 200,
            temperature: 0.1,
        }
    }
}

impl KnnConfig {
    /// Checks the fields.
    pub fn validate(&self) -> Result<()> {
        selfsup_core::check::at_least("knn.k", self.k, 1)?;
        selfsup_core::check::positive("knn.temperature", self.temperature)?;
        Ok(())
    }
}

fn check_xy(what: &str, x: &Tensor, y: &Tensor) -> Result<()> {
    if x.dim() != 2 || y.dim() != 1 || x.size()[0] != y.size()[0] {
        return Err(selfsup_core::Error::shape(format!(
            "{what}: features must be N×D and labels N, got {:?} and {:?}",
            x.size(),
            y.size()
        ))
        .into());
    }
    Ok(())
}

/// Class scores `Q × num_classes` of the weighted kNN vote.
pub fn knn_scores(
    bank: &Tensor,
    bank_labels: &Tensor,
    queries: &Tensor,
    num_classes: i64,
    cfg: &KnnConfig,
) -> Result<Tensor> {
    cfg.validate()?;
    check_xy("knn bank", bank, bank_labels)?;
    if queries.dim() != 2 || queries.size()[1] != bank.size()[1] {
        return Err(selfsup_core::Error::shape(format!(
            "knn queries must be Q×{}, got {:?}",
            bank.size()[1],
            queries.size()
        ))
        .into());
    }
    let _g = tch::no_grad_guard();
    let bank = bank.f_to_kind(Kind::Float)?;
    let bank = bank.f_div(
        &bank
            .f_norm_scalaropt_dim(2, [1i64].as_slice(), true)?
            .f_clamp_min(1e-12)?,
    )?;
    let q = queries.f_to_kind(Kind::Float)?.f_to_device(bank.device())?;
    let q = q.f_div(
        &q.f_norm_scalaropt_dim(2, [1i64].as_slice(), true)?
            .f_clamp_min(1e-12)?,
    )?;
    let labels = bank_labels
        .f_to_kind(Kind::Int64)?
        .f_to_device(bank.device())?;
    let k = (cfg.k as i64).min(bank.size()[0]);
    let mut out = Vec::new();
    let n = q.size()[0];
    let chunk = 512;
    let mut s = 0;
    while s < n {
        let e = (s + chunk).min(n);
        let sim = q
            .f_narrow(0, s, e - s)?
            .f_matmul(&bank.f_transpose(0, 1)?)?;
        let (w, idx) = sim.f_topk(k, 1, true, true)?;
        let nl = labels
            .f_index_select(0, &idx.f_flatten(0, -1)?)?
            .f_view([e - s, k])?;
        let w = w.f_div_scalar(cfg.temperature)?.f_exp()?;
        let scores = Tensor::f_zeros([e - s, num_classes], (Kind::Float, bank.device()))?
            .f_scatter_add(1, &nl, &w)?;
        out.push(scores);
        s = e;
    }
    Ok(Tensor::f_cat(&out, 0)?)
}

/// Predicted classes of `queries` by weighted kNN over `bank`.
pub fn knn_predict(
    bank: &Tensor,
    bank_labels: &Tensor,
    queries: &Tensor,
    num_classes: i64,
    cfg: &KnnConfig,
) -> Result<Tensor> {
    Ok(knn_scores(bank, bank_labels, queries, num_classes, cfg)?.f_argmax(1, false)?)
}

/// Accuracy of weighted kNN: `queries` classified against `bank`, compared with `query_labels`.
pub fn knn_accuracy(
    bank: &Tensor,
    bank_labels: &Tensor,
    queries: &Tensor,
    query_labels: &Tensor,
    num_classes: i64,
    cfg: &KnnConfig,
) -> Result<f64> {
    let pred = knn_predict(bank, bank_labels, queries, num_classes, cfg)?;
    accuracy(&pred, query_labels)
}

/// Fraction of `pred == labels`.
pub fn accuracy(pred: &Tensor, labels: &Tensor) -> Result<f64> {
    let labels = labels.f_to_device(pred.device())?.f_to_kind(Kind::Int64)?;
    let n = labels.size()[0];
    if n == 0 {
        return Ok(0.0);
    }
    let c = pred
        .f_eq_tensor(&labels)?
        .f_sum(Kind::Int64)?
        .f_int64_value(&[])?;
    Ok(c as f64 / n as f64)
}

/// [`Error::Interrupted`] once a Ctrl-C or SIGTERM arrived (see [`crate::trainer::stop_requested`]).
fn check_stop(what: &'static str) -> Result<()> {
    if crate::trainer::stop_requested() {
        return Err(crate::Error::Interrupted(what));
    }
    Ok(())
}

/// Features of every sample of `x` (`N × ...`), through `method.embed` in chunks of `batch`: `N × D` on
/// the CPU.
pub fn embed_array(method: &dyn Method, x: ArrayViewD<'_, f32>, batch: usize) -> Result<Tensor> {
    let device = method.var_store().device();
    let n = x.shape()[0];
    let batch = batch.max(1);
    let mut out = Vec::new();
    let mut s = 0;
    while s < n {
        check_stop("embedding")?;
        let e = (s + batch).min(n);
        let xb = array_to_tensor(x.slice_axis(ndarray::Axis(0), (s..e).into()), device)?;
        out.push(method.embed(&xb)?.f_to_device(Device::Cpu)?);
        s = e;
    }
    if out.is_empty() {
        return Ok(Tensor::f_zeros(
            [0, method.embed_dim()],
            (Kind::Float, Device::Cpu),
        )?);
    }
    Ok(Tensor::f_cat(&out, 0)?)
}

/// Writes features (`embeddings`, `N×D`) and labels (`labels`, `N`, when given) as safetensors.
pub fn export_embeddings(path: &Path, feats: &Tensor, labels: Option<&Tensor>) -> Result<()> {
    let mut t = vec![("embeddings".to_string(), feats.shallow_clone())];
    if let Some(l) = labels {
        t.push(("labels".to_string(), l.f_to_kind(Kind::Int64)?));
    }
    crate::checkpoint::save_safetensors(path, &t, None)
}

/// How the linear probe is trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeOptimizer {
    /// Adam, full-batch or mini-batch.
    Adam,
    /// Full-batch L-BFGS with a backtracking (Armijo) line search.
    Lbfgs,
}

/// Linear-probe settings.
///
/// The default is the protocol of CLIP's linear probes (a logistic regression fitted to convergence by
/// L-BFGS, its L2 penalty chosen on a part of the training features held out for that purpose): 300
/// L-BFGS iterations, the penalty picked from [`DEFAULT_WEIGHT_DECAY_GRID`] on 20 % of the training
/// split, then a refit on the whole training split. The test split never takes part in the choice.
/// Set `weight_decay_grid = []` for one fit at `weight_decay`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinearProbeConfig {
    /// `lbfgs` (default) or `adam`.
    pub optimizer: ProbeOptimizer,
    /// Epochs (Adam) or iterations (L-BFGS).
    pub epochs: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 penalty on the weights (`wd/2 ‖W‖²`, biases excluded), used as it is when
    /// `weight_decay_grid` is empty.
    pub weight_decay: f64,
    /// Candidate L2 penalties: when non-empty, the one with the best accuracy on `select_fraction` of
    /// the training features (fitted on the rest) is used for the final fit on all of them; ties go to
    /// the larger penalty.
    pub weight_decay_grid: Vec<f64>,
    /// Share of the training features held out to choose from `weight_decay_grid`, in (0, 0.5].
    pub select_fraction: f64,
    /// Mini-batch size for Adam; 0 = full batch.
    pub batch_size: usize,
    /// Standardise features with the training split's mean and std.
    pub standardize: bool,
    /// Seed of the initialisation, the selection split and the mini-batch order.
    pub seed: u64,
}

/// The L2 penalties the default probe chooses from (a decade apart, as CLIP's coarse sweep).
pub const DEFAULT_WEIGHT_DECAY_GRID: [f64; 6] = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0];

impl Default for LinearProbeConfig {
    fn default() -> Self {
        LinearProbeConfig {
            optimizer: ProbeOptimizer::Lbfgs,
            epochs: 300,
            lr: 1e-2,
            weight_decay: 1e-4,
            weight_decay_grid: DEFAULT_WEIGHT_DECAY_GRID.to_vec(),
            select_fraction: 0.2,
            batch_size: 0,
            standardize: true,
            seed: 0,
        }
    }
}

impl LinearProbeConfig {
    /// Checks the fields.
    pub fn validate(&self) -> Result<()> {
        use selfsup_core::check;
        check::at_least("probe.epochs", self.epochs, 1)?;
        check::positive("probe.lr", self.lr)?;
        check::non_negative("probe.weight_decay", self.weight_decay)?;
        for wd in &self.weight_decay_grid {
            check::non_negative("probe.weight_decay_grid", *wd)?;
        }
        check::positive("probe.select_fraction", self.select_fraction)?;
        check::in_range("probe.select_fraction", self.select_fraction, 0.0, 0.5)?;
        Ok(())
    }
}

impl std::fmt::Display for LinearProbeConfig {
    /// One line for logs: the optimizer and its length, how the penalty is set, the standardisation.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.optimizer {
            ProbeOptimizer::Lbfgs => write!(f, "full-batch L-BFGS, {} iterations", self.epochs)?,
            ProbeOptimizer::Adam if self.batch_size == 0 => write!(
                f,
                "full-batch Adam, {} epochs at lr {}",
                self.epochs, self.lr
            )?,
            ProbeOptimizer::Adam => write!(
                f,
                "Adam, {} epochs of batches of {} at lr {}",
                self.epochs, self.batch_size, self.lr
            )?,
        }
        if self.weight_decay_grid.is_empty() {
            write!(f, ", weight decay {}", self.weight_decay)?;
        } else {
            write!(
                f,
                ", weight decay chosen from {:?} on {}% of the training rows",
                self.weight_decay_grid,
                self.select_fraction * 100.0
            )?;
        }
        let std = if self.standardize {
            "standardised"
        } else {
            "raw"
        };
        write!(f, ", {std} features")
    }
}

/// What a probe or fine-tune reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Accuracy on the training split.
    pub train_acc: f64,
    /// Accuracy on the test split.
    pub test_acc: f64,
    /// Final training loss (cross-entropy + penalty).
    pub final_loss: f64,
}

fn standardizer(x: &Tensor) -> Result<(Tensor, Tensor)> {
    let mean = x.f_mean_dim([0i64].as_slice(), true, Kind::Float)?;
    let std = x
        .f_std_dim([0i64].as_slice(), false, true)?
        .f_clamp_min(1e-6)?;
    Ok((mean, std))
}

/// Trains a linear classifier on frozen features `train_x` (`N×D`) / `train_y` (`N`) and reports its
/// accuracy on both splits. With a `weight_decay_grid`, the penalty is first chosen on a keyed part of
/// the training split ([`select_weight_decay`]).
pub fn linear_probe(
    train_x: &Tensor,
    train_y: &Tensor,
    test_x: &Tensor,
    test_y: &Tensor,
    num_classes: i64,
    cfg: &LinearProbeConfig,
) -> Result<ProbeResult> {
    cfg.validate()?;
    check_xy("probe train split", train_x, train_y)?;
    check_xy("probe test split", test_x, test_y)?;
    let device = train_x.device();
    let tx = train_x.f_to_kind(Kind::Float)?.f_detach()?;
    let vx = test_x
        .f_to_kind(Kind::Float)?
        .f_to_device(device)?
        .f_detach()?;
    let ty = train_y.f_to_kind(Kind::Int64)?.f_to_device(device)?;
    let vy = test_y.f_to_kind(Kind::Int64)?.f_to_device(device)?;
    let wd = select_weight_decay(&tx, &ty, num_classes, cfg)?;
    let (head, tx, vx) = fit_probe(&tx, &ty, &vx, num_classes, cfg, wd)?;
    let _g = tch::no_grad_guard();
    let final_loss = probe_loss(&head, &tx, &ty, wd)?.f_double_value(&[])?;
    let train_acc = accuracy(&head.forward(&tx).f_argmax(1, false)?, &ty)?;
    let test_acc = accuracy(&head.forward(&vx).f_argmax(1, false)?, &vy)?;
    Ok(ProbeResult {
        train_acc,
        test_acc,
        final_loss,
    })
}

/// The L2 penalty of the final probe: `cfg.weight_decay` without a grid (or with fewer than 10
/// training rows); otherwise the grid value whose probe, fitted on all but a keyed `select_fraction`
/// of the training rows, classifies that held-out part best (ties: the larger penalty).
pub fn select_weight_decay(
    x: &Tensor,
    y: &Tensor,
    num_classes: i64,
    cfg: &LinearProbeConfig,
) -> Result<f64> {
    let n = x.size()[0];
    let held = ((n as f64) * cfg.select_fraction).floor() as i64;
    if cfg.weight_decay_grid.is_empty() || n < 10 || held < 1 {
        return Ok(cfg.weight_decay);
    }
    let mut rng = selfsup_core::Generator::from_domain("linear_probe_select", &[cfg.seed]);
    let perm = host_permutation(&mut rng, n, x.device())?;
    let (fit_idx, sel_idx) = (
        perm.f_narrow(0, held, n - held)?,
        perm.f_narrow(0, 0, held)?,
    );
    let (fx, fy) = (
        x.f_index_select(0, &fit_idx)?,
        y.f_index_select(0, &fit_idx)?,
    );
    let (sx, sy) = (
        x.f_index_select(0, &sel_idx)?,
        y.f_index_select(0, &sel_idx)?,
    );
    let mut best = (f64::NEG_INFINITY, cfg.weight_decay);
    for &wd in &cfg.weight_decay_grid {
        let (head, _, sx) = fit_probe(&fx, &fy, &sx, num_classes, cfg, wd)?;
        let acc = {
            let _g = tch::no_grad_guard();
            accuracy(&head.forward(&sx).f_argmax(1, false)?, &sy)?
        };
        tracing::debug!(
            weight_decay = wd,
            accuracy = acc,
            "linear probe: penalty selection"
        );
        if acc > best.0 || (acc == best.0 && wd > best.1) {
            best = (acc, wd);
        }
    }
    tracing::info!(
        "linear probe: weight decay {} chosen on {held} of {n} training rows (accuracy {:.4} there)",
        best.1,
        best.0
    );
    Ok(best.1)
}

/// Cross-entropy of `head` on (`x`, `y`) plus `wd/2 ‖W‖²`.
fn probe_loss(head: &nn::Linear, x: &Tensor, y: &Tensor, wd: f64) -> Result<Tensor> {
    let ce = head.forward(x).cross_entropy_for_logits(y);
    if wd <= 0.0 {
        return Ok(ce);
    }
    let penalty = head
        .ws
        .f_square()?
        .f_sum(Kind::Float)?
        .f_mul_scalar(wd / 2.0)?;
    Ok(ce.f_add(&penalty)?)
}

/// Fits one probe at penalty `wd` on (`x`, `y`); returns it with `x` and `other` standardised as it
/// saw them (when `cfg.standardize`). The head's initialisation and the mini-batch order come from a
/// generator keyed by the seed, on the host: the result does not depend on what ran before.
fn fit_probe(
    x: &Tensor,
    y: &Tensor,
    other: &Tensor,
    num_classes: i64,
    cfg: &LinearProbeConfig,
    wd: f64,
) -> Result<(nn::Linear, Tensor, Tensor)> {
    let (tx, ox) = {
        let _g = tch::no_grad_guard();
        if cfg.standardize {
            let (m, s) = standardizer(x)?;
            (x.f_sub(&m)?.f_div(&s)?, other.f_sub(&m)?.f_div(&s)?)
        } else {
            (x.shallow_clone(), other.shallow_clone())
        }
    };
    let mut rng = selfsup_core::Generator::from_domain("linear_probe", &[cfg.seed]);
    let vs = VarStore::new(x.device());
    let d = tx.size()[1];
    let head = selfsup_nn::layers::linear_keyed(vs.root() / "fc", d, num_classes, true, &mut rng)?;
    match cfg.optimizer {
        ProbeOptimizer::Adam => fit_adam(&vs, &head, &tx, y, cfg, wd, &mut rng)?,
        ProbeOptimizer::Lbfgs => {
            let params: Vec<Tensor> = {
                let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                v.into_iter().map(|(_, t)| t).collect()
            };
            lbfgs(&params, cfg.epochs, 10, || probe_loss(&head, &tx, y, wd))?;
        }
    }
    Ok((head, tx, ox))
}

/// `cfg.epochs` epochs of Adam on `head`, full batch or mini-batches in a keyed order.
fn fit_adam(
    vs: &VarStore,
    head: &nn::Linear,
    x: &Tensor,
    y: &Tensor,
    cfg: &LinearProbeConfig,
    wd: f64,
    rng: &mut selfsup_core::Generator,
) -> Result<()> {
    let mut opt = Optimizer::new(
        vs,
        &OptimizerConfig {
            kind: OptimizerKind::Adam,
            lr: cfg.lr,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let n = x.size()[0];
    let bs = if cfg.batch_size == 0 {
        n
    } else {
        cfg.batch_size as i64
    };
    for _ in 0..cfg.epochs {
        check_stop("the linear probe")?;
        let perm = if bs >= n {
            None
        } else {
            Some(host_permutation(rng, n, x.device())?)
        };
        let mut s = 0;
        while s < n {
            let e = (s + bs).min(n);
            let (xb, yb) = match &perm {
                None => (x.shallow_clone(), y.shallow_clone()),
                Some(p) => {
                    let idx = p.f_narrow(0, s, e - s)?;
                    (x.f_index_select(0, &idx)?, y.f_index_select(0, &idx)?)
                }
            };
            opt.zero_grad();
            probe_loss(head, &xb, &yb, wd)?.f_backward()?;
            opt.step(cfg.lr)?;
            s = e;
        }
    }
    Ok(())
}

/// A permutation of `0..n` drawn from `rng` on the host, as an int64 tensor on `device`.
fn host_permutation(rng: &mut selfsup_core::Generator, n: i64, device: Device) -> Result<Tensor> {
    let p: Vec<i64> = rng
        .permutation(n.max(0) as usize)
        .into_iter()
        .map(|i| i as i64)
        .collect();
    Ok(Tensor::from_slice(&p).f_to_device(device)?)
}

fn flat_grad(params: &[Tensor]) -> Result<Tensor> {
    let gs = params
        .iter()
        .map(|p| {
            let g = p.grad();
            if g.defined() {
                Ok(g.f_flatten(0, -1)?)
            } else {
                Ok(p.f_zeros_like()?.f_flatten(0, -1)?)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Tensor::f_cat(&gs, 0)?.f_to_kind(Kind::Double)?)
}

fn add_flat(params: &[Tensor], dir: &Tensor, alpha: f64) -> Result<()> {
    let _g = tch::no_grad_guard();
    let mut off = 0;
    for p in params {
        let n = p.numel() as i64;
        let d = dir.f_narrow(0, off, n)?.f_view_as(p)?.f_to_kind(p.kind())?;
        let mut p = p.shallow_clone();
        let _ = p.f_add_(&d.f_mul_scalar(alpha)?)?;
        off += n;
    }
    Ok(())
}

fn dot(a: &Tensor, b: &Tensor) -> Result<f64> {
    Ok(a.f_dot(b)?.f_double_value(&[])?)
}

/// Minimises `closure()` over `params` with L-BFGS (two-loop recursion, `history` pairs, Armijo
/// backtracking from step 1). Stops after `iters` iterations or when the gradient vanishes.
fn lbfgs(
    params: &[Tensor],
    iters: usize,
    history: usize,
    mut closure: impl FnMut() -> Result<Tensor>,
) -> Result<()> {
    let mut eval = |params: &[Tensor]| -> Result<(f64, Tensor)> {
        for p in params {
            let mut p = p.shallow_clone();
            p.zero_grad();
        }
        let l = closure()?;
        l.f_backward()?;
        Ok((l.f_double_value(&[])?, flat_grad(params)?))
    };
    let (mut f, mut g) = eval(params)?;
    let mut s_hist: Vec<Tensor> = Vec::new();
    let mut y_hist: Vec<Tensor> = Vec::new();
    for _ in 0..iters {
        check_stop("the linear probe")?;
        if g.f_abs()?.f_max()?.f_double_value(&[])? < 1e-9 {
            break;
        }
        // Two-loop recursion: d = -H g.
        let mut q = g.f_neg()?;
        let mut alphas = Vec::with_capacity(s_hist.len());
        for (s, y) in s_hist.iter().zip(&y_hist).rev() {
            let rho = 1.0 / dot(y, s)?;
            let a = rho * dot(s, &q)?;
            q = q.f_sub(&y.f_mul_scalar(a)?)?;
            alphas.push((a, rho));
        }
        if let (Some(s), Some(y)) = (s_hist.last(), y_hist.last()) {
            q = q.f_mul_scalar(dot(s, y)? / dot(y, y)?)?;
        } else {
            let gn = g.f_norm()?.f_double_value(&[])?;
            q = q.f_mul_scalar(1.0 / gn.max(1.0))?;
        }
        for ((s, y), (a, rho)) in s_hist.iter().zip(&y_hist).zip(alphas.into_iter().rev()) {
            let b = rho * dot(y, &q)?;
            q = q.f_add(&s.f_mul_scalar(a - b)?)?;
        }
        let mut d = q;
        let mut gd = dot(&g, &d)?;
        if gd >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            d = g.f_neg()?;
            gd = dot(&g, &d)?;
        }
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            add_flat(params, &d, t)?;
            let (f2, g2) = eval(params)?;
            if f2.is_finite() && f2 <= f + 1e-4 * t * gd {
                accepted = Some((f2, g2));
                break;
            }
            add_flat(params, &d, -t)?;
            t *= 0.5;
        }
        let Some((f2, g2)) = accepted else { break };
        let s = d.f_mul_scalar(t)?;
        let y = g2.f_sub(&g)?;
        if dot(&s, &y)? > 1e-10 {
            s_hist.push(s);
            y_hist.push(y);
            if s_hist.len() > history {
                let _ = s_hist.remove(0);
                let _ = y_hist.remove(0);
            }
        }
        let done = (f - f2).abs() < 1e-12;
        f = f2;
        g = g2;
        if done {
            break;
        }
    }
    Ok(())
}

/// Fine-tuning settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinetuneConfig {
    /// Epochs over the training split.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Optimizer of encoder and head.
    pub optimizer: OptimizerConfig,
    /// Seed of the head initialisation and batch order.
    pub seed: u64,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        FinetuneConfig {
            epochs: 10,
            batch_size: 128,
            optimizer: OptimizerConfig {
                kind: OptimizerKind::Adam,
                lr: 1e-3,
                ..Default::default()
            },
            seed: 0,
        }
    }
}

/// Fine-tunes an encoder (its trainable variables in `encoder_vs`, its forward pass `encode(x, train)`
/// giving `N × feat_dim`) together with a new linear head on labelled arrays; reports accuracies.
pub fn finetune(
    encoder_vs: &VarStore,
    encode: &dyn Fn(&Tensor, bool) -> Tensor,
    feat_dim: i64,
    train: (&Tensor, &Tensor),
    test: (&Tensor, &Tensor),
    num_classes: i64,
    cfg: &FinetuneConfig,
) -> Result<ProbeResult> {
    selfsup_core::check::at_least("finetune.epochs", cfg.epochs, 1)?;
    selfsup_core::check::at_least("finetune.batch_size", cfg.batch_size, 1)?;
    check_xy("finetune train split", &train.0.f_flatten(1, -1)?, train.1)?;
    let device = encoder_vs.device();
    // The head's init and the batch order from a keyed host generator (see `linear_probe`).
    let mut rng = selfsup_core::Generator::from_domain("finetune", &[cfg.seed]);
    let head_vs = VarStore::new(device);
    let head = selfsup_nn::layers::linear_keyed(
        head_vs.root() / "head",
        feat_dim,
        num_classes,
        true,
        &mut rng,
    )?;
    let mut params: Vec<(String, Tensor)> = encoder_vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .map(|(n, t)| (format!("encoder.{n}"), t))
        .collect();
    params.extend(head_vs.variables());
    let mut opt = Optimizer::from_params(params, &cfg.optimizer)?;
    let (x, y) = (
        train.0.f_to_device(device)?,
        train.1.f_to_device(device)?.f_to_kind(Kind::Int64)?,
    );
    let n = x.size()[0];
    let bs = cfg.batch_size as i64;
    let mut last = f64::NAN;
    for _ in 0..cfg.epochs {
        check_stop("fine-tuning")?;
        let perm = host_permutation(&mut rng, n, device)?;
        let mut s = 0;
        while s < n {
            let e = (s + bs).min(n);
            let idx = perm.f_narrow(0, s, e - s)?;
            opt.zero_grad();
            let logits = head.forward(&encode(&x.f_index_select(0, &idx)?, true));
            let loss = logits.cross_entropy_for_logits(&y.f_index_select(0, &idx)?);
            loss.f_backward()?;
            last = loss.f_double_value(&[])?;
            opt.step(cfg.optimizer.lr)?;
            s = e;
        }
    }
    let _g = tch::no_grad_guard();
    let predict = |x: &Tensor| -> Result<Tensor> {
        let n = x.size()[0];
        let mut out = Vec::new();
        let mut s = 0;
        while s < n {
            let e = (s + bs).min(n);
            out.push(
                head.forward(&encode(&x.f_narrow(0, s, e - s)?, false))
                    .f_argmax(1, false)?,
            );
            s = e;
        }
        Ok(Tensor::f_cat(&out, 0)?)
    };
    let train_acc = accuracy(&predict(&x)?, &y)?;
    let test_acc = accuracy(&predict(&test.0.f_to_device(device)?)?, test.1)?;
    Ok(ProbeResult {
        train_acc,
        test_acc,
        final_loss: last,
    })
}

/// A linear classifier trained alongside pretraining on detached features (the "online" probe of
/// solo-learn/lightly): it measures representation quality as the run goes without touching the
/// encoder's gradients.
#[derive(Debug)]
pub struct OnlineProbe {
    vs: VarStore,
    head: nn::Linear,
    opt: Optimizer,
}

impl OnlineProbe {
    /// A probe from `feat_dim` features to `num_classes`, trained with Adam at `lr`, initialised
    /// from seed 0 (see [`OnlineProbe::seeded`]).
    pub fn new(device: Device, feat_dim: i64, num_classes: i64, lr: f64) -> Result<Self> {
        Self::seeded(device, feat_dim, num_classes, lr, 0)
    }

    /// [`OnlineProbe::new`] with its initial weights drawn from a host generator keyed by `seed`:
    /// the same probe whatever ran before, and libtorch's global generator is left alone.
    pub fn seeded(
        device: Device,
        feat_dim: i64,
        num_classes: i64,
        lr: f64,
        seed: u64,
    ) -> Result<Self> {
        let mut rng = selfsup_core::Generator::from_domain("online_probe", &[seed]);
        let vs = VarStore::new(device);
        let head = selfsup_nn::layers::linear_keyed(
            vs.root() / "online_probe",
            feat_dim,
            num_classes,
            true,
            &mut rng,
        )?;
        let opt = Optimizer::new(
            &vs,
            &OptimizerConfig {
                kind: OptimizerKind::Adam,
                lr,
                ..Default::default()
            },
        )?;
        Ok(OnlineProbe { vs, head, opt })
    }

    /// One update on `feats` (detached here) and `labels`; returns `(loss, batch accuracy)`.
    pub fn update(&mut self, feats: &Tensor, labels: &Tensor) -> Result<(f64, f64)> {
        let f = feats.f_detach()?.f_to_kind(Kind::Float)?;
        let y = labels.f_to_kind(Kind::Int64)?;
        self.opt.zero_grad();
        let logits = self.head.forward(&f);
        let loss = logits.cross_entropy_for_logits(&y);
        loss.f_backward()?;
        let lr = self.opt.config().lr;
        self.opt.step(lr)?;
        let acc = accuracy(&logits.f_argmax(1, false)?, &y)?;
        Ok((loss.f_double_value(&[])?, acc))
    }

    /// The probe's variables.
    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }

    /// Weights and optimizer state as named tensors (`probe/model/...`, `probe/optim/...`) for
    /// checkpoints.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .map(|(n, t)| (format!("probe/model/{n}"), t))
            .collect();
        v.extend(
            self.opt
                .state_tensors()
                .into_iter()
                .map(|(n, t)| (format!("probe/optim/{n}"), t)),
        );
        v
    }

    /// Restores what [`OnlineProbe::state_tensors`] saved (from a checkpoint's `other` tensors).
    pub fn load_state(
        &mut self,
        path: &Path,
        other: &std::collections::HashMap<String, Tensor>,
    ) -> Result<()> {
        let model: std::collections::HashMap<String, Tensor> = other
            .iter()
            .filter_map(|(k, t)| {
                k.strip_prefix("probe/model/")
                    .map(|n| (n.to_string(), t.shallow_clone()))
            })
            .collect();
        if model.is_empty() {
            return Err(Error::ckpt(
                path,
                "has no online-probe state (`probe/model/...`)",
            ));
        }
        crate::checkpoint::load_into_var_store(path, &model, &mut self.vs)?;
        let optim: std::collections::HashMap<String, Tensor> = other
            .iter()
            .filter_map(|(k, t)| {
                k.strip_prefix("probe/optim/")
                    .map(|n| (n.to_string(), t.shallow_clone()))
            })
            .collect();
        let steps = self.opt.steps();
        self.opt
            .load_state(optim, steps)
            .map_err(|e| Error::ckpt(path, e.to_string()))
    }
}

/// Guards against a class count that does not cover the labels.
pub fn num_classes_of(labels: &Tensor) -> Result<i64> {
    if labels.numel() == 0 {
        return Err(Error::Core(selfsup_core::Error::Other(
            "no labels: kNN and probes need a labelled split".into(),
        )));
    }
    Ok(labels.f_max()?.f_int64_value(&[])? + 1)
}

/// Features of every batch of one pass over `source` (epoch 0, view 0), labelled or not, streamed
/// batch by batch through `method.embed`: `(N × D features on the CPU, labels when every batch has
/// them)`. `on_batch(samples done)` is called after each batch (a progress bar). Each batch is
/// dropped once encoded, so memory holds the features and the batches in flight, never the split.
pub fn embed_all(
    method: &dyn Method,
    source: &dyn BatchSource,
    on_batch: &mut dyn FnMut(usize),
) -> Result<(Tensor, Option<Tensor>)> {
    let device = method.var_store().device();
    let (mut feats, mut labels) = (Vec::new(), Some(Vec::new()));
    let mut done = 0;
    for hb in source.epoch_from(0, 0) {
        check_stop("embedding")?;
        let hb = hb?;
        match (&hb.labels, labels.as_mut()) {
            (Some(y), Some(l)) => l.push(Tensor::from_slice(y.as_slice().unwrap_or(&y.to_vec()))),
            _ => labels = None,
        }
        let b = selfsup_nn::host_to_device(&hb, device)?;
        let x = b.views.first().ok_or_else(|| {
            selfsup_core::Error::shape("a batch to embed has no views".to_string())
        })?;
        feats.push(method.embed(x)?.f_to_device(Device::Cpu)?);
        done += hb.len();
        // Dropped, not recycled: a loader kept for the next evaluation holds no batch buffers in
        // between (its pool would keep a few full batches alive for the whole run).
        drop(hb);
        on_batch(done);
    }
    if feats.is_empty() {
        return Ok((
            Tensor::f_zeros([0, method.embed_dim()], (Kind::Float, Device::Cpu))?,
            None,
        ));
    }
    let labels = match labels {
        Some(l) => Some(Tensor::f_cat(&l, 0)?),
        None => None,
    };
    Ok((Tensor::f_cat(&feats, 0)?, labels))
}

/// Features and labels of every batch of one pass over `source` (epoch 0, view 0), streamed batch by
/// batch through `method.embed`: `(N × D features on the CPU, N labels)`. Only the features are kept,
/// never the inputs, so memory grows with `N × D` alone. Batches without labels are an error.
pub fn embed_source(method: &dyn Method, source: &dyn BatchSource) -> Result<(Tensor, Tensor)> {
    let (feats, labels) = embed_all(method, source, &mut |_| {})?;
    match labels {
        Some(l) => Ok((feats, l)),
        None if feats.size()[0] == 0 => {
            Ok((feats, Tensor::f_zeros([0], (Kind::Int64, Device::Cpu))?))
        }
        None => Err(selfsup_core::Error::config(
            "data",
            "evaluation needs labelled batches; these have none",
        )
        .into()),
    }
}

/// Weighted kNN accuracy of `query` against `bank`, both streamed batch by batch through
/// `method.embed` ([`embed_source`]): memory grows with the `N × D` features alone, whatever the size
/// of the inputs. Labels come with the batches.
pub fn knn_accuracy_streamed(
    method: &dyn Method,
    bank: &dyn BatchSource,
    query: &dyn BatchSource,
    num_classes: i64,
    cfg: &KnnConfig,
) -> Result<f64> {
    cfg.validate()?;
    let (bx, by) = embed_source(method, bank)?;
    let (qx, qy) = embed_source(method, query)?;
    knn_accuracy(&bx, &by, &qx, &qy, num_classes, cfg)
}

/// Weighted kNN accuracy and a linear probe (trained on the bank's features, tested on the
/// queries'), with both splits streamed batch by batch through `method.embed` ([`embed_source`]):
/// each split is encoded once, and only its `N × D` features are held.
pub fn knn_and_probe_streamed(
    method: &dyn Method,
    bank: &dyn BatchSource,
    query: &dyn BatchSource,
    num_classes: i64,
    knn: &KnnConfig,
    probe: &LinearProbeConfig,
) -> Result<(f64, ProbeResult)> {
    knn.validate()?;
    probe.validate()?;
    let (bx, by) = embed_source(method, bank)?;
    let (qx, qy) = embed_source(method, query)?;
    let k = knn_accuracy(&bx, &by, &qx, &qy, num_classes, knn)?;
    let p = linear_probe(&bx, &by, &qx, &qy, num_classes, probe)?;
    Ok((k, p))
}
