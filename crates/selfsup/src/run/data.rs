//! Datasets, splits and loaders for the CLI (the loader is the trainer's `BatchSource` as it is).
//!
//! Splits: datasets with an official split use it (FSDD takes 0–4 as test, CIFAR and MNIST-IDX test
//! files); the others hold out `data.val_fraction` of every class with a seeded stratified split. The
//! *train* split is what pretraining sees (without labels being used) and is the kNN bank; the *val*
//! split gives the reported accuracies. Text has no labels, with one exception: when the training file
//! holds the vendored Shakespeare plays, kNN and the linear probe attribute windows to their play
//! (`selfsup_data::plays`, the last 10 % of each play held out) for every text method (GPT, BERT,
//! SimCLR over token views); other text is evaluated by its language-model loss only.

use crate::methods::MethodConfig;
use crate::run::config::{DataConfig, DataKind, RunConfig};
use crate::run::views;
use anyhow::{bail, Context, Result};
use ndarray::{ArrayD, Axis, IxDyn};
use selfsup_data::text::RandomWindows;
use selfsup_data::Vocab;
use selfsup_data::{
    train_val_split, Cifar, CifarKind, Dataset, Fsdd, FsddSplit, Loader, LoaderConfig, MnistCsv,
    MnistIdx, ViewPipeline,
};
use std::path::PathBuf;
use std::sync::Arc;

/// The two splits of a run.
pub struct Splits {
    /// What pretraining sees; also the kNN bank and the probe's training set.
    pub train: Arc<dyn Dataset>,
    /// Held-out samples for the reported accuracies (empty for text).
    pub val: Arc<dyn Dataset>,
    /// Text: the tokenizer's vocabulary size (specials included); `None` for other data.
    pub vocab_size: Option<usize>,
    /// Language models: the keyed training windows and the vocabulary (saved in the run folder).
    pub lm: Option<LmData>,
    /// Whether the training split carries labels (the online probe needs them).
    pub train_labelled: bool,
    /// The labelled kNN bank and queries (`None`: no labels, evaluations skipped).
    pub eval: Option<EvalSplit>,
    /// What was found on disk (layout, labels, held-out folder), one line each, for the user.
    pub layout: Vec<String>,
}

/// The labelled data of the downstream evaluations.
pub struct EvalSplit {
    /// The kNN bank and the linear probe's training set.
    pub bank: Arc<dyn Dataset>,
    /// The held-out queries the accuracies are reported on.
    pub query: Arc<dyn Dataset>,
}

impl Splits {
    /// Labelled splits: `train` is also the kNN bank, `val` the queries.
    pub fn labelled(train: Arc<dyn Dataset>, val: Arc<dyn Dataset>) -> Self {
        Splits {
            eval: Some(EvalSplit {
                bank: train.clone(),
                query: val.clone(),
            }),
            train,
            val,
            vocab_size: None,
            lm: None,
            train_labelled: true,
            layout: Vec::new(),
        }
    }

    /// These splits with the play-attribution evaluation of text runs (see [`play_eval`]), and a
    /// layout line saying so.
    fn with_play_eval(mut self, eval: Option<EvalSplit>) -> Self {
        if let Some(e) = &eval {
            self.layout.push(format!(
                "play attribution: the eight Shakespeare plays, {} train / {} held-out windows (the last {:.0} % of each play), for kNN and the linear probe",
                e.bank.len(),
                e.query.len(),
                PLAY_TEST_FRACTION * 100.0
            ));
        }
        self.eval = eval;
        self
    }

    /// Splits without labels to evaluate with.
    pub fn unlabelled(train: Arc<dyn Dataset>, val: Arc<dyn Dataset>) -> Self {
        Splits {
            eval: None,
            train_labelled: false,
            ..Self::labelled(train, val)
        }
    }
}

/// What a language-model run reads besides its splits.
pub struct LmData {
    /// Training windows of `seq_len + 1` tokens at keyed offsets (the train split's samples).
    pub windows: Arc<RandomWindows>,
    /// The tokenizer's vocabulary.
    pub vocab: Vocab,
}

/// Makes `path` and `val_path` absolute (against the current folder), so that a run folder's
/// `config.toml` is read the same from any folder.
pub fn absolute_paths(d: &mut DataConfig) -> Result<()> {
    for p in [&mut d.path, &mut d.val_path].into_iter().flatten() {
        if p.is_relative() {
            *p = std::path::absolute(&*p)
                .with_context(|| format!("cannot make {} absolute", p.display()))?;
        }
    }
    Ok(())
}

/// The dataset path: the configured one, else the vendored copy.
pub fn resolve_path(cfg: &DataConfig) -> Result<PathBuf> {
    if let Some(p) = &cfg.path {
        if !p.exists() {
            bail!(
                "invalid value for `data.path`: {} does not exist",
                p.display()
            );
        }
        return Ok(p.clone());
    }
    let rel = match cfg.kind {
        DataKind::MnistCsv => "mnist5k/mnist_5k.csv.gz",
        DataKind::Fsdd => "fsdd/recordings",
        DataKind::Text => "shakespeare/train.txt",
        other => bail!(
            "`data.path` is required for `data.kind = {}` (only mnist-csv, fsdd and text (the Shakespeare plays) have a vendored copy)",
            serde_json::to_string(&other).unwrap_or_default()
        ),
    };
    let dir = crate::run::config::find_data_dir().context(
        "cannot find the vendored `data/` folder (looked in the current folder, its parents and next to the executable); pass --data <path> or set SELFSUP_DATA",
    )?;
    let p = dir.join(rel);
    if !p.exists() {
        bail!(
            "the vendored dataset {} is missing; pass --data <path>",
            p.display()
        );
    }
    Ok(p)
}

pub(crate) fn limit(ds: Arc<dyn Dataset>, max: usize) -> Result<Arc<dyn Dataset>> {
    if max == 0 || ds.len() <= max {
        return Ok(ds);
    }
    // Evenly spaced samples keep every class represented.
    let n = ds.len();
    let idx: Vec<usize> = (0..max).map(|i| i * n / max).collect();
    Ok(Arc::new(selfsup_data::Subset::new(ds, idx)?))
}

/// Opens the configured dataset and splits it.
pub fn open_splits(cfg: &RunConfig) -> Result<Splits> {
    let d = &cfg.data;
    let path = resolve_path(d)?;
    let seed = cfg.train.seed;
    let split = |all: Arc<dyn Dataset>| -> Result<Splits> {
        let all = limit(all, d.max_samples)?;
        let (train, val) = train_val_split(all, d.val_fraction, seed, true)?;
        Ok(Splits::labelled(Arc::new(train), Arc::new(val)))
    };
    let s = match d.kind {
        DataKind::MnistCsv => split(Arc::new(MnistCsv::new(&path)?))?,
        DataKind::ImageFolder | DataKind::AudioFolder => crate::run::folders::open(cfg, &path)?,
        DataKind::MnistIdx => Splits::labelled(
            limit(Arc::new(MnistIdx::from_dir(&path, true)?), d.max_samples)?,
            Arc::new(MnistIdx::from_dir(&path, false)?),
        ),
        DataKind::Cifar => Splits::labelled(
            limit(
                Arc::new(Cifar::from_dir(&path, CifarKind::Cifar10, true)?),
                d.max_samples,
            )?,
            Arc::new(Cifar::from_dir(&path, CifarKind::Cifar10, false)?),
        ),
        DataKind::Fsdd => {
            let rate = Some(cfg.augment.sample_rate);
            Splits::labelled(
                limit(
                    Arc::new(Fsdd::new(&path, FsddSplit::Train)?.target_rate(rate)?),
                    d.max_samples,
                )?,
                Arc::new(Fsdd::new(&path, FsddSplit::Test)?.target_rate(rate)?),
            )
        }
        DataKind::Text if cfg.is_language_model() => lm_splits(cfg, &path)?,
        DataKind::Text => {
            // The token views may be cut from a longer passage (`augment.tokens.context`); the
            // evaluation windows keep `seq_len` tokens.
            let text_cfg = match views::run_recipe(cfg).tokens() {
                Ok(t) => selfsup_data::text::TextConfig {
                    seq_len: t.sample_len(d.text.seq_len),
                    ..d.text.clone()
                },
                Err(_) => d.text.clone(),
            };
            let text = selfsup_data::text::TextTokens::from_file(&path, &text_cfg)?;
            let vocab_size = text.vocab().len();
            let eval = play_eval(&path, text.vocab(), d)?;
            let all: Arc<dyn Dataset> = Arc::new(text);
            Splits {
                vocab_size: Some(vocab_size),
                ..Splits::unlabelled(
                    limit(all.clone(), d.max_samples)?,
                    Arc::new(selfsup_data::Subset::new(all, Vec::new())?),
                )
            }
            .with_play_eval(eval)
        }
    };
    let empty_eval = s
        .eval
        .as_ref()
        .is_some_and(|e| e.bank.is_empty() || e.query.is_empty());
    if s.train.is_empty() || empty_eval {
        bail!(
            "the dataset at {} gave an empty split (train {}, val {})",
            path.display(),
            s.train.len(),
            s.val.len()
        );
    }
    Ok(s)
}

/// Language models: the vocabulary of the training file (`data.text.tokenizer`: `char` builds it from
/// the file, `byte` is fixed), keyed random training windows, and the validation file's sequential
/// windows (`data.val_path`, else the vendored The Tempest for the vendored plays, else none).
fn lm_splits(cfg: &RunConfig, path: &std::path::Path) -> Result<Splits> {
    use selfsup_data::text::{SequentialWindows, TokenStream, UnknownPolicy};
    let d = &cfg.data;
    let vocab = match d.text.tokenizer {
        selfsup_data::TokenizerKind::Byte => Vocab::bytes(),
        kind => TokenStream::vocab_from_file(path, kind, UnknownPolicy::Error)?,
    };
    let seq_len = d.text.seq_len;
    let samples = (d.max_samples > 0).then_some(d.max_samples);
    let windows = Arc::new(RandomWindows::new(
        TokenStream::from_file(path, &vocab)?,
        seq_len,
        samples,
    )?);
    let val_file = match (&d.val_path, &d.path) {
        (Some(v), _) => Some(v.clone()),
        (None, None) => Some(path.with_file_name("val.txt")),
        (None, Some(_)) => None,
    };
    let val: Arc<dyn Dataset> = match val_file {
        Some(f) => Arc::new(SequentialWindows::new(
            TokenStream::from_file(&f, &vocab)?,
            seq_len,
        )?),
        None => Arc::new(selfsup_data::Subset::new(windows.clone(), Vec::new())?),
    };
    let eval = play_eval(path, &vocab, d)?;
    Ok(Splits {
        vocab_size: Some(vocab.len()),
        lm: Some(LmData {
            windows: windows.clone(),
            vocab,
        }),
        ..Splits::unlabelled(windows, val)
    }
    .with_play_eval(eval))
}

/// The play-attribution evaluation of text runs: when the training file holds the eight vendored
/// Shakespeare plays, their `seq_len`-token windows labelled by play, the last 10 % of each play held
/// out as the queries (`selfsup_data::plays`); `data.max_samples` caps both (evenly spaced windows,
/// so every play stays). `None` for any other text (no labels to evaluate with).
fn play_eval(path: &std::path::Path, vocab: &Vocab, d: &DataConfig) -> Result<Option<EvalSplit>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(None);
    };
    let Some((bank, query)) = selfsup_data::plays::shakespeare_play_attribution(
        text,
        vocab,
        d.text.seq_len,
        PLAY_TEST_FRACTION,
    )?
    else {
        return Ok(None);
    };
    Ok(Some(EvalSplit {
        bank: limit(Arc::new(bank), d.max_samples)?,
        query: limit(Arc::new(query), d.max_samples)?,
    }))
}

/// The held-out tail of each play in the play-attribution evaluation.
pub const PLAY_TEST_FRACTION: f64 = 0.1;

/// The training loader over `splits.train` (augmented views, shuffled, last short batch dropped).
pub fn train_loader(cfg: &RunConfig, splits: &Splits) -> Result<Loader> {
    let train = splits.train.clone();
    let pipeline = match (&cfg.method, &splits.lm) {
        (MethodConfig::Language(c), Some(lm)) => {
            selfsup_pretext::language::train_pipeline(c, &lm.windows, lm.vocab.len() as i64)?
        }
        _ => views::train_pipeline(cfg, splits.vocab_size)?,
    };
    let lc = LoaderConfig {
        batch_size: cfg.data.batch_size.min(train.len()),
        shuffle: true,
        drop_last: true,
        num_threads: cfg.data.num_threads,
        seed: cfg.train.seed,
        bad_files: cfg.data.bad_files,
        ..Default::default()
    };
    Ok(Loader::new(train, pipeline, lc)?)
}

/// Every sample of `ds` through the evaluation pipeline (no augmentation), stacked: `(N × ..., labels)`.
/// For small data only (examples, fine-tuning); the evaluations of a run stream [`eval_loader`].
pub fn eval_arrays(cfg: &RunConfig, ds: Arc<dyn Dataset>) -> Result<(ArrayD<f32>, Vec<i64>)> {
    let (x, labels) = eval_stack(cfg, ds, true)?;
    Ok((x, labels.unwrap_or_default()))
}

/// Every sample of `ds` through the evaluation pipeline, stacked, labels or not.
pub fn eval_inputs(cfg: &RunConfig, ds: Arc<dyn Dataset>) -> Result<ArrayD<f32>> {
    Ok(eval_stack(cfg, ds, false)?.0)
}

/// A loader over every sample of `ds` through the evaluation pipeline (no augmentation, in order, the
/// last short batch kept, batches of 256): what the evaluations stream, batch by batch, so that no
/// split is ever held as one array. It applies the run's bad-file policy, and its
/// [`Loader::stats`] list the files it skipped.
pub fn eval_loader(cfg: &RunConfig, ds: Arc<dyn Dataset>) -> Result<Loader> {
    let pipeline: ViewPipeline = views::eval_pipeline(cfg)?;
    let lc = LoaderConfig {
        batch_size: 256.min(ds.len()).max(1),
        shuffle: false,
        drop_last: false,
        num_threads: cfg.data.num_threads,
        seed: cfg.train.seed,
        bad_files: cfg.data.bad_files,
        ..Default::default()
    };
    Ok(Loader::new(ds, pipeline, lc)?)
}

fn eval_stack(
    cfg: &RunConfig,
    ds: Arc<dyn Dataset>,
    need_labels: bool,
) -> Result<(ArrayD<f32>, Option<Vec<i64>>)> {
    let loader = eval_loader(cfg, ds)?;
    let mut parts = Vec::new();
    let mut labels = Vec::new();
    for b in loader.epoch(0) {
        let b = b?;
        if need_labels {
            let l = b
                .labels
                .as_ref()
                .context("the evaluation needs labels, and this dataset has none")?;
            labels.extend(l.iter().copied());
        }
        parts.push(b.views.into_iter().next().context("no view")?);
    }
    let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
    let x = ndarray::concatenate(Axis(0), &views).context("cannot stack the evaluation batches")?;
    Ok((x, need_labels.then_some(labels)))
}

/// Shape helper: `(channels)` of an `N×C×...` array.
pub fn channels_of(x: &ArrayD<f32>) -> i64 {
    if x.ndim() >= 3 {
        x.shape()[1] as i64
    } else {
        1
    }
}

/// An empty array (for typing).
#[allow(dead_code)]
pub fn empty() -> ArrayD<f32> {
    ArrayD::zeros(IxDyn(&[0]))
}
