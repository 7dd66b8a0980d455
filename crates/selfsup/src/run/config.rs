//! The run configuration of `selfsup pretrain`: one TOML file (or the defaults plus command-line
//! flags) holding the dataset, the augmentation recipe, the method, the backbone, the trainer and the
//! evaluation. Unknown keys are errors; `validate` names the bad field and its allowed values before
//! anything is loaded or trained. The resolved config is written to the run folder as `config.toml`.

use crate::methods::MethodConfig;
use anyhow::{bail, Context, Result};
use selfsup_augment::recipe::{Modality, RecipeName, RecipeOrName};
use selfsup_augment::tokens::TokenAugConfig;
use selfsup_data::text::{TextConfig, TokenizerKind};
use selfsup_nn::BackboneConfig;
use selfsup_nn::MethodSpec;
use selfsup_train::eval::{KnnConfig, LinearProbeConfig};
use selfsup_train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The dataset formats the CLI reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataKind {
    /// MNIST as CSV (784 pixels then the label per row, optionally gzipped): the vendored subset.
    MnistCsv,
    /// MNIST IDX files in a folder (`train-images-idx3-ubyte`, ...).
    MnistIdx,
    /// CIFAR-10 binary batches in a folder.
    Cifar,
    /// One sub-folder of images per class.
    ImageFolder,
    /// One sub-folder of WAV files per class.
    AudioFolder,
    /// Free Spoken Digit Dataset recordings (`{digit}_{speaker}_{index}.wav`).
    Fsdd,
    /// A text file (token sequences).
    Text,
}

impl DataKind {
    /// The allowed spellings.
    pub const NAMES: &'static str =
        "mnist-csv, mnist-idx, cifar, image-folder, audio-folder, fsdd, text";

    /// True for the audio datasets.
    pub fn is_audio(self) -> bool {
        matches!(self, DataKind::AudioFolder | DataKind::Fsdd)
    }

    /// The config spelling (`mnist-csv`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DataKind::MnistCsv => "mnist-csv",
            DataKind::MnistIdx => "mnist-idx",
            DataKind::Cifar => "cifar",
            DataKind::ImageFolder => "image-folder",
            DataKind::AudioFolder => "audio-folder",
            DataKind::Fsdd => "fsdd",
            DataKind::Text => "text",
        }
    }

    /// True when the samples carry class labels (kNN, probes): every kind but `text`.
    pub fn has_labels(self) -> bool {
        self != DataKind::Text
    }
}

/// `[data]`: where the samples come from and how they are batched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// The format.
    pub kind: DataKind,
    /// File or folder; absent = the vendored copy under `data/` (MNIST subset, FSDD, the Shakespeare
    /// plays for text).
    pub path: Option<PathBuf>,
    /// Samples per batch.
    pub batch_size: usize,
    /// Loader threads (0 = all cores).
    pub num_threads: usize,
    /// Fraction of the samples held out (stratified by class) as the evaluation split.
    pub val_fraction: f64,
    /// Use at most this many samples (0 = all): quick runs.
    pub max_samples: usize,
    /// Held-out data. Image and audio folders: a folder of the same class sub-folders (absent: a
    /// `val/` or `test/` folder next to `path/train/` when `path` has that layout, else
    /// `val_fraction` of each class); when the training folder is unlabelled, a labelled folder here
    /// is the kNN bank and queries. Language models (`gpt`, `bert`): a held-out text file for the
    /// validation loss (absent: the vendored The Tempest when `path` is absent too, else no
    /// validation). Other kinds have their own test split and refuse it.
    pub val_path: Option<PathBuf>,
    /// `kind = "text"`: tokenizer, sequence length and how the file is cut into samples
    /// (`[data.text]`; see `selfsup_data::text`).
    pub text: TextConfig,
    /// Files that cannot be read or decoded (empty, truncated, corrupt, NaN samples): `fail` (alias
    /// `error`) stops naming the file; `skip` leaves them out, refills a batch of bad files only,
    /// and lists them at the end of the run.
    pub bad_files: selfsup_data::BadFilePolicy,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            kind: DataKind::MnistCsv,
            path: None,
            batch_size: 256,
            num_threads: 0,
            val_fraction: 0.2,
            max_samples: 0,
            val_path: None,
            text: TextConfig::default(),
            bad_files: selfsup_data::BadFilePolicy::Fail,
        }
    }
}

/// `[augment]`: the multi-view recipe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// The recipe (`selfsup_augment::Recipe`): a name — images `digit` (old name `mnist`, a light
    /// recipe for 28×28 digits), `sim_clr` (`simclr`), `moco_v2`, `byol`, `dino`, `swav`; audio `cola`
    /// (`contrastive`), `byol_a`; text `tokens` — or a table `[augment.recipe]` with `kind` and the
    /// recipe's fields. The run-level `image_size`, `clip_seconds`, `sample_rate` and `n_mels` below
    /// set the recipe's own size, segment, rate and mel fields.
    pub recipe: RecipeOrName,
    /// Side of the square training crops and of the evaluation images (resize of the shorter side,
    /// then centre crop). Absent = chosen from the data when the run starts (MNIST 28, CIFAR 32, an
    /// image folder the shorter side of its first image, at most 96) and written to the run's
    /// `config.toml`.
    pub image_size: Option<u32>,
    /// Audio: clip length in seconds of each view.
    pub clip_seconds: f64,
    /// Audio: sample rate the clips are resampled to.
    pub sample_rate: u32,
    /// Audio: mel bands of the log-mel features.
    pub n_mels: usize,
    /// Text (recipe `tokens`): span crop and BERT-style masking of each view (`[augment.tokens]`).
    pub tokens: TokenAugConfig,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            recipe: RecipeName::Digit.into(),
            image_size: None,
            clip_seconds: 0.5,
            sample_rate: 8000,
            n_mels: 40,
            tokens: TokenAugConfig::default(),
        }
    }
}

/// `[eval]`: the downstream evaluations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// Evaluate before training (random initialisation) too.
    pub before: bool,
    /// kNN every this many epochs during training (0 = only at the end).
    pub every_epochs: u64,
    /// kNN settings.
    pub knn: KnnConfig,
    /// Linear-probe settings.
    pub probe: LinearProbeConfig,
    /// Train a linear classifier on the detached features of each training batch's first view during
    /// pretraining (the "online" probe), logging `online_probe_loss` / `online_probe_acc` per step.
    /// Absent = on when the dataset has labels (every kind but `text`); `true` on unlabelled data is
    /// an error.
    pub online_probe: Option<bool>,
    /// Adam learning rate of the online probe.
    pub online_probe_lr: f64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            before: true,
            every_epochs: 1,
            knn: KnnConfig::default(),
            probe: LinearProbeConfig::default(),
            online_probe: None,
            online_probe_lr: 1e-2,
        }
    }
}

/// A whole `selfsup pretrain` run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// The run folder (checkpoints, metrics, plots, config).
    pub out_dir: PathBuf,
    /// Dataset.
    pub data: DataConfig,
    /// Augmentation.
    pub augment: AugmentConfig,
    /// Method (`kind = "simclr"`, ...).
    pub method: MethodConfig,
    /// Backbone (`kind = "conv_net"`, ...).
    pub backbone: BackboneConfig,
    /// Trainer.
    pub train: TrainConfig,
    /// Evaluation.
    pub eval: EvalConfig,
}

/// The main job's batch (SimCLR on the digits, and the base of `--dataset cifar|image-folder|audio-folder`):
/// half of [`DataConfig`]'s 256, twice the steps over the same 15 epochs. On the main job's split and a
/// second split (one libtorch thread, the default L-BFGS probe), kNN 0.951 / 0.945 → 0.959 / 0.952 and
/// probe 0.977 / 0.976 → 0.981 / 0.977, for about 1.1–1.15× the training time (issue 16's stages 7–9,
/// `docs/benchmarks.md`).
pub const MAIN_JOB_BATCH: usize = 128;

/// The batch that another method chosen with `--method` (and no config file) starts from on the data
/// whose base is the main job: the batch the method table and the pretext presets were measured at.
/// The FSDD and text presets keep their own; a method's preset or `--batch-size` may still change it.
pub const METHOD_PRESET_BATCH: usize = 256;

impl Default for RunConfig {
    /// The main job: SimCLR on the vendored MNIST subset with a small ConvNet.
    fn default() -> Self {
        let mut train = TrainConfig {
            epochs: 15,
            log_every: 5,
            ..Default::default()
        };
        train.optimizer.kind = selfsup_train::OptimizerKind::Adamw;
        train.optimizer.lr = 2e-3;
        train.optimizer.weight_decay = 1e-4;
        train.schedule.warmup_epochs = 1.0;
        // The digit views (noise off by default) also rotated and x-sheared by up to 15°: with the
        // fourth ConvNet block, kNN on a validation split carved from the training rows rose from
        // 0.908 to 0.953 (issue 16's ablations, `docs/benchmarks.md`).
        let augment = AugmentConfig {
            recipe: selfsup_augment::Recipe::Digit(selfsup_augment::image::digit::DigitConfig {
                degrees: 15.0,
                shear: 15.0,
                ..Default::default()
            })
            .into(),
            ..Default::default()
        };
        RunConfig {
            out_dir: PathBuf::from("runs/simclr-mnist"),
            data: DataConfig {
                batch_size: MAIN_JOB_BATCH,
                ..Default::default()
            },
            augment,
            method: MethodConfig::Contrastive(selfsup_contrastive::MethodConfig::Simclr(
                selfsup_contrastive::methods::SimClrConfig {
                    temperature: 0.5,
                    hidden_dim: 256,
                    output_dim: 64,
                    batch_norm: true,
                },
            )),
            // Four blocks: the fourth (256 channels at 3×3) adds a quarter to a step's cost and
            // lifted kNN by 1.9 points on a validation split (issue 16, `docs/benchmarks.md`).
            backbone: BackboneConfig::ConvNet(selfsup_nn::backbones::ConvNetConfig {
                widths: vec![32, 64, 128, 256],
                ..Default::default()
            }),
            train,
            eval: EvalConfig::default(),
        }
    }
}

impl RunConfig {
    /// Whether the online probe runs: `eval.online_probe`, or when absent, whether the data has labels.
    pub fn online_probe_enabled(&self) -> bool {
        self.eval
            .online_probe
            .unwrap_or_else(|| self.data.kind.has_labels())
    }

    /// The FSDD preset: the audio recipe (`cola`, without added noise) on the vendored spoken digits,
    /// a small CNN over log-mels (`audio_cnn`, widths 32, 64, 128, 256).
    pub fn fsdd() -> Self {
        let mut c = RunConfig {
            out_dir: PathBuf::from("runs/simclr-fsdd"),
            ..Default::default()
        };
        c.data.kind = DataKind::Fsdd;
        c.data.batch_size = 128;
        // COLA's FSDD recipe without its added noise, and a fourth CNN block: together they lifted
        // kNN from 0.780 to 0.810 and the probe from 0.967 to 0.983 (one run, issue 16,
        // `docs/benchmarks.md`).
        c.augment.recipe = selfsup_augment::Recipe::Cola(selfsup_augment::audio::ColaConfig {
            noise_p: 0.0,
            ..selfsup_augment::audio::ColaConfig::fsdd()
        })
        .into();
        c.backbone = BackboneConfig::AudioCnn(selfsup_nn::backbones::ConvNetConfig {
            widths: vec![32, 64, 128, 256],
            ..Default::default()
        });
        c.train.epochs = 20;
        c
    }

    /// The text preset: SimCLR over two token views of a text file with a small Transformer encoder
    /// (mean-pooled): each view is a 64-byte window cut from the same 256-byte passage
    /// (`augment.tokens.context = 4`, `crop_scale = [0.25, 0.25]`: neighbouring crops), with no masking
    /// on top (`mask_prob = 0`: the 15 % BERT masking of the token recipe's default lost 1–1.6 points of
    /// play-attribution probe on two seeds), 40 epochs of the 4× fewer passages (the steps of 10 epochs
    /// over 64-byte windows), kNN every 10 epochs. `data.path` absent = the vendored Shakespeare plays,
    /// whose 64-byte windows kNN and the linear probe attribute to their play before and after training
    /// (`run::data`); crops of one window (`context = 1`, spans of 50–100 % padded back) did not transfer there
    /// (`docs/benchmarks.md`, "Play attribution").
    pub fn text() -> Self {
        let mut c = RunConfig {
            out_dir: PathBuf::from("runs/simclr-text"),
            ..Default::default()
        };
        c.data.kind = DataKind::Text;
        c.data.batch_size = 64;
        c.data.text.seq_len = 64;
        c.augment.recipe = RecipeName::Tokens.into();
        c.augment.tokens.context = 4;
        c.augment.tokens.crop_scale = (0.25, 0.25);
        c.augment.tokens.mask_prob = 0.0;
        c.backbone = BackboneConfig::TransformerEncoder(selfsup_nn::backbones::TransformerConfig {
            vocab_size: selfsup_data::text::Vocab::bytes().len() as i64,
            max_len: 64,
            dim: 64,
            depth: 2,
            heads: 4,
            mlp_ratio: 2.0,
        });
        c.train.epochs = 40;
        c.train.optimizer.lr = 1e-3;
        c.eval.every_epochs = 10;
        c
    }

    /// The Shakespeare preset: a character GPT (nanoGPT's small CPU shape: 4 layers, 4 heads, width
    /// 128, context 64, batch 32, 4 epochs of keyed random windows) on the vendored eight plays,
    /// validated on The Tempest (1.836 nats/char in 2 min 45 s on the 2-core machine).
    pub fn shakespeare() -> Self {
        let mut c = RunConfig::text();
        c.out_dir = PathBuf::from("runs/gpt-shakespeare");
        // The language models read windows, not the SimCLR preset's token views.
        c.augment.tokens = TokenAugConfig::default();
        c.eval.every_epochs = 1;
        c.data.batch_size = 32;
        c.data.text.tokenizer = TokenizerKind::Char;
        c.method = MethodConfig::from_kind("gpt").expect("gpt is a registered kind");
        c.backbone = BackboneConfig::TransformerEncoder(selfsup_nn::backbones::TransformerConfig {
            vocab_size: 128,
            max_len: 64,
            dim: 128,
            depth: 4,
            heads: 4,
            mlp_ratio: 4.0,
        });
        c.train.epochs = 4;
        c.train.optimizer.lr = 1e-3;
        c.train.optimizer.weight_decay = 0.1;
        c.train.schedule.warmup_epochs = 0.1;
        c
    }

    /// True for the language-model kinds (`gpt`, `bert`).
    pub fn is_language_model(&self) -> bool {
        matches!(self.method, MethodConfig::Language(_))
    }

    /// Reads a TOML run file; unknown keys are errors naming the key.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the run config {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Parses a TOML run config.
    pub fn from_toml(text: &str) -> Result<Self> {
        let cfg: RunConfig =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("invalid run config: {e}"))?;
        Ok(cfg)
    }

    /// Checks every section; the error names the field and the allowed values.
    pub fn validate(&self) -> Result<()> {
        self.train.validate()?;
        self.method.validate()?;
        self.backbone.validate()?;
        self.eval.knn.validate()?;
        self.eval.probe.validate()?;
        selfsup_core::check::positive("eval.online_probe_lr", self.eval.online_probe_lr)?;
        if self.eval.online_probe == Some(true) && !self.data.kind.has_labels() {
            bail!(
                "invalid value for `eval.online_probe`: `true` needs class labels, and `data.kind = {}` has none; set it to false or leave it out",
                self.data.kind.name()
            );
        }
        selfsup_core::check::at_least("data.batch_size", self.data.batch_size, 2)?;
        if self.augment.image_size == Some(0) {
            bail!("invalid value for `augment.image_size`: must be ≥ 1 (or absent for the dataset's native size), got 0");
        }
        if self.data.val_path.is_some()
            && !matches!(
                self.data.kind,
                DataKind::ImageFolder | DataKind::AudioFolder | DataKind::Text
            )
        {
            bail!(
                "invalid value for `data.val_path` (--val-data): `data.kind = {}` has its own test split; a held-out path is read for image-folder, audio-folder and text only",
                self.data.kind.name()
            );
        }
        if !(0.0..1.0).contains(&self.data.val_fraction) || self.data.val_fraction <= 0.0 {
            bail!(
                "invalid value for `data.val_fraction`: must be in (0, 1), got {}",
                self.data.val_fraction
            );
        }
        let modality = match self.data.kind {
            DataKind::Text => Modality::Tokens,
            k if k.is_audio() => Modality::Audio,
            _ => Modality::Image,
        };
        // Language models read windows, not augmented views: no recipe is used.
        if !self.is_language_model() && self.augment.recipe.modality() != modality {
            let allowed: Vec<&str> = RecipeName::ALL
                .iter()
                .filter(|n| n.modality() == modality)
                .map(|n| n.as_str())
                .collect();
            bail!(
                "invalid value for `augment.recipe`: `{}` is not a recipe for {} data; allowed: {}",
                self.augment.recipe.name(),
                self.data.kind.name(),
                allowed.join(", ")
            );
        }
        self.augment.recipe.validate()?;
        if self.data.kind == DataKind::Text {
            self.validate_text()?;
        } else if matches!(self.backbone, BackboneConfig::TransformerEncoder(_)) {
            bail!(
                "invalid value for `backbone.kind`: `transformer_encoder` takes token ids, and `data.kind = {}` gives {}; use it with `data.kind = \"text\"`",
                self.data.kind.name(),
                if self.data.kind.is_audio() { "spectrograms" } else { "images" }
            );
        }
        if let Some(v) = self.augment.image_size {
            if !(8..=4096).contains(&v) {
                bail!("invalid value for `augment.image_size` (--image-size): must be in 8..=4096 pixels, got {v}");
            }
        }
        if self.augment.clip_seconds <= 0.0 {
            bail!(
                "invalid value for `augment.clip_seconds`: must be > 0, got {}",
                self.augment.clip_seconds
            );
        }
        Ok(())
    }

    /// The text-specific checks: the token recipe, a Transformer encoder that covers the vocabulary
    /// and the sequence length, and methods that work without labels.
    fn validate_text(&self) -> Result<()> {
        self.data.text.validate().map_err(|e| match e {
            selfsup_core::Error::InvalidConfig { field, message } => {
                selfsup_core::Error::config(format!("data.text.{field}"), message)
            }
            other => other,
        })?;
        self.augment.tokens.validate()?;
        let BackboneConfig::TransformerEncoder(t) = &self.backbone else {
            bail!(
                "invalid value for `backbone.kind`: text data needs `transformer_encoder` (token ids in, mean-pooled features out)"
            );
        };
        let seq_len = self.data.text.seq_len as i64;
        if t.max_len < seq_len {
            bail!(
                "invalid value for `backbone.max_len`: must be >= `data.text.seq_len` = {seq_len}, got {}",
                t.max_len
            );
        }
        if self.data.text.tokenizer == TokenizerKind::Byte {
            let need = selfsup_data::text::Vocab::bytes().len() as i64;
            if t.vocab_size < need {
                bail!(
                    "invalid value for `backbone.vocab_size`: the byte tokenizer has {need} ids, got {}",
                    t.vocab_size
                );
            }
        }
        if let MethodConfig::Contrastive(selfsup_contrastive::MethodConfig::Supcon(_)) = self.method
        {
            bail!(
                "invalid value for `method`: `supcon` needs class labels, and text data has none"
            );
        }
        Ok(())
    }

    /// The config as TOML text.
    /// An absent `train.clip_grad_norm` (TOML has no null) is written as a comment saying what
    /// absent means, so that every `Option` field of the run shows its effective value.
    pub fn to_toml(&self) -> Result<String> {
        let text = toml::to_string(self).context("cannot serialise the run config")?;
        if self.train.clip_grad_norm.is_some() {
            return Ok(text);
        }
        Ok(text.replacen(
            "\n[train]\n",
            "\n[train]\n# clip_grad_norm: absent = no gradient clipping (a positive max L2 norm clips)\n",
            1,
        ))
    }
}

/// Finds the vendored `data/` folder: `$SELFSUP_DATA`, else `data/` in the current folder or one of its
/// parents, else next to the executable (`target/<profile>/selfsup` → `../../data`).
pub fn find_data_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("SELFSUP_DATA") {
        return Some(PathBuf::from(d));
    }
    let mut starts = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(p) = exe.parent() {
            starts.push(p.to_path_buf());
        }
    }
    for s in starts {
        for dir in s.ancestors() {
            let d = dir.join("data");
            if d.join("mnist5k").is_dir() || d.join("fsdd").is_dir() {
                return Some(d);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_and_fsdd_presets_validate_and_round_trip() {
        for c in [
            RunConfig::default(),
            RunConfig::fsdd(),
            RunConfig::text(),
            RunConfig::shakespeare(),
        ] {
            c.validate().unwrap();
            let back = RunConfig::from_toml(&c.to_toml().unwrap()).unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn kind_names_are_the_config_spellings() {
        for k in [
            DataKind::MnistCsv,
            DataKind::MnistIdx,
            DataKind::Cifar,
            DataKind::ImageFolder,
            DataKind::AudioFolder,
            DataKind::Fsdd,
            DataKind::Text,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
            assert!(DataKind::NAMES.contains(k.name()));
        }
    }

    #[test]
    fn the_online_probe_defaults_to_labelled_data_and_validates() {
        let mut c = RunConfig::default();
        assert!(c.online_probe_enabled());
        c.eval.online_probe = Some(false);
        assert!(!c.online_probe_enabled());
        c.eval.online_probe_lr = 0.0;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("eval.online_probe_lr"), "{e}");
        let e = RunConfig::from_toml("[eval]\nonline_probe = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("online_probe"), "{e}");
    }

    #[test]
    fn the_text_preset_contrasts_unmasked_neighbouring_windows() {
        let t = RunConfig::text().augment.tokens;
        assert_eq!(
            (t.context, t.crop_scale, t.mask_prob),
            (4, (0.25, 0.25), 0.0)
        );
        // The token recipe's own default (what BERT-style views start from) keeps its masking.
        assert_eq!(RunConfig::default().augment.tokens.mask_prob, 0.15);
    }

    #[test]
    fn text_configs_need_the_token_recipe_and_a_fitting_transformer() {
        let bad = |f: &dyn Fn(&mut RunConfig)| {
            let mut c = RunConfig::text();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        let e = bad(&|c| c.data.text.seq_len = 0);
        assert!(e.contains("data.text.seq_len"), "{e}");
        let e = bad(&|c| c.data.text.seq_len = 65);
        assert!(e.contains("backbone.max_len") && e.contains("65"), "{e}");
        let e = bad(&|c| {
            if let BackboneConfig::TransformerEncoder(t) = &mut c.backbone {
                t.vocab_size = 100;
            }
        });
        assert!(
            e.contains("backbone.vocab_size") && e.contains("259"),
            "{e}"
        );
        let e = bad(&|c| c.backbone = RunConfig::default().backbone);
        assert!(e.contains("backbone.kind"), "{e}");
        let e = bad(&|c| c.augment.recipe = RecipeName::Digit.into());
        assert!(e.contains("augment.recipe") && e.contains("tokens"), "{e}");
        let e = bad(&|c| c.augment.tokens.mask_prob = 2.0);
        assert!(e.contains("augment.tokens.mask_prob"), "{e}");
        // And the token recipe and encoder belong to text only.
        let c = RunConfig {
            backbone: RunConfig::text().backbone,
            ..Default::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("backbone.kind") && e.contains("text"), "{e}");
        assert!(!RunConfig::text().online_probe_enabled());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_field() {
        let e = RunConfig::from_toml("[data]\nbatch_sise = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("batch_sise"), "{e}");
        let e = RunConfig::from_toml("[data]\nkind = \"mnist\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("mnist-csv"), "{e}");
        let e = RunConfig::from_toml("[augment]\nrecipe = \"jitter\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("augment.recipe") && e.contains("sim_clr"), "{e}");
        let mut c = RunConfig::fsdd();
        c.augment.recipe = RecipeName::SimClr.into();
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("augment.recipe") && e.contains("cola, byol_a"),
            "{e}"
        );
        let mut c = RunConfig::default();
        c.train.epochs = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("train.epochs"));
        let mut c = RunConfig::default();
        c.data.val_fraction = 1.5;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("data.val_fraction"));
    }
}
