//! Method presets: what `--method ae|dae|sparse_ae|vae|mae|jigsaw|relative_position|bert|<contrastive>` sets besides the
//! method itself when no config file is given, so that each auto-encoder trains well on the vendored data (figures and the
//! commands that produced them: `docs/benchmarks.md`, "Auto-encoder and pretext families through the
//! CLI"). Flags given with the method (`--backbone`, `--lr`, `--epochs`, `--batch-size`, ...) are applied
//! after the preset and override it.
//!
//! These values follow the references (pytorch/examples' VAE, MAE's optimizer with a short warm-up).
//! Measured through the CLI (benchmarks page): every kind beats its random-init encoder on the linear
//! probe on MNIST (ae 0.896, dae 0.887, sparse_ae 0.883, vae 0.847 with kNN 0.932, mae 0.642 → 0.933)
//! and on FSDD (log-mel AE 0.883, Audio-MAE 0.923 → 0.983); the MAE meets the 0.90.
//!
//! | kind | MNIST (28×28 digits) | FSDD (`[40, 51]` log-mels of 0.5 s) | optimizer |
//! | --- | --- | --- | --- |
//! | `ae`, `dae`, `sparse_ae` | MLP 784-512-64, mirrored decoder | MLP 2040-512-64 | Adam 1e-3 (constant for `sparse_ae`, else cosine), batch 128 |
//! | `vae` | MLP 784-400 → μ, logvar (20), pytorch/examples' VAE | MLP 2040-400 → 20, Gaussian (MSE) recon | Adam 1e-3, batch 128 |
//! | `mae` | ViT patch 7 (16 patches), width 128, depth 4, mask 0.75, `norm_pix_loss`, decoder 64 wide × 4 blocks, mean-token probe, 70 epochs | Audio-MAE: full-band `n_mels` × 3 patches (1 × 17 grid), mask 0.75, `norm_pix_loss`, decoder 2 blocks, mean token, 30 epochs | AdamW 1.5e-3, β = (0.9, 0.95), wd 0.05, 2 warm-up epochs, batch 64 |
//!
//! Other image datasets (CIFAR, image folders) keep the run's backbone (a ConvNet with a mirrored
//! upsampling decoder) and get the optimizer part of the preset; an MLP needs the sample size, which
//! only MNIST and FSDD fix in advance. Their MAE keeps the default 4-px patches (7 divides only the
//! 28-px digits) with `norm_pix_loss`, batch 128, 20 epochs.
//!
//! Contrastive methods on the built-in small datasets keep the run's optimizer and schedule and get
//! the head widths of lightly's CIFAR-10 benchmark (`apply_contrastive_preset`); the method table in
//! `docs/benchmarks.md` was measured with them.

use crate::methods::MethodConfig;
use crate::run::config::{DataKind, RunConfig};
use selfsup_autoencoder::{AutoencoderConfig, MaeConfig, Pool, ReconLoss};
use selfsup_nn::{BackboneConfig, MlpConfig};
use selfsup_pretext::language::LanguageModelConfig;
use selfsup_pretext::PretextConfig;
use selfsup_train::{OptimizerKind, ScheduleKind};

/// The ConvNet / `audio_cnn` widths of the pretext presets on the digits and FSDD.
pub const PRETEXT_WIDTHS: [i64; 3] = [32, 64, 128];

/// Relative position on the digits: the side they are upsampled to (training and evaluation), so
/// that a cell of the 3×3 grid is 18 px and the three-block ConvNet keeps a 2×2 map of a patch
/// (at 28 px a 9-px patch is 1×1 after its three pools).
pub const RELATIVE_DIGIT_SIDE: u32 = 56;

/// Relative position on the digits: the gap (fraction of a cell), 15-px patches in 18-px cells,
/// jittered by up to 3 px.
pub const RELATIVE_DIGIT_GAP: f64 = 0.15;

/// Temporal order on audio: the learning rate of its preset (AdamW; every temporal-order run was
/// measured at it, and the FSDD preset's 2e-3 ended lower on the three-segment form, `t4_lr2e3`).
pub const TEMPORAL_ORDER_LR: f64 = 5e-4;

/// Temporal order on audio: the epochs of its preset.
pub const TEMPORAL_ORDER_EPOCHS: u64 = 5;

/// SimSiam, BYOL and DINO on audio: the largest Adam(W) learning rate of their preset.
pub const AUDIO_PREDICTOR_TEACHER_LR: f64 = 5e-4;

/// DINO on audio: the teacher temperature of its preset (from the start, no warm-up).
pub const AUDIO_DINO_TEACHER_TEMP: f64 = 0.07;

/// Log-mel frames of the CLI's audio clips at the preset's clip length (0.5 s at 8 kHz, hop 10 ms,
/// centred frames): 51.
const FSDD_FRAMES: i64 = 51;

fn mlp(input_dim: i64, hidden: Vec<i64>, output_dim: i64) -> BackboneConfig {
    BackboneConfig::Mlp(MlpConfig {
        input_dim,
        hidden,
        output_dim,
        batch_norm: false,
    })
}

/// The flattened sample size the preset's MLP reads, when the dataset fixes it (MNIST, FSDD at the
/// run's mel bands and the default clip length).
fn sample_size(cfg: &RunConfig) -> Option<i64> {
    match cfg.data.kind {
        DataKind::MnistCsv | DataKind::MnistIdx => Some(28 * 28),
        DataKind::Fsdd | DataKind::AudioFolder
            if cfg.augment.clip_seconds == 0.5 && cfg.augment.sample_rate == 8000 =>
        {
            Some(cfg.augment.n_mels as i64 * FSDD_FRAMES)
        }
        _ => None,
    }
}

/// Whether the preset of the run's method chooses the backbone (an MLP sized for MNIST or FSDD), so
/// that the data-driven defaults (`crate::run::defaults`, e.g. `audio_cnn` for audio) leave it alone.
pub fn sets_backbone(cfg: &RunConfig) -> bool {
    matches!(
        &cfg.method,
        MethodConfig::Autoencoder(
            AutoencoderConfig::Ae(_)
                | AutoencoderConfig::Dae(_)
                | AutoencoderConfig::SparseAe(_)
                | AutoencoderConfig::Vae(_)
        )
    ) && sample_size(cfg).is_some()
}

/// Pretext presets for the 28-px MNIST digits (`docs/benchmarks.md`, "Pretext tasks", has the runs
/// that chose them): the tile and patch tasks are set to inputs the size of the images the encoder is
/// evaluated on — jigsaw puzzles as one assembled view (the shuffled tiles on the digit's canvas, no
/// per-tile standardisation, so that the background stays 0 as in the evaluation's digits); relative
/// position on digits upsampled to [`RELATIVE_DIGIT_SIDE`] (training and evaluation) with 15-px
/// patches in 18-px cells ([`RELATIVE_DIGIT_GAP`]): at 28 px its 9-px patches ended level with the
/// random init on three seeds, at 56 px it rises above the same run's random init on two (seed 0:
/// 0.899 → 0.920, seed 1: 0.903 → 0.919; the 56-px random-init bar is below the 28-px one, 0.929).
/// On audio, masked spectrogram modelling masks 75% of the 8×4 log-mel patches (with 50% the
/// conv decoder inpaints from the neighbours: probe 0.817 against 0.863 at 75%, random init 0.793,
/// FSDD, 5 epochs). CPC on audio trains the run's `audio_cnn` as its frame encoder (`encoder =
/// "backbone"`, evaluated on the backbone's pooled feature like every other method, predicting 2 of
/// the feature map's 6 time columns ahead, the negatives the clip's other times): its own Conv1d +
/// GRU encoder never rose above its random init (0.880–0.900 against 0.897); the backbone does
/// (seed 0: 0.793 → 0.837, seed 1: 0.853 → 0.873; FSDD, 5 epochs; with the batch's other clips as
/// negatives 0.793 → 0.840 but 0.853 → 0.833).
/// Temporal order on audio swaps (or not) the two halves of the voiced span inside the clip, the
/// boundary blanked (4 frames), AdamW 5e-4 for 5 epochs: every three-segment form ended below its
/// random init; this one ends level with it on FSDD over six seeds (−0.040 to +0.030, mean +0.001;
/// `docs/benchmarks.md`, "Pretext tasks", fifth pass).
/// On the digits and FSDD the backbone keeps the three blocks ([`PRETEXT_WIDTHS`]) these figures
/// were measured with. Other data keep the generators' defaults.
fn apply_pretext_preset(cfg: &mut RunConfig) {
    let digits = matches!(cfg.data.kind, DataKind::MnistCsv | DataKind::MnistIdx);
    let audio = cfg.data.kind.is_audio();
    let map_backbone = matches!(
        cfg.backbone,
        BackboneConfig::AudioCnn(_) | BackboneConfig::ConvNet(_)
    );
    let MethodConfig::Pretext(p) = &mut cfg.method else {
        return;
    };
    // (learning rate, epochs) a task's preset sets besides the method's fields.
    let mut train_preset = None;
    if digits || audio {
        // Every pretext figure on the digits and FSDD was tuned and measured on the three-block
        // networks (32-64-128); the main job's fourth block (issue 16) would also halve CPC's six
        // time columns to three.
        if let BackboneConfig::ConvNet(c) | BackboneConfig::AudioCnn(c) = &mut cfg.backbone {
            c.widths = PRETEXT_WIDTHS.to_vec();
        }
    }
    match p {
        PretextConfig::MaskedSpectrogram(m) if audio => m.mask_ratio = 0.75,
        PretextConfig::Jigsaw(j) if digits => {
            j.assemble_views = true;
            j.normalize_tiles = false;
        }
        PretextConfig::RelativePosition(r) if digits => {
            r.gap = RELATIVE_DIGIT_GAP;
            cfg.augment.image_size = Some(RELATIVE_DIGIT_SIDE);
        }
        PretextConfig::TemporalOrder(t) if audio && map_backbone => {
            // `scripts/ablations/pretext/t5_fnone*.toml`: every three-segment form ended below
            // the random init; the two halves of the voiced span, swapped or not, with the
            // boundary blanked, end level with it (six seeds, mean +0.001; `docs/benchmarks.md`,
            // fifth pass) — the best form found, not yet above it.
            t.segments = 2;
            t.n_permutations = 2;
            t.assemble_views = true;
            t.voiced_only = true;
            t.frame_norm = selfsup_pretext::audio::FrameNorm::None;
            t.boundary_gap = 4;
            train_preset = Some((TEMPORAL_ORDER_LR, TEMPORAL_ORDER_EPOCHS));
        }
        PretextConfig::Cpc(c) if audio && map_backbone => {
            c.encoder = selfsup_pretext::cpc::CpcEncoder::Backbone;
            c.embedding = selfsup_pretext::cpc::CpcEmbedding::Latent;
            c.prediction_steps = 2;
            c.negatives = selfsup_pretext::cpc::CpcNegatives::Sequence;
        }
        _ => {}
    }
    if let Some((lr, epochs)) = train_preset {
        cfg.train.optimizer.lr = lr;
        cfg.train.epochs = epochs;
    }
}

/// After a backbone chosen on the command line replaced the preset's: CPC's audio preset (the
/// backbone as its encoder) needs a backbone with a feature map, so on any other CPC keeps its own
/// encoder with its defaults.
pub fn fit_method_preset_to_backbone(cfg: &mut RunConfig) {
    let map_backbone = matches!(
        cfg.backbone,
        BackboneConfig::AudioCnn(_) | BackboneConfig::ConvNet(_)
    );
    if let MethodConfig::Pretext(PretextConfig::Cpc(c)) = &mut cfg.method {
        if !map_backbone && c.encoder == selfsup_pretext::cpc::CpcEncoder::Backbone {
            *c = Default::default();
        }
    }
}

/// The masked-token (BERT) preset on text: 40 % of the characters selected (Wettig et al., 2023,
/// "Should you mask 15 % in masked language modeling?") instead of BERT's 15 %, the 80-10-10 split
/// kept. On the character-level plays 15 % left the mean-pooled features at their random init's
/// play attribution after the 4 epochs of the preset (`docs/benchmarks.md`, "Play attribution").
fn apply_language_preset(cfg: &mut RunConfig) {
    if cfg.data.kind != DataKind::Text {
        return;
    }
    if let MethodConfig::Language(LanguageModelConfig::Bert(b)) = &mut cfg.method {
        b.mask.prob = 0.4;
    }
}

/// Contrastive methods on the built-in small datasets (the MNIST subset, CIFAR, FSDD and audio
/// folders): heads sized as in lightly's CIFAR-10 benchmark
/// ([`selfsup_contrastive::MethodConfig::use_small_data_heads`]) instead of the ImageNet papers'
/// (Barlow Twins' and VICReg's 8192-wide projectors, DINO's 65,536 outputs), which cost several times
/// the small encoders' step on a CPU and were never meant for a few hundred steps; VICReg with Adam(W)
/// at most 5e-4, and on audio SimSiam, BYOL and DINO too ([`AUDIO_PREDICTOR_TEACHER_LR`]), DINO's
/// teacher at [`AUDIO_DINO_TEACHER_TEMP`]. Image folders and text keep the paper defaults.
fn apply_contrastive_preset(cfg: &mut RunConfig) {
    let small = matches!(
        cfg.data.kind,
        DataKind::MnistCsv
            | DataKind::MnistIdx
            | DataKind::Cifar
            | DataKind::Fsdd
            | DataKind::AudioFolder
    );
    let MethodConfig::Contrastive(c) = &mut cfg.method else {
        return;
    };
    if !small {
        return;
    }
    c.use_small_data_heads();
    // VICReg with the main job's AdamW at 2e-3 spikes in its second epoch (loss 674, gradient norm
    // 2,452 at step 16 on the MNIST subset) and ends collapsed (kNN 0.840 → 0.668); at 5e-4 it trains
    // (`docs/benchmarks.md`, "Method table").
    let adam = matches!(
        cfg.train.optimizer.kind,
        OptimizerKind::Adam | OptimizerKind::Adamw
    );
    if matches!(c, selfsup_contrastive::MethodConfig::Vicreg(_)) && adam {
        cfg.train.optimizer.lr = cfg.train.optimizer.lr.min(5e-4);
    }
    // On log-mels the predictor / teacher methods at 2e-3 end below their random init (FSDD, 5
    // epochs: SimSiam 0.913 → 0.873, DINO 0.857); at 5e-4 SimSiam reaches 0.953 in 5 epochs and BYOL
    // 0.963 in the preset's 20 (`docs/benchmarks.md`, "Method table"). On the digits 2e-3 is kept
    // (SimSiam 0.974 there against 0.968 at 5e-4).
    let predictor_or_teacher = matches!(
        c,
        selfsup_contrastive::MethodConfig::Simsiam(_)
            | selfsup_contrastive::MethodConfig::Byol(_)
            | selfsup_contrastive::MethodConfig::Dino(_)
    );
    if cfg.data.kind.is_audio() && predictor_or_teacher && adam {
        cfg.train.optimizer.lr = cfg.train.optimizer.lr.min(AUDIO_PREDICTOR_TEACHER_LR);
    }
    // DINO on log-mels: with the teacher at 0.04 over 2,048 outputs its loss stays near log 2048 and
    // the probe at or below the random init (0.900–0.907, 5 and 20 epochs); at 0.07 (the top of the
    // paper's range) 0.963 in 5 epochs (`docs/benchmarks.md`, "Method table").
    if let selfsup_contrastive::MethodConfig::Dino(d) = c {
        if cfg.data.kind.is_audio() {
            d.teacher_temp = AUDIO_DINO_TEACHER_TEMP;
            d.warmup_teacher_temp = AUDIO_DINO_TEACHER_TEMP;
        }
    }
}

/// Applies the preset of the run's method (see the module documentation); methods without a preset
/// keep the run's settings, except the batch: on the data whose base config is the main job's, a
/// method other than the main job's SimCLR starts from [`METHOD_PRESET_BATCH`](crate::run::config::METHOD_PRESET_BATCH)
/// (256, what its figures were measured at) instead of the main job's 128.
pub fn apply_method_preset(cfg: &mut RunConfig) {
    if matches!(
        cfg.data.kind,
        DataKind::MnistCsv
            | DataKind::MnistIdx
            | DataKind::Cifar
            | DataKind::ImageFolder
            | DataKind::AudioFolder
    ) {
        cfg.data.batch_size = crate::run::config::METHOD_PRESET_BATCH;
    }
    apply_pretext_preset(cfg);
    apply_language_preset(cfg);
    apply_contrastive_preset(cfg);
    if !matches!(cfg.method, MethodConfig::Autoencoder(_)) {
        return;
    }
    let audio = cfg.data.kind.is_audio();
    let size = sample_size(cfg);
    let t = &mut cfg.train;
    t.optimizer.kind = OptimizerKind::Adam;
    t.optimizer.lr = 1e-3;
    t.optimizer.weight_decay = 0.0;
    t.schedule.warmup_epochs = 0.0;
    t.epochs = 20;
    cfg.data.batch_size = 128;
    cfg.eval.every_epochs = 5;
    let MethodConfig::Autoencoder(ae) = &mut cfg.method else {
        return;
    };
    match ae {
        AutoencoderConfig::Ae(_) | AutoencoderConfig::Dae(_) | AutoencoderConfig::SparseAe(_) => {
            if let Some(d) = size {
                cfg.backbone = mlp(d, vec![512], 64);
            }
            if matches!(ae, AutoencoderConfig::SparseAe(_)) {
                // The KL-sparse sigmoid code sits on the mean-image plateau for ~10 epochs; a
                // cosine decay leaves too little learning rate after it (probe 0.703, below the
                // random init's 0.819; constant: 0.883).
                cfg.train.schedule.kind = ScheduleKind::Constant;
            }
        }
        AutoencoderConfig::Vae(v) => {
            if let Some(d) = size {
                cfg.backbone = mlp(d, vec![], 400);
            }
            if audio {
                // Standardised log-mels are not probabilities: Gaussian (summed squared error).
                v.recon_loss = ReconLoss::Mse;
            }
            cfg.train.epochs = 30;
        }
        AutoencoderConfig::Mae(m) => {
            let digits = matches!(cfg.data.kind, DataKind::MnistCsv | DataKind::MnistIdx);
            *m = if audio {
                // Audio-MAE on the short FSDD log-mels: full-band patches of 3 frames (one token per
                // 30 ms of spectrum, the patch spans every mel band), so that the removed tokens are
                // predicted from the sound's course in time rather than interpolated from the bands
                // above and below; per-patch `norm_pix_loss` (the silence of the padded clips is a
                // constant patch, which it maps to 0). With 8 × 3 patches the encoder ended below
                // its random init (probe 0.787 → 0.700).
                MaeConfig {
                    mask_ratio: 0.75,
                    norm_pix_loss: true,
                    pool: Pool::Mean,
                    ..MaeConfig::audio(cfg.augment.n_mels as i64, 3)
                }
            } else if digits {
                // 7-px patches (a 4 × 4 grid): a removed quarter of a digit cannot be filled in from
                // its neighbours' pixels alone, and each step is ~3× cheaper than with 4-px patches,
                // which buys the longer schedule; the mean token probes better than the class token.
                MaeConfig {
                    norm_pix_loss: true,
                    patch_size: 7,
                    decoder_depth: 4,
                    pool: Pool::Mean,
                    ..MaeConfig::default()
                }
            } else {
                MaeConfig {
                    norm_pix_loss: true,
                    ..MaeConfig::default()
                }
            };
            if audio || digits {
                cfg.data.batch_size = 64;
                cfg.train.epochs = if audio { 30 } else { 70 };
            }
            let t = &mut cfg.train;
            t.optimizer.kind = OptimizerKind::Adamw;
            t.optimizer.lr = 1.5e-3;
            t.optimizer.betas = [0.9, 0.95];
            t.optimizer.weight_decay = 0.05;
            t.schedule.warmup_epochs = 2.0;
        }
    }
}
