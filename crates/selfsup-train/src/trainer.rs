//! The training loop: [`Trainer`] drives one [`Method`] over a [`BatchSource`].
//!
//! One *step* is one optimizer step. Per step the trainer: re-seeds torch's global generator from
//! `(seed, step)` (so dropout or masks drawn on tensors replay exactly after a resume), zeroes the
//! gradients, runs `grad_accum` micro-batches (`method.step`, NaN/Inf check, `backward` of
//! `loss / grad_accum`), measures — and optionally clips — the global gradient norm, sets the
//! scheduled LR, applies the optimizer, calls `method.after_optimizer_step` (EMA, queues), then logs
//! and checkpoints. Micro-batches left over at the end of an epoch (fewer than `grad_accum`) are skipped.
//!
//! Exact resume: a checkpoint stores the position `(epoch, step_in_epoch)`; the run restarts that epoch
//! at micro-batch `step_in_epoch × grad_accum` through [`BatchSource::epoch_from`], which must replay the
//! same batches an uninterrupted epoch would have produced (the selfsup loader does).
//!
//! Stopping: a stop flag (set by [`install_ctrlc_handler`] on Ctrl-C or SIGTERM) is checked before every step; when
//! set, the trainer writes a checkpoint and returns [`Outcome::Interrupted`]. A non-finite loss or
//! gradient norm returns [`Error::NonFinite`] naming the step, without writing anything, so the last
//! good checkpoint stays the newest; so does a parameter, buffer (BatchNorm statistics) or optimizer
//! state that is not finite when a checkpoint is due ([`Error::NonFiniteState`], checked before
//! every checkpoint write).

use crate::checkpoint::{self, Checkpoint, Checkpointer, RunState, FORMAT_VERSION};
use crate::config::{ProgressMode, TrainConfig};
use crate::metrics::MetricsWriter;
use crate::optim::Optimizer;
use crate::schedule::LrSchedule;
use crate::{Error, Result};
use selfsup_core::BatchSource;
use crate::data_parallel as dp;
use selfsup_nn::{host_to_device, Collectives, Method, StepInfo};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tch::Device;

/// One optimizer step's record.
#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    /// Global step (0-based) of this update.
    pub step: u64,
    /// Epoch (0-based).
    pub epoch: u64,
    /// Mean loss over the micro-batches.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// The method's named scalars (means over the micro-batches).
    pub scalars: Vec<(String, f64)>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// All epochs done.
    Finished,
    /// Stopped on request after writing this checkpoint (when the run has a folder).
    Interrupted {
        /// The checkpoint written, if any.
        checkpoint: Option<PathBuf>,
        /// Steps completed.
        step: u64,
    },
}

/// An evaluation run at the end of epochs: gets the method and the epoch just finished (1-based count
/// of epochs done), returns named values (e.g. `("knn_acc", 0.91)`). The first value is the monitored
/// one for the best checkpoint (higher is better, unless [`Trainer::monitor_lower`] was set); with an
/// evaluation, epochs that skip it (see `eval_every`) do not change the best checkpoint. Without one,
/// the mean epoch loss is monitored. The method is mutable because [`Method::evaluate`] is; an
/// evaluation must leave the weights alone.
pub type EpochEval<'a> = Box<dyn FnMut(&mut dyn Method, u64) -> Result<Vec<(String, f64)>> + 'a>;

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs a handler for Ctrl-C (SIGINT), SIGTERM (what schedulers, `docker stop` and systemd send)
/// and SIGHUP, once per process, and returns the flag it sets. The first signal asks the trainer to
/// checkpoint and stop after the current step, and makes [`stop_requested`] true, which the
/// evaluations of [`crate::eval`] check between chunks and epochs (they then return
/// [`Error::Interrupted`]). A second signal ends the process at once with status 130 (see
/// [`exit_now`]): the newest complete checkpoint stays the newest, and a temporary file of a write
/// cut short is removed by the next run's start.
pub fn install_ctrlc_handler() -> Result<Arc<AtomicBool>> {
    if let Some(f) = STOP.get() {
        return Ok(f.clone());
    }
    let flag = Arc::new(AtomicBool::new(false));
    let f2 = flag.clone();
    ctrlc::set_handler(move || {
        if f2.swap(true, Ordering::SeqCst) {
            exit_now(130);
        }
        tracing::warn!("interrupted (Ctrl-C or SIGTERM): stopping after the current step with a checkpoint, or at once during an evaluation; send it again to quit now");
    })
    .map_err(|e| selfsup_core::Error::Other(format!("cannot install the Ctrl-C handler: {e}")))?;
    let _ = STOP.set(flag.clone());
    Ok(STOP.get().cloned().unwrap_or(flag))
}

/// Whether the handler of [`install_ctrlc_handler`] has seen a signal (false when it is not installed).
pub fn stop_requested() -> bool {
    STOP.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// Ends the process now with `code`, from any thread: flushes stdout and stderr, then calls
/// `_exit(2)`.
///
/// Why not `std::process::exit`: it runs the `atexit` handlers and C++ static destructors of
/// libtorch on the calling thread while the main thread (and libtorch's pool) may still be inside
/// libtorch operations, which crashed with SIGSEGV or a libtorch panic in 10 of 13 double Ctrl-Cs.
/// `_exit` skips them and ends every thread at once; nothing of the run is lost by that, because
/// checkpoints and metrics are written atomically (temporary file, fsync, rename) or line by line.
pub fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` takes no pointers, cannot fail and does not return; it is async-signal-safe,
    // so it is sound from any thread at any time.
    #[allow(unsafe_code)]
    unsafe {
        libc::_exit(code)
    }
}

/// The file of the run folder that records libtorch's thread counts.
pub const THREADS_FILE: &str = "threads.json";

/// Records libtorch's intra-op and inter-op thread counts in `threads.json` of the run folder. A
/// run's numbers are bit-identical for any rayon thread count (the data side), but libtorch's CPU
/// kernels split reductions by its intra-op thread count, so a run replays bit for bit only with the
/// same count (`OMP_NUM_THREADS`, or `tch::set_num_threads`): on a resume with another count this
/// warns, naming both.
pub fn record_threads(dir: &Path, resumed: bool) -> Result<()> {
    let path = dir.join(THREADS_FILE);
    let now = tch::get_num_threads();
    if resumed {
        let before = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("torch_intra_op_threads")?.as_i64());
        if let Some(b) = before.filter(|&b| b != i64::from(now)) {
            tracing::warn!(
                "libtorch ran with {b} intra-op thread(s) before this resume and runs with {now} now: the resumed run will not be bit-identical to an uninterrupted one (set OMP_NUM_THREADS={b} to replay exactly)"
            );
        }
    }
    let v = serde_json::json!({
        "torch_intra_op_threads": now,
        "torch_interop_threads": tch::get_num_interop_threads(),
        "guarantee": "bit-identical for any rayon (data) thread count; bit-identical across libtorch intra-op thread counts is not guaranteed",
    });
    checkpoint::write_atomic(&path, v.to_string().as_bytes())
}

/// How many step records [`Trainer::history`] keeps at least (at most twice as many), by default.
pub const DEFAULT_HISTORY_LIMIT: usize = 10_000;

/// The torch seed of step `step`: a SplitMix64 hash of `(seed, step)`.
pub fn step_seed(seed: u64, step: u64) -> i64 {
    let mut z = seed ^ step.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 1) as i64
}

/// The training loop over one method.
pub struct Trainer<'a> {
    cfg: TrainConfig,
    method: Box<dyn Method>,
    opt: Optimizer,
    device: Device,
    run_dir: Option<PathBuf>,
    ckpt: Option<Checkpointer>,
    step: u64,
    epoch: u64,
    step_in_epoch: u64,
    epoch_loss_sum: f64,
    best: Option<(String, f64)>,
    stop: Option<Arc<AtomicBool>>,
    stop_at_step: Option<u64>,
    epoch_eval: Option<EpochEval<'a>>,
    eval_every: u64,
    monitor_lower: bool,
    history: Vec<StepRecord>,
    history_limit: usize,
    epoch_scalars: Option<(u64, Vec<(String, f64, usize)>)>,
    extra: serde_json::Value,
    config_toml: Option<String>,
    last_checkpoint: Option<PathBuf>,
    resumed: bool,
    probe: Option<crate::eval::OnlineProbe>,
    collectives: Option<Arc<dyn Collectives>>,
}

impl<'a> Trainer<'a> {
    /// A trainer for `method` with `cfg`; `run_dir` (created if needed) receives checkpoints, metrics,
    /// plots and `config.toml`. Without a run folder nothing is written.
    pub fn new(method: Box<dyn Method>, cfg: TrainConfig, run_dir: Option<&Path>) -> Result<Self> {
        cfg.validate()?;
        let device = selfsup_nn::parse_device(&cfg.device)?;
        let mdev = method.var_store().device();
        if mdev != device {
            return Err(selfsup_core::Error::config(
                "train.device",
                format!("is {device:?} but the method was built on {mdev:?}; build it on the same device"),
            )
            .into());
        }
        let opt = Optimizer::new(method.var_store(), &cfg.optimizer)?;
        let ckpt = match run_dir {
            Some(d) => Some(Checkpointer::new(
                d.join("checkpoints"),
                cfg.checkpoint.keep_last,
            )?),
            None => None,
        };
        Ok(Trainer {
            cfg,
            method,
            opt,
            device,
            run_dir: run_dir.map(Path::to_path_buf),
            ckpt,
            step: 0,
            epoch: 0,
            step_in_epoch: 0,
            epoch_loss_sum: 0.0,
            best: None,
            stop: None,
            stop_at_step: None,
            epoch_eval: None,
            eval_every: 1,
            monitor_lower: false,
            history: Vec::new(),
            history_limit: DEFAULT_HISTORY_LIMIT,
            epoch_scalars: None,
            extra: serde_json::Value::Null,
            config_toml: None,
            last_checkpoint: None,
            resumed: false,
            probe: None,
            collectives: None,
        })
    }

    /// The flag that asks the run to checkpoint and stop (see [`install_ctrlc_handler`]).
    pub fn with_stop_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// Stops (checkpointing) once `step` steps are done, as a Ctrl-C would: for tests and time-boxed runs.
    pub fn stop_at_step(mut self, step: u64) -> Self {
        self.stop_at_step = Some(step);
        self
    }

    /// Trains data-parallel with the other ranks of `collectives` (see [`crate::data_parallel`]):
    /// the method gets them ([`Method::set_collectives`]), parameters are broadcast from rank 0 when
    /// a run starts, gradients are reduced after backward as the method declares
    /// ([`Method::data_parallel`]), only rank 0 writes the run folder and evaluates. The source must
    /// give each rank its shard of the global batches (`selfsup_data::Loader::with_shard`).
    pub fn with_collectives(mut self, collectives: Arc<dyn Collectives>) -> Self {
        self.method.set_collectives(collectives.clone());
        self.collectives = Some(collectives);
        self
    }

    /// The number of ranks training together (1 without collectives).
    pub fn world_size(&self) -> usize {
        self.collectives.as_ref().map_or(1, |c| c.world_size())
    }

    /// The schedule's peak learning rate: `optimizer.lr` scaled by the global batch as
    /// `lr_scaling` asks.
    fn peak_lr(&self, source: &dyn BatchSource) -> Result<f64> {
        let lr = self.cfg.optimizer.lr;
        if self.cfg.lr_scaling == crate::config::LrScaling::None {
            return Ok(lr);
        }
        let b = source.batch_size().ok_or_else(|| {
            selfsup_core::Error::config(
                "train.lr_scaling",
                "needs batches of one size (a loader with drop_last = true); use `none`",
            )
        })?;
        let global = b * self.cfg.grad_accum as usize * self.world_size();
        let peak = self
            .cfg
            .lr_scaling
            .scale(lr, global, self.cfg.lr_reference_batch);
        tracing::info!(
            global_batch = global,
            lr,
            peak_lr = peak,
            "learning rate scaled by the global batch ({:?})",
            self.cfg.lr_scaling
        );
        Ok(peak)
    }

    fn is_writer(&self) -> bool {
        dp::is_writer(self.collectives.as_deref())
    }

    /// Runs `eval` after every `every` epochs (and after the last).
    pub fn with_epoch_eval(mut self, every: u64, eval: EpochEval<'a>) -> Self {
        self.epoch_eval = Some(eval);
        self.eval_every = every.max(1);
        self
    }

    /// The first value of the epoch evaluation is better when lower (a validation loss): the best
    /// checkpoint is the one with the lowest value (monitored as `<name>_neg`, its negation).
    pub fn monitor_lower(mut self) -> Self {
        self.monitor_lower = true;
        self
    }

    /// The caller's full run config: `toml` is written as `config.toml`, `json` goes into checkpoints.
    pub fn with_run_config(mut self, toml: String, json: serde_json::Value) -> Self {
        self.config_toml = Some(toml);
        self.extra = json;
        self
    }

    /// Trains a linear classifier (Adam at `lr`) on the detached `embed` features of view 0 during
    /// pretraining, logging `online_probe_loss` and `online_probe_acc` per step; batches need labels.
    /// Its state is checkpointed with the run.
    pub fn with_online_probe(mut self, num_classes: i64, lr: f64) -> Result<Self> {
        self.probe = Some(crate::eval::OnlineProbe::new(
            self.device,
            self.method.embed_dim(),
            num_classes,
            lr,
        )?);
        Ok(self)
    }

    /// The method.
    pub fn method(&self) -> &dyn Method {
        self.method.as_ref()
    }

    /// The method, mutably.
    pub fn method_mut(&mut self) -> &mut dyn Method {
        self.method.as_mut()
    }

    /// Gives the method back.
    pub fn into_method(self) -> Box<dyn Method> {
        self.method
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &Optimizer {
        &self.opt
    }

    /// Steps completed.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The records of the most recent steps this trainer ran (not those before a resume), oldest
    /// first: at least the last `history_limit` of them and never more than twice as many (see
    /// [`Trainer::with_history_limit`]), so that a long run's memory stays bounded. The full record is
    /// in the run folder's `metrics.jsonl`.
    pub fn history(&self) -> &[StepRecord] {
        &self.history
    }

    /// Keeps at least the last `limit` step records in [`Trainer::history`] (default
    /// [`DEFAULT_HISTORY_LIMIT`]; `0` keeps none).
    pub fn with_history_limit(mut self, limit: usize) -> Self {
        self.history_limit = limit;
        self
    }

    /// The mean of every named scalar of the method (and of the online probe) over the steps of the
    /// newest epoch this trainer ran (the part of it this process ran, when it was resumed or
    /// stopped inside it), in the order they first appeared; empty before the first step.
    /// Independent of the history limit.
    pub fn epoch_scalar_means(&self) -> Vec<(String, f64)> {
        self.epoch_scalars
            .as_ref()
            .map(|(_, v)| {
                v.iter()
                    .map(|(k, s, n)| (k.clone(), s / (*n).max(1) as f64))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn record(&mut self, rec: StepRecord) {
        match &mut self.epoch_scalars {
            Some((e, sums)) if *e == rec.epoch => {
                for (k, v) in &rec.scalars {
                    match sums.iter_mut().find(|(n, _, _)| n == k) {
                        Some((_, s, c)) => {
                            *s += v;
                            *c += 1;
                        }
                        None => sums.push((k.clone(), *v, 1)),
                    }
                }
            }
            _ => {
                self.epoch_scalars = Some((
                    rec.epoch,
                    rec.scalars
                        .iter()
                        .map(|(k, v)| (k.clone(), *v, 1))
                        .collect(),
                ))
            }
        }
        if self.history_limit == 0 {
            return;
        }
        if self.history.len() >= 2 * self.history_limit {
            self.history
                .drain(..self.history.len() - self.history_limit);
        }
        self.history.push(rec);
    }

    /// The last checkpoint written or resumed from.
    pub fn last_checkpoint(&self) -> Option<&Path> {
        self.last_checkpoint.as_deref()
    }

    /// The run folder.
    pub fn run_dir(&self) -> Option<&Path> {
        self.run_dir.as_deref()
    }

    /// Resumes from the newest loadable checkpoint of the run folder. Returns false when there is none.
    pub fn resume(&mut self) -> Result<bool> {
        let Some(ck) = &self.ckpt else {
            return Err(
                selfsup_core::Error::config("resume", "resuming needs a run folder").into(),
            );
        };
        match ck.latest()? {
            Some(c) => {
                self.restore(&c)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Resumes from a given checkpoint file.
    pub fn resume_from(&mut self, path: &Path) -> Result<()> {
        let c = checkpoint::load(path)?;
        self.restore(&c)
    }

    fn restore(&mut self, c: &Checkpoint) -> Result<()> {
        let st = &c.state;
        if st.method != self.method.name() {
            return Err(Error::ckpt(
                &c.path,
                format!(
                    "was written by method `{}`, this run uses `{}`",
                    st.method,
                    self.method.name()
                ),
            ));
        }
        if st.seed != self.cfg.seed {
            tracing::warn!(
                checkpoint_seed = st.seed,
                config_seed = self.cfg.seed,
                "resuming with a different seed: the run will not replay exactly"
            );
        }
        c.restore(self.method.var_store_mut(), Some(&mut self.opt))?;
        if let Some(p) = &mut self.probe {
            p.load_state(&c.path, &c.other)?;
        }
        self.step = st.step;
        self.epoch = st.epoch;
        self.step_in_epoch = st.step_in_epoch;
        self.epoch_loss_sum = self.extra_f64(&c.state, "epoch_loss_sum");
        let world = self.collectives.as_ref().map_or(1, |c| c.world_size());
        let saved = self.extra_f64(&c.state, "world_size").max(1.0) as usize;
        if saved != world {
            tracing::warn!(
                checkpoint_world_size = saved,
                world_size = world,
                "resuming on another number of ranks: exact only if the global batch (ranks × batch_size) is unchanged"
            );
        }
        self.best = st.best.clone();
        self.last_checkpoint = Some(c.path.clone());
        self.resumed = true;
        tracing::info!(path = %c.path.display(), step = st.step, epoch = st.epoch, "resumed");
        Ok(())
    }

    fn extra_f64(&self, st: &RunState, key: &str) -> f64 {
        st.extra
            .get("_trainer")
            .and_then(|t| t.get(key))
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    }

    fn run_state(&self) -> RunState {
        let mut extra = self.extra.clone();
        let world = self.collectives.as_ref().map_or(1, |c| c.world_size());
        let tr = serde_json::json!({ "epoch_loss_sum": self.epoch_loss_sum, "world_size": world });
        match &mut extra {
            serde_json::Value::Object(m) => {
                m.insert("_trainer".into(), tr);
            }
            _ => extra = serde_json::json!({ "run": extra, "_trainer": tr }),
        }
        RunState {
            format: FORMAT_VERSION,
            step: self.step,
            epoch: self.epoch,
            step_in_epoch: self.step_in_epoch,
            seed: self.cfg.seed,
            method: self.method.name().to_string(),
            best: self.best.clone(),
            train: self.cfg.clone(),
            extra,
        }
    }

    /// Every floating-point variable of the method (parameters and buffers such as BatchNorm's
    /// running statistics) and of the optimizer state is finite: checked before a checkpoint is
    /// written, so that the "last good checkpoint" of the NaN guard never holds `inf` or NaN.
    fn check_state_finite(&self) -> Result<()> {
        let mut vars: Vec<(String, tch::Tensor)> =
            self.method.var_store().variables().into_iter().collect();
        vars.extend(
            self.opt
                .state_tensors()
                .into_iter()
                .map(|(n, t)| (format!("optim/{n}"), t)),
        );
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, t) in vars {
            if !matches!(
                t.kind(),
                tch::Kind::Float | tch::Kind::Double | tch::Kind::Half | tch::Kind::BFloat16
            ) {
                continue;
            }
            let finite = tch::no_grad(|| -> Result<bool> {
                Ok(t.f_isfinite()?.f_all()?.f_int64_value(&[])? != 0)
            })?;
            if !finite {
                return Err(Error::NonFiniteState {
                    name,
                    step: self.step,
                    last_checkpoint: self.last_checkpoint.clone(),
                });
            }
        }
        Ok(())
    }

    fn save_checkpoint(&mut self) -> Result<Option<PathBuf>> {
        let Some(ck) = self.ckpt.as_ref().filter(|_| self.is_writer()) else {
            return Ok(None);
        };
        self.check_state_finite()?;
        let extra = self
            .probe
            .as_ref()
            .map(|p| p.state_tensors())
            .unwrap_or_default();
        let p = ck.save(
            self.method.var_store(),
            &self.opt,
            &self.run_state(),
            &extra,
        )?;
        self.last_checkpoint = Some(p.clone());
        Ok(Some(p))
    }

    fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|f| f.load(Ordering::SeqCst))
            || self.stop_at_step.is_some_and(|s| self.step >= s)
    }

    /// Runs (or continues) training to the end, or until a stop is requested.
    pub fn run(&mut self, source: &dyn BatchSource) -> Result<Outcome> {
        let accum = self.cfg.grad_accum;
        let bpe = source.batches_per_epoch() as u64;
        let spe = bpe / accum;
        if spe == 0 {
            return Err(selfsup_core::Error::config(
                "train.grad_accum",
                format!("an epoch has {bpe} batch(es), fewer than grad_accum = {accum}: lower grad_accum or the batch size"),
            )
            .into());
        }
        let epochs = self.cfg.epochs;
        let total = spe * epochs;
        let peak_lr = self.peak_lr(source)?;
        let sched = LrSchedule::new(&self.cfg.schedule, peak_lr, spe, total);
        if let Some(c) = &self.collectives {
            dp::start(c.as_ref(), self.method.as_ref())?;
        }
        let writer = self.is_writer();
        let mut metrics = match self.run_dir.as_ref().filter(|_| writer) {
            Some(d) => {
                let text = match &self.config_toml {
                    Some(t) => t.clone(),
                    None => toml::to_string(&self.cfg).map_err(|e| {
                        selfsup_core::Error::Other(format!("cannot write config.toml: {e}"))
                    })?,
                };
                if !self.resumed || !d.join("config.toml").exists() {
                    checkpoint::write_atomic(&d.join("config.toml"), text.as_bytes())?;
                }
                record_threads(d, self.resumed)?;
                Some(MetricsWriter::open(
                    d,
                    if self.resumed { Some(self.step) } else { None },
                )?)
            }
            None => None,
        };
        let mode = if writer {
            self.cfg.progress
        } else {
            ProgressMode::Off
        };
        let progress = Progress::new(mode, total, self.step);
        let started = Instant::now();
        let start_step = self.step;
        let mut samples_since = 0usize;
        let mut t_since = Instant::now();

        while self.epoch < epochs {
            let epoch = self.epoch;
            let mut it = source.epoch_from(epoch, (self.step_in_epoch * accum) as usize);
            while self.step_in_epoch < spe {
                if dp::agree_stop(self.collectives.as_deref(), self.stop_requested())? {
                    let p = self.save_checkpoint()?;
                    progress.finish();
                    tracing::info!(step = self.step, checkpoint = ?p, "stopped on request");
                    return Ok(Outcome::Interrupted {
                        checkpoint: p,
                        step: self.step,
                    });
                }
                let step = self.step;
                tch::manual_seed(step_seed(self.cfg.seed, step));
                let info = StepInfo {
                    step,
                    total_steps: total,
                    epoch,
                    total_epochs: epochs,
                };
                self.opt.zero_grad();
                let mut loss_sum = 0.0;
                let mut scalars: Vec<(String, f64)> = Vec::new();
                for _ in 0..accum {
                    let hb = it.next().ok_or_else(|| {
                        selfsup_core::Error::Other(format!(
                            "the data source ended early in epoch {epoch}: it promised {bpe} batches"
                        ))
                    })??;
                    samples_since += hb.len();
                    let batch = host_to_device(&hb, self.device)?;
                    source.recycle(hb);
                    let out = self.method.step(&batch, &info)?;
                    let lv = selfsup_nn::bridge::scalar(&out.loss)?;
                    if !lv.is_finite() {
                        progress.finish();
                        return Err(Error::NonFinite {
                            what: "loss",
                            step,
                            value: lv,
                            last_checkpoint: self.last_checkpoint.clone(),
                        });
                    }
                    let l = if accum > 1 {
                        out.loss.f_div_scalar(accum as f64)?
                    } else {
                        out.loss
                    };
                    l.f_backward()?;
                    loss_sum += lv;
                    if let (Some(p), Some(y)) = (&mut self.probe, &batch.labels) {
                        let f = self.method.embed(&batch.views[0])?;
                        let (pl, pa) = p.update(&f, y)?;
                        for (k, v) in [("online_probe_loss", pl), ("online_probe_acc", pa)] {
                            match scalars.iter_mut().find(|(n, _)| n == k) {
                                Some((_, s)) => *s += v / accum as f64,
                                None => scalars.push((k.to_string(), v / accum as f64)),
                            }
                        }
                    }
                    for (k, v) in out.scalars {
                        match scalars.iter_mut().find(|(n, _)| *n == k) {
                            Some((_, s)) => *s += v / accum as f64,
                            None => scalars.push((k, v / accum as f64)),
                        }
                    }
                }
                dp::reduce_gradients(self.collectives.as_deref(), self.method.as_ref())?;
                let grad_norm = match self.cfg.clip_grad_norm {
                    Some(c) => self.opt.clip_grad_norm(c)?,
                    None => self.opt.grad_norm()?,
                };
                if !grad_norm.is_finite() {
                    progress.finish();
                    return Err(Error::NonFinite {
                        what: "grad_norm",
                        step,
                        value: grad_norm,
                        last_checkpoint: self.last_checkpoint.clone(),
                    });
                }
                let lr = sched.lr(step);
                self.opt.step(lr)?;
                self.method.after_optimizer_step(&info)?;
                let loss = dp::reduce_stats(
                    self.collectives.as_deref(),
                    loss_sum / accum as f64,
                    &mut scalars,
                )?;
                self.step += 1;
                self.step_in_epoch += 1;
                self.epoch_loss_sum += loss;
                let rec = StepRecord {
                    step,
                    epoch,
                    loss,
                    lr,
                    grad_norm,
                    scalars,
                };
                let log_now = self.step % self.cfg.log_every == 0 || self.step == total;
                if log_now {
                    let dt = t_since.elapsed().as_secs_f64().max(1e-9);
                    let rate = samples_since as f64 / dt;
                    samples_since = 0;
                    t_since = Instant::now();
                    let done = (self.step - start_step) as f64;
                    let eta = started.elapsed().as_secs_f64() / done.max(1.0)
                        * (total - self.step) as f64;
                    progress.report(self.step, epoch, loss, lr, rate, eta);
                    if let Some(m) = &mut metrics {
                        let mut vals = vec![
                            ("loss".to_string(), loss),
                            ("lr".to_string(), lr),
                            ("grad_norm".to_string(), grad_norm),
                            ("samples_per_sec".to_string(), rate),
                        ];
                        vals.extend(rec.scalars.iter().cloned());
                        m.log("train", self.step, epoch, &vals)?;
                    }
                } else {
                    progress.tick(self.step);
                }
                self.record(rec);
                let es = self.cfg.checkpoint.every_steps;
                if es > 0 && self.step % es == 0 && self.step_in_epoch < spe {
                    self.save_checkpoint()?;
                }
            }
            // End of the epoch.
            let mean_loss = self.epoch_loss_sum / spe as f64;
            self.epoch += 1;
            self.step_in_epoch = 0;
            self.epoch_loss_sum = 0.0;
            // The monitor of the best checkpoint: the evaluation's first value when there is an
            // evaluation (epochs without one do not compete: a loss is not comparable with an
            // accuracy), else the negated mean loss.
            let mut monitored = self
                .epoch_eval
                .is_none()
                .then(|| ("epoch_loss_neg".to_string(), -mean_loss));
            let mut evals = vec![("epoch_loss".to_string(), mean_loss)];
            let last = self.epoch == epochs;
            let mut eval_skipped = false;
            let writer = self.is_writer();
            if let Some(ev) = self.epoch_eval.as_mut().filter(|_| writer) {
                if self.epoch % self.eval_every == 0 || last {
                    let vals = match ev(self.method.as_mut(), self.epoch) {
                        Ok(v) => v,
                        // A stop during the evaluation: the epoch's training is kept (and
                        // checkpointed below); its evaluation is skipped.
                        Err(e) if self.stop_requested() => {
                            tracing::warn!(error = %e, epoch = self.epoch, "evaluation skipped: stopping");
                            eval_skipped = true;
                            Vec::new()
                        }
                        Err(e) => return Err(e),
                    };
                    if let Some((name, v)) = vals.first() {
                        monitored = Some(if self.monitor_lower {
                            (format!("{name}_neg"), -v)
                        } else {
                            (name.clone(), *v)
                        });
                    }
                    for (k, v) in &vals {
                        tracing::info!(epoch = self.epoch, "{k} = {v:.4}");
                    }
                    evals.extend(vals);
                }
            }
            if let (Some(c), true) = (&self.collectives, self.epoch_eval.is_some()) {
                // Rank 0 evaluated; the others waited here (up to the backend's timeout).
                c.barrier()?;
            }
            if let Some(m) = &mut metrics {
                m.log("epoch", self.step, self.epoch, &evals)?;
                if let Some(d) = &self.run_dir {
                    if let Err(e) = m.plot(d) {
                        tracing::warn!(error = %e, "could not draw the metric plots");
                    }
                }
            }
            let improved = !eval_skipped
                && match (&monitored, &self.best) {
                    (None, _) => false,
                    (Some((m, x)), Some((name, v))) if m == name => x > v,
                    (Some(_), _) => true,
                };
            if improved {
                self.best = monitored;
            }
            let ee = self.cfg.checkpoint.every_epochs;
            if (ee > 0 && self.epoch % ee == 0) || last {
                self.save_checkpoint()?;
            }
            if improved && self.cfg.checkpoint.keep_best {
                if let Some(ck) = self.ckpt.as_ref().filter(|_| writer) {
                    self.check_state_finite()?;
                    let extra = self
                        .probe
                        .as_ref()
                        .map(|p| p.state_tensors())
                        .unwrap_or_default();
                    ck.save_best(
                        self.method.var_store(),
                        &self.opt,
                        &self.run_state(),
                        &extra,
                    )?;
                }
            }
        }
        progress.finish();
        Ok(Outcome::Finished)
    }
}

/// Progress display: an indicatif bar on a terminal, periodic `tracing` lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    lines: bool,
    total: u64,
}

impl Progress {
    fn new(mode: ProgressMode, total: u64, pos: u64) -> Self {
        let tty = std::io::stderr().is_terminal();
        let (bar, lines) = match mode {
            ProgressMode::Off => (false, false),
            ProgressMode::Lines => (false, true),
            ProgressMode::Bar => (true, false),
            ProgressMode::Auto => (tty, !tty),
        };
        let bar = bar.then(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} steps [{elapsed_precise} < {eta_precise}] {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.set_position(pos);
            b
        });
        Progress { bar, lines, total }
    }

    fn tick(&self, step: u64) {
        if let Some(b) = &self.bar {
            b.set_position(step);
        }
    }

    fn report(&self, step: u64, epoch: u64, loss: f64, lr: f64, rate: f64, eta: f64) {
        if let Some(b) = &self.bar {
            b.set_position(step);
            b.set_message(format!(
                "epoch {} loss {loss:.4} lr {lr:.2e} {rate:.0} samples/s",
                epoch + 1
            ));
        }
        if self.lines {
            tracing::info!(
                "step {step}/{} epoch {} loss {loss:.4} lr {lr:.3e} {rate:.0} samples/s eta {:.0}s",
                self.total,
                epoch + 1,
                eta
            );
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
