//! The deterministic parallel multi-view [`Loader`].
//!
//! ## How an epoch runs
//! 1. **Order**: indices `0..n`, shuffled (when `shuffle`) by the generator keyed
//!    `("shuffle", seed, epoch)`; batch `k` is positions `k·B .. (k+1)·B` of that order (the last short
//!    batch is dropped when `drop_last`).
//! 2. **Per sample**, spread over rayon (the global pool, or a dedicated one of `num_threads`):
//!    `dataset.get(i)`, then the [`ViewPipeline`] with the key `{seed, epoch, index: i, view: v}`.
//! 3. **Collation** into a [`HostBatch`] (in parallel too), in the batch's order.
//! 4. **Prefetch**: `prefetch` batches are in flight at once, each a task on the pool, so batch
//!    `k+1…k+prefetch` are being prepared while batch `k` trains. The batches in flight overlap on the
//!    pool: when one batch's last samples leave threads idle, the next batch's samples fill them, so
//!    there is no barrier between batches. `next()` hands them over in order. `prefetch = 0` prepares
//!    each batch synchronously in `next()`.
//! 5. **Buffers**: [`Loader::recycle`] gives a consumed batch's buffers back for reuse (see
//!    [`crate::batch`]); optional, but it spares the page faults of fresh multi-megabyte buffers.
//!
//! **Data parallelism**: [`Loader::with_shard`] makes each of `W` ranks take its block of every
//! global batch of the same order ([`selfsup_core::Shard`]), so `W` ranks with batch `B` see
//! exactly the samples and views one loader with batch `W·B` sees.
//!
//! Since each view is a function of its key only, batches are identical for any thread count, and
//! [`Loader::epoch_from`]`(e, k)` yields exactly batches `k, k+1, …` of [`Loader::epoch`]`(e)`.
//!
//! ## Bad files
//! Errors of `dataset.get` that are [`Error::Io`] or [`Error::Decode`] (unreadable, empty, truncated
//! or corrupt files) follow [`BadFilePolicy`]: `fail` ends the epoch with that error (it names the file
//! and the cause); `skip` leaves the sample out of its batch, counts it in [`LoaderStats::skipped`],
//! remembers the file in [`LoaderStats::skipped_files`] and logs a `tracing` warning. A batch whose
//! samples were all skipped is refilled with the next good samples of the epoch's order (wrapping
//! around; a deterministic function of `(seed, epoch, k)` like every batch), so that an epoch always
//! yields [`Loader::batches_per_epoch`] batches, which a trainer counts on; only a dataset without
//! any good file is an error. Errors of the
//! pipeline or of collation always end the epoch. Where several samples of a batch fail, the error
//! of the first in batch order is reported, whatever the thread timing.

use crate::batch::{collate, BufferPool, Processed};
use crate::pipeline::ViewPipeline;
use crate::split::Cached;
use crate::Dataset;
use rayon::prelude::*;
use selfsup_core::{check, Error, Generator, Result, SampleKey, Shard};
use selfsup_core::{BatchSource, HostBatch};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to do with a file that cannot be read or decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BadFilePolicy {
    /// Stop with an error naming the file and the cause (`"fail"`, also read as `"error"`).
    #[default]
    #[serde(alias = "error")]
    Fail,
    /// Leave the sample out, count it in the statistics and log it.
    Skip,
}

/// Loader settings (PyTorch `DataLoader`-like names).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoaderConfig {
    /// Samples per batch (>= 1). Default 256.
    pub batch_size: usize,
    /// Shuffle the order every epoch, keyed by `(seed, epoch)`. Default true.
    pub shuffle: bool,
    /// Drop the last, short batch. Default true.
    pub drop_last: bool,
    /// Batches prepared ahead of the consumer (0 = prepare in `next()`). Default 2, at most 64.
    pub prefetch: usize,
    /// Worker threads: 0 = rayon's global pool, else a dedicated pool of this size (at most 1024).
    pub num_threads: usize,
    /// The run seed (shuffle and augmentation keys).
    pub seed: u64,
    /// `"fail"` or `"skip"`. Default `"fail"`.
    pub bad_files: BadFilePolicy,
    /// Keep decoded items in memory after their first use (small datasets only). Default false.
    pub cache: bool,
    /// Memory budget of that cache in MiB (payload bytes; items past it are decoded on every use).
    /// Default 4096, at least 1.
    pub cache_max_mib: usize,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_size: 256,
            shuffle: true,
            drop_last: true,
            prefetch: 2,
            num_threads: 0,
            seed: 0,
            bad_files: BadFilePolicy::Fail,
            cache: false,
            cache_max_mib: 4096,
        }
    }
}

impl LoaderConfig {
    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        check::at_least("loader.batch_size", self.batch_size, 1)?;
        check::at_least("loader.cache_max_mib", self.cache_max_mib, 1)?;
        if self.prefetch > 64 {
            return Err(Error::config(
                "loader.prefetch",
                format!("must be in [0, 64], got {}", self.prefetch),
            ));
        }
        if self.num_threads > 1024 {
            return Err(Error::config(
                "loader.num_threads",
                format!(
                    "must be in [0, 1024] (0 = rayon default), got {}",
                    self.num_threads
                ),
            ));
        }
        Ok(())
    }
}

/// Cumulative loader statistics (all epochs so far).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LoaderStats {
    /// Samples delivered in batches.
    pub samples: u64,
    /// Batches delivered.
    pub batches: u64,
    /// Samples skipped because of bad files (policy `skip`).
    pub skipped: u64,
    /// The skipped files (first 1,000), or `#index` for samples without a file.
    pub skipped_files: Vec<String>,
    /// Seconds the consumer spent waiting for batches (inside `next()`).
    pub wait_secs: f64,
    /// Seconds spent producing batches (decode + augmentation + collation), summed over batches;
    /// batches in flight overlap, so this can exceed the time the iterators were alive.
    pub produce_secs: f64,
    /// Seconds the epoch iterators were alive (from creation to end or drop).
    pub active_secs: f64,
    /// Delivered samples per second of iterator life (`samples / active_secs`).
    pub samples_per_sec: f64,
    /// Samples per second of production of one batch at a time (`samples / produce_secs`).
    pub produce_samples_per_sec: f64,
}

const MAX_SKIPPED_FILES: usize = 1000;

#[derive(Default)]
struct StatsAcc {
    samples: u64,
    batches: u64,
    skipped: u64,
    skipped_files: Vec<String>,
    wait: Duration,
    produce: Duration,
    active: Duration,
}

struct Shared {
    dataset: Arc<dyn Dataset>,
    pipeline: ViewPipeline,
    cfg: LoaderConfig,
    pool: Option<rayon::ThreadPool>,
    buffers: BufferPool,
    stats: Mutex<StatsAcc>,
    /// Data parallelism: this rank's shard of every global batch (see [`Loader::with_shard`]).
    shard: Option<Shard>,
}

/// Batches of multi-view samples, epoch after epoch, identical for any thread count.
///
/// Cloning is cheap (the loader is shared); clones share statistics.
#[derive(Clone)]
pub struct Loader {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("len", &self.shared.dataset.len())
            .field("pipeline", &self.shared.pipeline)
            .field("cfg", &self.shared.cfg)
            .finish()
    }
}

fn is_bad_file(e: &Error) -> bool {
    matches!(e, Error::Io { .. } | Error::Decode { .. })
}

enum Outcome {
    Done(Processed),
    BadFile(Error),
}

impl Shared {
    fn batches_per_epoch(&self) -> usize {
        let n = self.dataset.len();
        let b = self.cfg.batch_size;
        if let Some(s) = &self.shard {
            return s.batches_per_epoch(n);
        }
        if self.cfg.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    fn order(&self, epoch: u64) -> Vec<usize> {
        let n = self.dataset.len();
        let order = if self.cfg.shuffle {
            Generator::from_domain("shuffle", &[self.cfg.seed, epoch]).permutation(n)
        } else {
            (0..n).collect()
        };
        match &self.shard {
            // This rank's batches of the global order, one after the other: batch `k` of the
            // sharded order is this rank's block of global batch `k`.
            Some(s) => s.batches(&order).concat(),
            None => order,
        }
    }

    fn process(&self, epoch: u64, index: usize) -> Result<Outcome> {
        let item = match self.dataset.get(index) {
            Ok(item) => item,
            Err(e) if is_bad_file(&e) => return Ok(Outcome::BadFile(e)),
            Err(e) => return Err(e),
        };
        let key = SampleKey::new(self.cfg.seed, epoch, index as u64);
        let (views, target) = self.pipeline.views_and_target(item.sample, key)?;
        Ok(Outcome::Done(Processed {
            index,
            label: item.label,
            views,
            target,
        }))
    }

    fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// Builds batch `k` of `order` (a batch of bad files only is refilled, so today always `Some`).
    fn produce(&self, epoch: u64, order: &[usize], k: usize) -> Result<Option<HostBatch>> {
        let start = Instant::now();
        let b = self.cfg.batch_size;
        let slot = &order[k * b..((k + 1) * b).min(order.len())];
        let result = self.run(|| -> Result<Option<HostBatch>> {
            let outcomes: Vec<Result<Outcome>> =
                slot.par_iter().map(|&i| self.process(epoch, i)).collect();
            let mut done = Vec::with_capacity(slot.len());
            let mut skipped = Vec::new();
            for (o, &i) in outcomes.into_iter().zip(slot) {
                match o? {
                    Outcome::Done(p) => done.push(p),
                    Outcome::BadFile(e) => match self.cfg.bad_files {
                        BadFilePolicy::Fail => return Err(e),
                        BadFilePolicy::Skip => {
                            let file = self
                                .dataset
                                .source(i)
                                .map_or_else(|| format!("#{i}"), |p: PathBuf| p.display().to_string());
                            tracing::warn!(index = i, file = %file, error = %e, "skipping a bad file");
                            skipped.push(file);
                        }
                    },
                }
            }
            let n_skipped = skipped.len();
            if n_skipped > 0 {
                let mut st = self.stats.lock().unwrap_or_else(|p| p.into_inner());
                st.skipped += n_skipped as u64;
                let room = MAX_SKIPPED_FILES.saturating_sub(st.skipped_files.len());
                st.skipped_files.extend(skipped.into_iter().take(room));
            }
            if done.is_empty() {
                // Refill with the next good samples of the epoch's order (wrapping around), so
                // that the epoch keeps its promised number of batches: a deterministic function
                // of (seed, epoch, k) like every batch. Files that fail again are not recounted.
                let n = order.len();
                let from = k * b + slot.len();
                for j in 0..n {
                    let i = order[(from + j) % n];
                    if let Outcome::Done(p) = self.process(epoch, i)? {
                        done.push(p);
                        if done.len() == slot.len() {
                            break;
                        }
                    }
                }
                if done.is_empty() {
                    return Err(Error::Other(format!(
                        "every one of the {n} files of the dataset is a bad file (policy `skip`); the first was {}",
                        self.dataset
                            .source(order[0])
                            .map_or_else(|| format!("#{}", order[0]), |p: PathBuf| p.display().to_string())
                    )));
                }
                tracing::warn!(
                    epoch,
                    batch = k,
                    "every sample of the batch was a bad file: refilled with the next good samples"
                );
            }
            collate(
                &self.buffers,
                done,
                self.pipeline.n_views(),
                epoch,
                k,
                n_skipped,
            )
            .map(Some)
        });
        let mut st = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        st.produce += start.elapsed();
        result
    }

    /// Starts batch `k` of `order` as a task on the pool; its result arrives on the returned channel
    /// (which disconnects without a value when `stop` was set before the task started).
    fn spawn_batch(
        self: &Arc<Self>,
        epoch: u64,
        order: &Arc<Vec<usize>>,
        k: usize,
        stop: &Arc<AtomicBool>,
    ) -> crossbeam_channel::Receiver<Result<Option<HostBatch>>> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (shared, order, stop) = (self.clone(), order.clone(), stop.clone());
        let job = move || {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                shared.produce(epoch, &order, k)
            }))
            .unwrap_or_else(|panic| {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".to_string());
                Err(Error::Other(format!(
                    "preparing batch {k} of epoch {epoch} panicked: {msg}"
                )))
            });
            let _ = tx.send(r);
        };
        match &self.pool {
            Some(pool) => pool.spawn(job),
            None => rayon::spawn(job),
        }
        rx
    }
}

impl Loader {
    /// A loader over `dataset` with `pipeline`; validates `cfg` (errors name the field), refuses an
    /// empty dataset and a `drop_last` epoch without any batch.
    pub fn new(
        dataset: Arc<dyn Dataset>,
        pipeline: ViewPipeline,
        cfg: LoaderConfig,
    ) -> Result<Loader> {
        cfg.validate()?;
        let n = dataset.len();
        if n == 0 {
            return Err(Error::config("dataset", "the dataset has no samples"));
        }
        if cfg.drop_last && n < cfg.batch_size {
            return Err(Error::config(
                "loader.batch_size",
                format!(
                    "is {} but the dataset has only {n} samples, so with drop_last = true an epoch has no batch; \
                     use batch_size <= {n} or drop_last = false",
                    cfg.batch_size
                ),
            ));
        }
        if pipeline.n_views() == 0 {
            return Err(Error::config("pipeline", "must produce at least one view"));
        }
        let pool = if cfg.num_threads > 0 {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(cfg.num_threads)
                    .thread_name(|i| format!("selfsup-loader-{i}"))
                    .build()
                    .map_err(|e| {
                        Error::Other(format!(
                            "cannot start {} loader threads: {e}",
                            cfg.num_threads
                        ))
                    })?,
            )
        } else {
            None
        };
        let buffers = BufferPool::new((cfg.prefetch + 2) * pipeline.n_views());
        let dataset = if cfg.cache {
            Arc::new(Cached::with_budget(
                dataset,
                (cfg.cache_max_mib as u64).saturating_mul(1 << 20),
            )) as Arc<dyn Dataset>
        } else {
            dataset
        };
        Ok(Loader {
            shared: Arc::new(Shared {
                dataset,
                pipeline,
                cfg,
                pool,
                buffers,
                stats: Mutex::new(StatsAcc::default()),
                shard: None,
            }),
        })
    }

    /// Makes this loader rank `rank` of `world_size` data-parallel ranks, each with the configured
    /// `batch_size` `B` ([`Shard`]): batch `k` of an epoch is the block `rank·B..(rank+1)·B` of the
    /// global batch `k` (`W·B` samples) of the same keyed order, so the ranks' batches `k`,
    /// concatenated in rank order, are exactly batch `k` of one loader with batch `W·B`, views
    /// included (augmentation keys are `(seed, epoch, index, view)`, independent of the rank).
    /// Every rank has `⌊len / (W·B)⌋` batches per epoch. Needs `drop_last = true`; call it on
    /// the loader [`Loader::new`] returned, before cloning it. A bad file skipped under the
    /// `skip` policy makes a rank's batch shorter than the others' (and a refilled batch draws
    /// from this rank's shard): that run is no longer identical to one process.
    pub fn with_shard(mut self, world_size: usize, rank: usize) -> Result<Loader> {
        let b = self.shared.cfg.batch_size;
        let shard = Shard::new(world_size, rank, b)?;
        if world_size > 1 && !self.shared.cfg.drop_last {
            return Err(Error::config(
                "loader.drop_last",
                "must be true for data-parallel training (every rank needs the same number of full batches)",
            ));
        }
        let n = self.shared.dataset.len();
        if shard.batches_per_epoch(n) == 0 {
            return Err(Error::config(
                "loader.batch_size",
                format!(
                    "is {b} per rank, so the global batch is {world_size}×{b} = {}, but the dataset has only {n} samples: \
                     use batch_size <= {}",
                    shard.global_batch(),
                    n / world_size
                ),
            ));
        }
        let shared = Arc::get_mut(&mut self.shared).ok_or_else(|| {
            Error::Other("Loader::with_shard must be called before the loader is cloned".into())
        })?;
        shared.shard = Some(shard);
        Ok(self)
    }

    /// The data-parallel shard set by [`Loader::with_shard`].
    pub fn shard(&self) -> Option<Shard> {
        self.shared.shard
    }

    /// The configuration.
    pub fn config(&self) -> &LoaderConfig {
        &self.shared.cfg
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.shared.dataset
    }

    /// Views per sample.
    pub fn n_views(&self) -> usize {
        self.shared.pipeline.n_views()
    }

    /// Batches in one epoch (before any skipping).
    pub fn batches_per_epoch(&self) -> usize {
        self.shared.batches_per_epoch()
    }

    /// The sample order of `epoch` (what batch `k` draws from: positions `k·B..(k+1)·B`); with
    /// [`Loader::with_shard`], this rank's part of it.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        self.shared.order(epoch)
    }

    /// All batches of `epoch`.
    pub fn epoch(&self, epoch: u64) -> EpochIter {
        self.epoch_from(epoch, 0)
    }

    /// The batches `start, start+1, …` of `epoch` — exactly those of an uninterrupted epoch. A start
    /// past the last batch yields one error naming the range.
    pub fn epoch_from(&self, epoch: u64, start: usize) -> EpochIter {
        let nb = self.batches_per_epoch();
        let created = Instant::now();
        if start > nb {
            return EpochIter {
                shared: self.shared.clone(),
                source: Source::Failed(Some(Error::config(
                    "start",
                    format!("an epoch has {nb} batches (start in 0..={nb}), got {start}"),
                ))),
                created,
                done: false,
            };
        }
        let order = self.shared.order(epoch);
        let source = if self.shared.cfg.prefetch == 0 {
            Source::Sync {
                epoch,
                order,
                next: start,
                end: nb,
            }
        } else {
            Source::Prefetch {
                epoch,
                order: Arc::new(order),
                next: start,
                end: nb,
                in_flight: VecDeque::new(),
                stop: Arc::new(AtomicBool::new(false)),
            }
        };
        EpochIter {
            shared: self.shared.clone(),
            source,
            created,
            done: false,
        }
    }

    /// Hands a consumed batch back so that the next batches reuse its buffers instead of allocating
    /// (and page-faulting) new ones. Optional; call it when done with the batch's arrays.
    pub fn recycle(&self, batch: HostBatch) {
        self.recycle_views(batch.views);
    }

    /// [`Loader::recycle`] for float view arrays already taken out of their [`HostBatch`] (arrays of other
    /// shapes or origins are accepted too; they are simply kept for a batch of their size).
    pub fn recycle_views(&self, views: Vec<ndarray::ArrayD<f32>>) {
        self.shared.buffers.recycle(views);
    }

    /// Statistics so far (all epochs).
    pub fn stats(&self) -> LoaderStats {
        let st = self.shared.stats.lock().unwrap_or_else(|p| p.into_inner());
        let rate = |d: Duration| {
            let s = d.as_secs_f64();
            if s > 0.0 {
                st.samples as f64 / s
            } else {
                0.0
            }
        };
        LoaderStats {
            samples: st.samples,
            batches: st.batches,
            skipped: st.skipped,
            skipped_files: st.skipped_files.clone(),
            wait_secs: st.wait.as_secs_f64(),
            produce_secs: st.produce.as_secs_f64(),
            active_secs: st.active.as_secs_f64(),
            samples_per_sec: rate(st.active),
            produce_samples_per_sec: rate(st.produce),
        }
    }
}

enum Source {
    Sync {
        epoch: u64,
        order: Vec<usize>,
        next: usize,
        end: usize,
    },
    Prefetch {
        epoch: u64,
        order: Arc<Vec<usize>>,
        /// The next batch to start.
        next: usize,
        end: usize,
        /// Batches started and not yet handed over, in order.
        in_flight: VecDeque<crossbeam_channel::Receiver<Result<Option<HostBatch>>>>,
        stop: Arc<AtomicBool>,
    },
    Failed(Option<Error>),
}

/// The batches of one epoch: an iterator of `Result<HostBatch>`. After an error it yields nothing more.
/// Dropping it early cancels the batches not yet started and waits for those being prepared.
pub struct EpochIter {
    shared: Arc<Shared>,
    source: Source,
    created: Instant,
    done: bool,
}

impl EpochIter {
    fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        if let Source::Prefetch {
            in_flight, stop, ..
        } = &mut self.source
        {
            stop.store(true, Ordering::Relaxed);
            for rx in in_flight.drain(..) {
                // Returns at once for a cancelled task; waits for one that is running.
                let _ = rx.recv();
            }
        }
        let mut st = self.shared.stats.lock().unwrap_or_else(|p| p.into_inner());
        st.active += self.created.elapsed();
    }

    fn next_inner(&mut self) -> Option<Result<HostBatch>> {
        match &mut self.source {
            Source::Failed(e) => e.take().map(Err),
            Source::Sync {
                epoch,
                order,
                next,
                end,
            } => {
                while *next < *end {
                    let k = *next;
                    *next += 1;
                    match self.shared.produce(*epoch, order, k) {
                        Ok(None) => continue,
                        Ok(Some(b)) => return Some(Ok(b)),
                        Err(e) => {
                            *next = *end;
                            return Some(Err(e));
                        }
                    }
                }
                None
            }
            Source::Prefetch {
                epoch,
                order,
                next,
                end,
                in_flight,
                stop,
            } => {
                // Keeps `prefetch` (>= 1 here) batches in flight: before waiting for the oldest, and
                // again as soon as it is handed over, while the consumer works on it.
                let shared = &self.shared;
                let fill = |in_flight: &mut VecDeque<_>, next: &mut usize| {
                    while in_flight.len() < shared.cfg.prefetch && *next < *end {
                        in_flight.push_back(shared.spawn_batch(*epoch, order, *next, stop));
                        *next += 1;
                    }
                };
                loop {
                    fill(in_flight, next);
                    let rx = in_flight.pop_front()?;
                    match rx.recv() {
                        Ok(Ok(None)) => continue,
                        Ok(Ok(Some(b))) => {
                            fill(in_flight, next);
                            return Some(Ok(b));
                        }
                        Ok(Err(e)) => return Some(Err(e)),
                        Err(_) => {
                            return Some(Err(Error::Other(
                                "a loader task ended without a result".to_string(),
                            )))
                        }
                    }
                }
            }
        }
    }
}

impl Iterator for EpochIter {
    type Item = Result<HostBatch>;

    fn next(&mut self) -> Option<Result<HostBatch>> {
        if self.done {
            return None;
        }
        let t0 = Instant::now();
        let item = self.next_inner();
        let waited = t0.elapsed();
        {
            let mut st = self.shared.stats.lock().unwrap_or_else(|p| p.into_inner());
            st.wait += waited;
            if let Some(Ok(b)) = &item {
                st.samples += b.len() as u64;
                st.batches += 1;
            }
        }
        match &item {
            None | Some(Err(_)) => self.finish(),
            Some(Ok(_)) => {}
        }
        item
    }
}

impl Drop for EpochIter {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The trainer's view of the loader: [`Loader::epoch_from`] and [`Loader::recycle`].
impl BatchSource for Loader {
    fn batches_per_epoch(&self) -> usize {
        Loader::batches_per_epoch(self)
    }

    fn epoch_from(
        &self,
        epoch: u64,
        skip: usize,
    ) -> Box<dyn Iterator<Item = Result<HostBatch>> + '_> {
        Box::new(Loader::epoch_from(self, epoch, skip))
    }

    fn recycle(&self, batch: HostBatch) {
        Loader::recycle(self, batch);
    }

    fn batch_size(&self) -> Option<usize> {
        let c = &self.shared.cfg;
        (c.drop_last || self.shared.shard.is_some()).then_some(c.batch_size)
    }
}
