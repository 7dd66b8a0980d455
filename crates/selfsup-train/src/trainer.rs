//! The training loop: [`Trainer`] drives one [`Method`] over a [`BatchSource`].
//!
//! One *step* is one optimizer step. Per step the trainer: re-seeds torch's global generator from
//! `(seed, step)` (so dropout or masks drawn on tensors replay exactly after a resume), zeroes the
//! gradients, runs `grad_accum` micro-batches (`method.step` — in bf16 CPU autocast when
//! `train.precision = "bf16"` — NaN/Inf check, `backward` of
//! `loss / grad_accum`), measures — and optionally clips — the global gradient norm, sets the
//! scheduled LR, applies the optimizer, calls `method.after_optimizer_step` (EMA, queues), then logs
//! and checkpoints. A gradient hook ([`Trainer::with_grad_hook`]) may run between the backward passes
//! and the gradient norm (data-parallel training averages gradients there). Micro-batches left over
//! at the end of an epoch (fewer than `grad_accum`) are skipped.
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
use crate::data_parallel as dp;
use crate::metrics::MetricsWriter;
use crate::optim::Optimizer;
use crate::schedule::LrSchedule;
use crate::{Error, Result};
use selfsup_core::BatchSource;
use selfsup_nn::{host_to_device, Batch, Collectives, Method, StepInfo};
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

/// A gradient hook (see [`Trainer::with_grad_hook`]): runs once per optimizer step, after the
/// backward passes of all its micro-batches and before the gradient norm is measured (and clipped)
/// and the optimizer steps. It gets the method's variables — whose `grad()` it may read and change
/// in place, e.g. to all-reduce them across processes — and where the run stands.
pub type GradHook<'a> = Box<dyn FnMut(&tch::nn::VarStore, &StepInfo) -> Result<()> + 'a>;

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
    grad_hook: Option<GradHook<'a>>,
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
        if cfg.keep_freed_memory && !crate::memory::keep_freed_memory() {
            tracing::debug!(
                "train.keep_freed_memory: the C allocator is not glibc's; nothing changed"
            );
        }
        if cfg.precision == crate::Precision::Bf16 && !crate::precision::cpu_has_native_bf16() {
            tracing::warn!(
                "train.precision = \"bf16\": this CPU lists neither avx512_bf16 nor amx_bf16 in /proc/cpuinfo; bf16 autocast will be emulated and slow"
            );
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
            grad_hook: None,
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

    /// Runs `eval` after every `every` epochs (and after the last).
    pub fn with_epoch_eval(mut self, every: u64, eval: EpochEval<'a>) -> Self {
        self.epoch_eval = Some(eval);
        self.eval_every = every.max(1);
        self
    }

    /// Runs `hook` in every optimizer step between the backward passes and the optimizer step (see
    /// [`GradHook`]): the seam where data-parallel training averages the gradients of its replicas.
    /// An error from the hook ends the run with that error.
    pub fn with_grad_hook(mut self, hook: GradHook<'a>) -> Self {
        self.grad_hook = Some(hook);
        self
    }

    /// Trains data-parallel with the other ranks of `collectives` (see [`crate::data_parallel`]):
    /// the method gets them ([`Method::set_collectives`]), parameters are broadcast from rank 0 when
    /// a run starts, gradients are reduced after the backward passes (before the gradient hook) as
    /// the method declares ([`Method::data_parallel`]), only rank 0 writes the run folder and
    /// evaluates. The source must give each rank its shard of the global batches
    /// (`selfsup_data::Loader::with_shard`).
    pub fn with_collectives(mut self, collectives: Arc<dyn Collectives>) -> Self {
        self.method.set_collectives(collectives.clone());
        self.collectives = Some(collectives);
        self
    }

    /// The number of ranks training together (1 without collectives).
    pub fn world_size(&self) -> usize {
        self.collectives.as_ref().map_or(1, |c| c.world_size())
    }

    fn is_writer(&self) -> bool {
        dp::is_writer(self.collectives.as_deref())
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

    /// Trains a linear classifier (Adam at `lr`) on the detached encoder features of view 0 during
    /// pretraining (the step's own features, [`selfsup_nn::StepOutput::features`], when the method
    /// returns them; else those of [`Method::embed`]), logging `online_probe_loss` and `online_probe_acc` per step; batches need labels.
    /// Its state is checkpointed with the run.
    pub fn with_online_probe(mut self, num_classes: i64, lr: f64) -> Result<Self> {
        // Initial weights keyed by the run seed, drawn on the host (libtorch's generator untouched).
        self.probe = Some(crate::eval::OnlineProbe::seeded(
            self.device,
            self.method.embed_dim(),
            num_classes,
            lr,
            self.cfg.seed,
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
    /// newest epoch the run has reached, in the order they first appeared; empty before the first
    /// step. The sums travel in checkpoints, so a run resumed inside an epoch, or after its last
    /// one, reports what the uninterrupted run would (checkpoints of older versions: the steps this
    /// process ran). Independent of the history limit.
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
        self.epoch_scalars = Self::epoch_scalars_of(&c.state);
        let world = self.world_size();
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

    /// A float of the trainer's part of a run state: its exact bits (`<key>_bits`) when saved, else
    /// the decimal value of older checkpoints.
    fn extra_f64(&self, st: &RunState, key: &str) -> f64 {
        let tr = st.extra.get("_trainer");
        if let Some(b) = tr
            .and_then(|t| t.get(format!("{key}_bits")))
            .and_then(|v| v.as_u64())
        {
            return f64::from_bits(b);
        }
        tr.and_then(|t| t.get(key))
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    }

    /// The newest epoch's scalar sums saved by [`Self::run_state`] (`None` in older checkpoints), so
    /// that a resumed run — one killed in its last epoch, or already finished — reports the same
    /// [`Trainer::epoch_scalar_means`] (the online probe's summary) as an uninterrupted one.
    fn epoch_scalars_of(st: &RunState) -> Option<(u64, Vec<(String, f64, usize)>)> {
        let v = st.extra.get("_trainer")?.get("epoch_scalars")?;
        let epoch = v.get("epoch")?.as_u64()?;
        let sums = v
            .get("sums")?
            .as_array()?
            .iter()
            .map(|e| {
                Some((
                    e.get(0)?.as_str()?.to_string(),
                    f64::from_bits(e.get(1)?.as_u64()?),
                    e.get(2)?.as_u64()? as usize,
                ))
            })
            .collect::<Option<Vec<_>>>()?;
        Some((epoch, sums))
    }

    fn run_state(&self) -> RunState {
        let mut extra = self.extra.clone();
        // Floats as their bits as well: JSON's decimal form does not always read back exactly.
        let tr = serde_json::json!({
            "epoch_loss_sum": self.epoch_loss_sum,
            "epoch_loss_sum_bits": self.epoch_loss_sum.to_bits(),
            "world_size": self.world_size(),
            "epoch_scalars": self.epoch_scalars.as_ref().map(|(e, sums)| serde_json::json!({
                "epoch": e,
                "sums": sums
                    .iter()
                    .map(|(k, v, n)| serde_json::json!([k, v.to_bits(), n]))
                    .collect::<Vec<_>>(),
            })),
        });
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

    /// Writes a checkpoint of the run as it stands (after checking every tensor is finite); `None`
    /// without a run folder.
    fn save_checkpoint(&mut self) -> Result<Option<PathBuf>> {
        let Some(ck) = self.ckpt.as_ref().filter(|_| self.is_writer()) else {
            return Ok(None);
        };
        self.check_state_finite()?;
        let p = ck.save(
            self.method.var_store(),
            &self.opt,
            &self.run_state(),
            &self.probe_state(),
        )?;
        self.last_checkpoint = Some(p.clone());
        Ok(Some(p))
    }

    /// Writes the best checkpoint (after checking every tensor is finite); nothing without a run folder.
    fn save_best_checkpoint(&mut self) -> Result<()> {
        let Some(ck) = self.ckpt.as_ref().filter(|_| self.is_writer()) else {
            return Ok(());
        };
        self.check_state_finite()?;
        ck.save_best(
            self.method.var_store(),
            &self.opt,
            &self.run_state(),
            &self.probe_state(),
        )?;
        Ok(())
    }

    /// The online probe's tensors, stored in checkpoints next to the method's.
    fn probe_state(&self) -> Vec<(String, tch::Tensor)> {
        self.probe
            .as_ref()
            .map(|p| p.state_tensors())
            .unwrap_or_default()
    }

    fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|f| f.load(Ordering::SeqCst))
            || self.stop_at_step.is_some_and(|s| self.step >= s)
    }

    /// Runs (or continues) training to the end, or until a stop is requested.
    ///
    /// The loop reads: `begin_run` (sizes, schedule, `config.toml`, metrics), then per epoch
    /// a `train_step` per optimizer step followed by `log_step` and a step-based
    /// checkpoint, and `end_epoch` (evaluation, epoch log, best and epoch checkpoints). A
    /// stop request is honoured before each step by `stop_now`.
    pub fn run(&mut self, source: &dyn BatchSource) -> Result<Outcome> {
        let _sync_bn = dp::sync_batch_norm(self.collectives.as_ref(), &self.cfg);
        let mut ctx = self.begin_run(source)?;
        let out = self.run_epochs(source, &mut ctx);
        ctx.progress.finish();
        out
    }

    fn run_epochs(&mut self, source: &dyn BatchSource, ctx: &mut RunCtx) -> Result<Outcome> {
        while self.epoch < ctx.epochs {
            let skip = (self.step_in_epoch * ctx.accum) as usize;
            let mut batches = source.epoch_from(self.epoch, skip);
            while self.step_in_epoch < ctx.steps_per_epoch {
                if dp::agree_stop(self.collectives.as_deref(), self.stop_requested())? {
                    return self.stop_now(ctx);
                }
                let rec = self.train_step(source, &mut batches, ctx)?;
                self.log_step(&rec, ctx)?;
                self.record(rec);
                let es = self.cfg.checkpoint.every_steps;
                if es > 0 && self.step % es == 0 && self.step_in_epoch < ctx.steps_per_epoch {
                    self.save_checkpoint()?;
                }
            }
            self.end_epoch(ctx)?;
        }
        Ok(Outcome::Finished)
    }

    /// The start of [`Trainer::run`]: checks an epoch has at least one optimizer step, builds the LR
    /// schedule, writes `config.toml` and `threads.json` and opens the metrics of the run folder.
    fn begin_run(&mut self, source: &dyn BatchSource) -> Result<RunCtx> {
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
        let metrics = match self.run_dir.as_ref().filter(|_| writer) {
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
        Ok(RunCtx {
            accum,
            batches_per_epoch: bpe,
            steps_per_epoch: spe,
            epochs,
            total,
            sched,
            metrics,
            progress: Progress::new(
                if writer {
                    self.cfg.progress
                } else {
                    ProgressMode::Off
                },
                total,
                self.step,
            ),
            started: Instant::now(),
            start_step: self.step,
            samples_since: 0,
            t_since: Instant::now(),
        })
    }

    /// A stop was requested before the next step: checkpoints and returns [`Outcome::Interrupted`].
    fn stop_now(&mut self, ctx: &RunCtx) -> Result<Outcome> {
        let p = self.save_checkpoint()?;
        ctx.progress.finish();
        tracing::info!(step = self.step, checkpoint = ?p, "stopped on request");
        Ok(Outcome::Interrupted {
            checkpoint: p,
            step: self.step,
        })
    }

    /// One optimizer step: seeds torch from `(seed, step)`, zeroes the gradients, runs the
    /// `grad_accum` micro-batches ([`Self::micro_batch`]), runs the gradient hook, measures (and
    /// optionally clips) the gradient norm, steps the optimizer at the scheduled LR and calls
    /// [`Method::after_optimizer_step`]. Advances the step counters and returns the step's record.
    fn train_step(
        &mut self,
        source: &dyn BatchSource,
        batches: &mut dyn Iterator<Item = selfsup_core::Result<selfsup_core::HostBatch>>,
        ctx: &mut RunCtx,
    ) -> Result<StepRecord> {
        let step = self.step;
        let epoch = self.epoch;
        tch::manual_seed(step_seed(self.cfg.seed, step));
        let info = StepInfo {
            step,
            total_steps: ctx.total,
            epoch,
            total_epochs: ctx.epochs,
        };
        self.opt.zero_grad();
        let accum = ctx.accum;
        let mut loss_sum = 0.0;
        let mut scalars: Vec<(String, f64)> = Vec::new();
        for _ in 0..accum {
            let hb = batches.next().ok_or_else(|| {
                selfsup_core::Error::Other(format!(
                    "the data source ended early in epoch {epoch}: it promised {} batches",
                    ctx.batches_per_epoch
                ))
            })??;
            ctx.samples_since += hb.len();
            let batch = host_to_device(&hb, self.device)?;
            source.recycle(hb);
            let (loss, micro_scalars) = self.micro_batch(&batch, &info)?;
            loss_sum += loss;
            for (k, v) in micro_scalars {
                add_mean(&mut scalars, k, v / accum as f64);
            }
        }
        dp::reduce_gradients(self.collectives.as_deref(), self.method.as_ref())?;
        if let Some(hook) = &mut self.grad_hook {
            hook(self.method.var_store(), &info)?;
        }
        let grad_norm = match self.cfg.clip_grad_norm {
            Some(c) => self.opt.clip_grad_norm(c)?,
            None => self.opt.grad_norm()?,
        };
        self.check_finite("grad_norm", grad_norm)?;
        let lr = ctx.sched.lr(step);
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
        Ok(StepRecord {
            step,
            epoch,
            loss,
            lr,
            grad_norm,
            scalars,
        })
    }

    /// One micro-batch: the method's forward pass and loss (under bf16 autocast when
    /// `train.precision` says so), the NaN/Inf check of its loss, `backward` of
    /// `loss / grad_accum`, and the online probe's update (on [`StepOutput::features`] when the
    /// method returned them). Returns the loss and the named scalars (the online probe's first,
    /// then the method's).
    ///
    /// [`StepOutput::features`]: selfsup_nn::StepOutput::features
    fn micro_batch(&mut self, batch: &Batch, info: &StepInfo) -> Result<(f64, Vec<(String, f64)>)> {
        let mut out = {
            let _autocast = crate::precision::step_guard(self.cfg.precision, self.device)?;
            self.method.step(batch, info)?
        };
        let features = out.features.take();
        let lv = selfsup_nn::bridge::scalar(&out.loss)?;
        self.check_finite("loss", lv)?;
        let accum = self.cfg.grad_accum;
        let l = if accum > 1 {
            out.loss.f_div_scalar(accum as f64)?
        } else {
            out.loss
        };
        l.f_backward()?;
        let mut scalars = Vec::with_capacity(out.scalars.len() + 2);
        if let (Some(p), Some(y)) = (&mut self.probe, &batch.labels) {
            // The step's own features when the method returned them (training mode: BatchNorm
            // with batch statistics, dropout on); else a second, eval-mode encoder forward.
            let f = match features {
                Some(f) => {
                    let want = [y.size()[0], self.method.embed_dim()];
                    if f.size() != want {
                        return Err(selfsup_core::Error::Other(format!(
                            "method `{}` returned step features of shape {:?}, expected {want:?} (batch × embed_dim)",
                            self.method.name(),
                            f.size()
                        ))
                        .into());
                    }
                    f
                }
                None => self.method.embed(&batch.views[0])?,
            };
            let (pl, pa) = p.update(&f, y)?;
            scalars.push(("online_probe_loss".to_string(), pl));
            scalars.push(("online_probe_acc".to_string(), pa));
        }
        scalars.extend(out.scalars);
        Ok((lv, scalars))
    }

    /// [`Error::NonFinite`] for the current step when `value` of `what` is NaN or infinite.
    fn check_finite(&self, what: &'static str, value: f64) -> Result<()> {
        if value.is_finite() {
            return Ok(());
        }
        Err(Error::NonFinite {
            what,
            step: self.step,
            value,
            last_checkpoint: self.last_checkpoint.clone(),
        })
    }

    /// Reports the step just taken: every `log_every` steps (and at the last) a progress line with
    /// throughput and ETA and a `train` row of the metrics; otherwise just moves the progress bar.
    fn log_step(&mut self, rec: &StepRecord, ctx: &mut RunCtx) -> Result<()> {
        let log_now = self.step % self.cfg.log_every == 0 || self.step == ctx.total;
        if !log_now {
            ctx.progress.tick(self.step);
            return Ok(());
        }
        let dt = ctx.t_since.elapsed().as_secs_f64().max(1e-9);
        let rate = ctx.samples_since as f64 / dt;
        ctx.samples_since = 0;
        ctx.t_since = Instant::now();
        let done = (self.step - ctx.start_step) as f64;
        let eta =
            ctx.started.elapsed().as_secs_f64() / done.max(1.0) * (ctx.total - self.step) as f64;
        ctx.progress
            .report(self.step, rec.epoch, rec.loss, rec.lr, rate, eta);
        if let Some(m) = &mut ctx.metrics {
            let mut vals = vec![
                ("loss".to_string(), rec.loss),
                ("lr".to_string(), rec.lr),
                ("grad_norm".to_string(), rec.grad_norm),
                ("samples_per_sec".to_string(), rate),
            ];
            vals.extend(rec.scalars.iter().cloned());
            // 1-based, as the `epoch` row that ends this epoch and the progress bar.
            m.log("train", self.step, rec.epoch + 1, &vals)?;
        }
        Ok(())
    }

    /// The end of an epoch: closes the epoch's loss, runs the evaluation when due
    /// ([`Self::epoch_evaluation`]), logs the `epoch` row and redraws the plots, then writes the
    /// best checkpoint when the monitored value improved and the epoch checkpoint (every
    /// `every_epochs`, and after the last), in that order.
    fn end_epoch(&mut self, ctx: &mut RunCtx) -> Result<()> {
        let mean_loss = self.epoch_loss_sum / ctx.steps_per_epoch as f64;
        self.epoch += 1;
        self.step_in_epoch = 0;
        self.epoch_loss_sum = 0.0;
        let last = self.epoch == ctx.epochs;
        // The monitor of the best checkpoint: the evaluation's first value when there is an
        // evaluation (epochs without one do not compete: a loss is not comparable with an
        // accuracy), else the negated mean loss.
        let vals = self.epoch_evaluation(last)?;
        let monitored = match vals.as_ref().and_then(|v| v.first()) {
            None if self.epoch_eval.is_none() => Some(("epoch_loss_neg".to_string(), -mean_loss)),
            None => None,
            Some((name, v)) if self.monitor_lower => Some((format!("{name}_neg"), -v)),
            Some((name, v)) => Some((name.clone(), *v)),
        };
        let mut evals = vec![("epoch_loss".to_string(), mean_loss)];
        evals.extend(vals.unwrap_or_default());
        self.log_epoch(&evals, ctx)?;
        let improved = self.update_best(monitored);
        // The best checkpoint before the epoch checkpoint that records it as the best: a kill
        // during the best's write leaves the previous checkpoint the newest, so the resume
        // redoes this epoch end, best included (the other order left an older best that no resume
        // rewrote).
        if improved && self.cfg.checkpoint.keep_best {
            self.save_best_checkpoint()?;
        }
        let ee = self.cfg.checkpoint.every_epochs;
        if (ee > 0 && self.epoch % ee == 0) || last {
            self.save_checkpoint()?;
        }
        Ok(())
    }

    /// Runs the epoch evaluation when one is set and due (every `eval_every` epochs, and after the
    /// last); `None` when none ran. A stop requested during the evaluation skips it (the epoch's
    /// training is kept and checkpointed) and gives no values.
    ///
    /// Data-parallel: rank 0 evaluates while the other ranks wait at a barrier (every rank holds
    /// the same weights); they get `None`.
    fn epoch_evaluation(&mut self, last: bool) -> Result<Option<Vec<(String, f64)>>> {
        if self.epoch_eval.is_none() || (self.epoch % self.eval_every != 0 && !last) {
            return Ok(None);
        }
        if !self.is_writer() {
            if let Some(c) = &self.collectives {
                c.barrier()?;
            }
            return Ok(None);
        }
        let vals = self.rank0_evaluation();
        if let Some(c) = self.collectives.as_ref().filter(|_| vals.is_ok()) {
            c.barrier()?;
        }
        vals
    }

    fn rank0_evaluation(&mut self) -> Result<Option<Vec<(String, f64)>>> {
        let Some(ev) = &mut self.epoch_eval else {
            return Ok(None);
        };
        let vals = match ev(self.method.as_mut(), self.epoch) {
            Ok(v) => v,
            Err(e) if self.stop_requested() => {
                tracing::warn!(error = %e, epoch = self.epoch, "evaluation skipped: stopping");
                return Ok(Some(Vec::new()));
            }
            Err(e) => return Err(e),
        };
        for (k, v) in &vals {
            tracing::info!(epoch = self.epoch, "{k} = {v:.4}");
        }
        Ok(Some(vals))
    }

    /// Writes the `epoch` row of the metrics and redraws the plots (a plot that fails only warns).
    fn log_epoch(&mut self, evals: &[(String, f64)], ctx: &mut RunCtx) -> Result<()> {
        if let Some(m) = &mut ctx.metrics {
            m.log("epoch", self.step, self.epoch, evals)?;
            if let Some(d) = &self.run_dir {
                if let Err(e) = m.plot(d) {
                    tracing::warn!(error = %e, "could not draw the metric plots");
                }
            }
        }
        Ok(())
    }

    /// Keeps `monitored` as the best value when it is better than the best so far (higher is better;
    /// a value under another name than the best's replaces it). Returns whether it did.
    fn update_best(&mut self, monitored: Option<(String, f64)>) -> bool {
        let Some((name, x)) = monitored else {
            return false;
        };
        let improved = match &self.best {
            Some((best_name, v)) if *best_name == name => x > *v,
            _ => true,
        };
        if improved {
            self.best = Some((name, x));
        }
        improved
    }
}

/// What one call of [`Trainer::run`] needs besides the trainer's own (checkpointed) state: the
/// sizes of an epoch, the LR schedule, the metrics file, the progress display and the throughput
/// clock.
struct RunCtx {
    /// Micro-batches per optimizer step.
    accum: u64,
    batches_per_epoch: u64,
    /// Optimizer steps per epoch (`batches_per_epoch / accum`, at least 1).
    steps_per_epoch: u64,
    epochs: u64,
    /// Optimizer steps of the whole run.
    total: u64,
    sched: LrSchedule,
    metrics: Option<MetricsWriter>,
    progress: Progress,
    /// When this call started, and the step it started at (for the ETA).
    started: Instant,
    start_step: u64,
    /// Samples since the last log line, and when that line was written (for samples/s).
    samples_since: usize,
    t_since: Instant,
}

/// Adds `v` to the entry `k` of `sums`, appending `k` when it is new (keeps first-seen order).
fn add_mean(sums: &mut Vec<(String, f64)>, k: String, v: f64) {
    match sums.iter_mut().find(|(n, _)| *n == k) {
        Some((_, s)) => *s += v,
        None => sums.push((k, v)),
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
            let b = crate::progress::bar(total, crate::progress::TRAIN_TEMPLATE);
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
            b.set_message(crate::progress::train_message(epoch + 1, loss, lr, rate));
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
            crate::progress::done(b);
        }
    }
}
