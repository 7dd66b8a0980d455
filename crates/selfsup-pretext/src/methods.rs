//! Pretext heads and methods (feature `torch`): one [`PretextMethod`] per [`PretextConfig`], a
//! [`Method`] the trainer drives like any other.
//!
//! - Classification tasks (rotation, jigsaw, relative position, temporal order): every view goes
//!   through the shared backbone (all views as one batch); the features of one sample's views are
//!   concatenated (`N × views·D`; rotation's RotNet form instead classifies each view on its own) and a
//!   head `Linear(·, 512) → ReLU → Linear(512, classes)` under `head` predicts the class with
//!   cross-entropy. The step logs `pretext_acc` (accuracy of the batch).
//!   Temporal order with `assemble_views` has one view (the shuffled segments end to end); its
//!   head reads the backbone's feature map average-pooled over each segment's share of the time
//!   axis (`adaptive_avg_pool2d` to `1 × segments`), the segments' features concatenated; with
//!   `voiced_only` (segments of the voiced span, not at fixed places) pooled over frequency only,
//!   every time column of the map concatenated.
//!   With `frame_norm` ([`FrameNorm`]) every input, the task's views and what `embed` reads, is
//!   normalised per frame over the frequency bins first ([`normalize_frames`]).
//!   Relative position with `whole_image_stats` has a third view, the whole image: after the
//!   optimizer step the backbone's batch-norm running statistics are put back as they were before
//!   the task's forward pass and the whole images run through it in training mode without
//!   gradient, so the statistics `embed` uses are those of whole images, not of patches
//!   (`after_optimizer_step`; not earlier, as the backward pass reads the statistics in place).
//! - Dense tasks (colorization, inpainting, masked spectrogram): a small decoder under `decoder`,
//!   `Linear(D, 512) → ReLU → Linear(512, C·H·W)`, maps the backbone's features to the target map;
//!   the loss is the weighted mean squared error `Σ w (ŷ − y)² / (C · Σ w)` with the target's weight
//!   plane `w` (the crate's dense-target convention; masked spectrogram modelling weighs the masked
//!   cells only). The step logs `pretext_mse`. Masked spectrogram modelling decodes by default from
//!   the backbone's feature map before the global pool ([`SpecDecoder::Conv`]): per stage nearest
//!   upsampling to the size of the matching encoder stage (`F×T` halved per stage, floor), a 3×3
//!   convolution, batch norm and ReLU (`decoder.blocks.{i}.{conv,bn}`), then a 3×3 convolution to the
//!   spectrogram's channels (`decoder.out`).
//!
//! CPC has its own model ([`crate::cpc_method::CpcMethod`]: frame encoder + GRU context, no
//! backbone from `[backbone]`); [`MethodSpec::build`] picks it for `kind = "cpc"`.
//!
//! Batches: `views[v]` is view `v` of every sample (`N×C×H×W`, or `N×F×T` spectrograms, which get a
//! channel axis); `targets` is `N` int64 (classes), `N×4` int64 (RotNet form), or `N×(C+1)×H×W`
//! float (dense). The encoder for evaluation is the backbone (`embed`); colorization's encoder sees
//! lightness only, so `embed` turns 3-channel input into `L / 100` first.

use crate::audio::{FrameNorm, SpecDecoder};
use crate::config::{pretext_generator, PretextConfig};
use selfsup_core::Error;
use selfsup_nn::{
    build_backbone, Backbone, BackboneConfig, Batch, InputSpec, Method, MethodSpec, Result,
    StepInfo, StepOutput,
};
use tch::nn::{self, Module, ModuleT, VarStore};
use tch::{Kind, Tensor};

/// Width of the hidden layer of every head and decoder.
pub const HEAD_HIDDEN: i64 = 512;

/// Width of the per-pixel code of colorization's classification decoder.
pub const PIXEL_CODE: i64 = 16;

#[derive(Debug)]
enum Head {
    /// Classes over the concatenated features of `views` views (`per_view`: one label per view);
    /// `map_segments`: one view whose feature map is pooled over that many time spans (the
    /// segments, or every time column of the map for voiced spans).
    Classify {
        fc1: nn::Linear,
        fc2: nn::Linear,
        views: usize,
        per_view: bool,
        map_segments: Option<i64>,
    },
    /// Colorization over the 313 `ab` bins: per-pixel logits at the input's `hw`, factorised as
    /// `Linear(D, 512) → ReLU → Linear(512, E·H·W)` (an `E`-dim code per pixel) and a per-pixel
    /// `Linear(E, 313)`; `counts` (a buffer) accumulates the nearest-bin counts of the training
    /// pixels seen, the empirical distribution of the class rebalancing.
    ColorClasses {
        fc1: nn::Linear,
        fc2: nn::Linear,
        classify: nn::Linear,
        hw: [i64; 2],
        neighbours: i64,
        sigma: f64,
        lambda: f64,
        counts: Tensor,
    },
    /// A dense map of `shape = [C, H, W]` (C target planes, without the weight plane).
    Decode {
        fc1: nn::Linear,
        fc2: nn::Linear,
        shape: [i64; 3],
    },
    /// A dense map of `shape` from the backbone's feature map: upsampling stages, then `out`.
    MapDecode {
        blocks: Vec<(nn::Conv2D, selfsup_nn::layers::BatchNorm)>,
        out: nn::Conv2D,
        shape: [i64; 3],
    },
}

/// A pretext method; see the module docs.
#[derive(Debug)]
pub struct PretextMethod {
    kind: &'static str,
    vs: VarStore,
    backbone: Box<dyn Backbone>,
    head: Head,
    lightness_input: bool,
    frame_norm: FrameNorm,
    /// The view whose batch sets the backbone's batch-norm running statistics (not classified).
    stats_view: Option<usize>,
    /// The running statistics before this step's first forward pass, and the stats views of its
    /// micro-batches, until `after_optimizer_step`.
    pending_stats: Option<(Vec<(String, Tensor)>, Vec<Tensor>)>,
}

/// `x` (`N×C×F×T` or `N×F×T` spectrograms) with every frame normalised over its bins and channels
/// by `norm` (see [`FrameNorm`]): with `Mean` each frame's mean over `C·F` is 0 afterwards, with
/// `Standardize` also its (biased) standard deviation is 1, or 0 for a constant frame.
pub fn normalize_frames(x: &Tensor, norm: FrameNorm) -> Tensor {
    if norm == FrameNorm::None {
        return x.shallow_clone();
    }
    let dims: Vec<i64> = (1..x.dim() as i64 - 1).collect();
    let mean = x.mean_dim(&dims[..], true, Kind::Float);
    let centred = x.to_kind(Kind::Float) - mean;
    match norm {
        FrameNorm::Standardize => {
            let std = centred
                .square()
                .mean_dim(&dims[..], true, Kind::Float)
                .sqrt();
            centred / (std + 1e-5)
        }
        _ => centred,
    }
}

fn err(msg: String) -> selfsup_nn::Error {
    Error::shape(msg).into()
}

/// `L / 100` of an `N×3×H×W` RGB batch in `[0, 1]` (CIE L of scikit-image's `rgb2lab`).
fn lightness(x: &Tensor) -> Tensor {
    let lin = (x / 12.92).where_self(
        &x.le(0.04045),
        &((x + 0.055) / 1.055).pow_tensor_scalar(2.4),
    );
    let y = lin.narrow(1, 0, 1) * 0.212671
        + lin.narrow(1, 1, 1) * 0.715160
        + lin.narrow(1, 2, 1) * 0.072169;
    let f = y
        .clamp_min(1e-12)
        .pow_tensor_scalar(1.0 / 3.0)
        .where_self(&y.gt(0.008856), &(&y * 7.787 + 16.0 / 116.0));
    (f * 116.0 - 16.0) / 100.0
}

impl PretextMethod {
    /// Builds the method for inputs of one sample's `input_shape` (`[C, H, W]`, or `[F, T]` /
    /// `[C, F, T]` spectrograms) under a fresh `vs`.
    pub fn new(
        vs: VarStore,
        cfg: &PretextConfig,
        backbone: &BackboneConfig,
        input_shape: &[i64],
    ) -> Result<Self> {
        let generator = pretext_generator(cfg)?;
        let shape: [i64; 3] = match *input_shape {
            [c, h, w] => [c, h, w],
            [f, t] => [1, f, t],
            _ => {
                return Err(Error::config(
                    "input.shape",
                    format!(
                        "pretext methods need [C, H, W] or [F, T] samples, got {input_shape:?}"
                    ),
                )
                .into())
            }
        };
        if shape.iter().any(|&d| d < 1) {
            return Err(Error::config(
                "input.shape",
                format!("must be positive, got {input_shape:?}"),
            )
            .into());
        }
        let colorization = matches!(cfg, PretextConfig::Colorization(_));
        if colorization && shape[0] != 3 {
            return Err(Error::config(
                "method.kind",
                format!(
                    "colorization needs RGB (3-channel) input, got {} channel(s)",
                    shape[0]
                ),
            )
            .into());
        }
        let in_channels = if colorization { 1 } else { shape[0] };
        // The views reach the backbone as `N×C×H×W` (a channel axis added to spectrograms); their
        // height and width are the task's (tiles, patches), so `mlp`'s input_dim and `vit`'s
        // image_size are left to the task, only the kind of input is checked here.
        if !matches!(backbone, BackboneConfig::Mlp(_) | BackboneConfig::Vit(_)) {
            backbone.check_input(&[in_channels, shape[1], shape[2]])?;
        }
        let root = vs.root();
        let backbone = build_backbone(&(&root / "backbone"), backbone, in_channels)?;
        let d = backbone.output_dim();
        // The backbone's feature map before its pool, if it has one (probed in eval mode, no state).
        let map_size = tch::no_grad(|| {
            let probe = Tensor::zeros(
                [1, in_channels, shape[1], shape[2]],
                (Kind::Float, vs.device()),
            );
            backbone.forward_map_t(&probe, false).map(|m| m.size())
        });
        let has_map = map_size.is_some();
        let hp = &root / "head";
        let map_segments = match cfg {
            PretextConfig::TemporalOrder(t) if t.assemble_views => {
                if !has_map {
                    return Err(Error::config(
                        "method.assemble_views",
                        "temporal order with assembled views needs a backbone with a feature map (audio_cnn or conv_net)",
                    )
                    .into());
                }
                // Voiced spans are not at fixed places: the head sees every time column.
                Some(match &map_size {
                    Some(m) if t.voiced_only => m[3],
                    _ => t.segments as i64,
                })
            }
            _ => None,
        };
        let stats_view = match cfg {
            PretextConfig::RelativePosition(r) if r.whole_image_stats => Some(2),
            _ => None,
        };
        let task_views = generator.n_views() - usize::from(stats_view.is_some());
        let head = match generator.num_classes() {
            Some(classes) => {
                let per_view = matches!(cfg, PretextConfig::Rotation(r) if r.all_four);
                let views = if per_view { 1 } else { task_views };
                let width = d * views as i64 * map_segments.unwrap_or(1);
                Head::Classify {
                    fc1: selfsup_nn::layers::linear(&hp / "fc1", width, HEAD_HIDDEN, true),
                    fc2: selfsup_nn::layers::linear(&hp / "fc2", HEAD_HIDDEN, classes as i64, true),
                    views: task_views,
                    per_view,
                    map_segments,
                }
            }
            None if matches!(cfg, PretextConfig::Colorization(c) if c.mode == crate::colorization::ColorizationMode::Classification) =>
            {
                let PretextConfig::Colorization(c) = cfg else {
                    unreachable!("matched above")
                };
                let (h, w) = (shape[1], shape[2]);
                let dp = &root / "decoder";
                Head::ColorClasses {
                    fc1: selfsup_nn::layers::linear(&dp / "fc1", d, HEAD_HIDDEN, true),
                    fc2: selfsup_nn::layers::linear(
                        &dp / "fc2",
                        HEAD_HIDDEN,
                        PIXEL_CODE * h * w,
                        true,
                    ),
                    classify: selfsup_nn::layers::linear(
                        &dp / "classify",
                        PIXEL_CODE,
                        crate::ab_bins::N_AB_BINS as i64,
                        true,
                    ),
                    hw: [h, w],
                    neighbours: c.neighbours as i64,
                    sigma: c.sigma,
                    lambda: c.rebalance_lambda,
                    counts: dp.zeros_no_train("ab_counts", &[crate::ab_bins::N_AB_BINS as i64]),
                }
            }
            None if matches!(cfg, PretextConfig::MaskedSpectrogram(m)
                if m.decoder == SpecDecoder::Conv || (m.decoder == SpecDecoder::Auto && has_map)) =>
            {
                let PretextConfig::MaskedSpectrogram(m) = cfg else {
                    unreachable!("matched above")
                };
                if !has_map {
                    return Err(Error::config(
                        "method.decoder",
                        "the conv decoder needs a backbone with a feature map (audio_cnn or conv_net); use decoder = \"mlp\"",
                    )
                    .into());
                }
                let dp = &root / "decoder";
                let mut c_in = d;
                let blocks = m
                    .decoder_widths
                    .iter()
                    .enumerate()
                    .map(|(i, &w)| {
                        let b = &dp / "blocks" / i;
                        let conv = selfsup_nn::layers::conv2d(
                            &(&b / "conv"),
                            c_in,
                            w as i64,
                            3,
                            1,
                            1,
                            false,
                        );
                        c_in = w as i64;
                        (
                            conv,
                            selfsup_nn::layers::BatchNorm::new(&(&b / "bn"), w as i64),
                        )
                    })
                    .collect();
                let out = selfsup_nn::layers::conv2d(&(&dp / "out"), c_in, shape[0], 3, 1, 1, true);
                Head::MapDecode { blocks, out, shape }
            }
            None => {
                let out = if colorization {
                    [2, shape[1], shape[2]]
                } else {
                    shape
                };
                let dp = &root / "decoder";
                Head::Decode {
                    fc1: selfsup_nn::layers::linear(&dp / "fc1", d, HEAD_HIDDEN, true),
                    fc2: selfsup_nn::layers::linear(
                        &dp / "fc2",
                        HEAD_HIDDEN,
                        out.iter().product(),
                        true,
                    ),
                    shape: out,
                }
            }
        };
        Ok(PretextMethod {
            kind: generator.kind(),
            vs,
            backbone,
            head,
            lightness_input: colorization,
            frame_norm: match cfg {
                PretextConfig::TemporalOrder(t) => t.frame_norm,
                _ => FrameNorm::None,
            },
            stats_view,
            pending_stats: None,
        })
    }

    /// Copies of the backbone's batch-norm running statistics (and batch counts), by name.
    fn bn_buffers(&self) -> Vec<(String, Tensor)> {
        self.vs
            .variables()
            .into_iter()
            .filter(|(k, _)| {
                k.starts_with("backbone")
                    && ["running_mean", "running_var", "num_batches_tracked"]
                        .iter()
                        .any(|b| k.ends_with(b))
            })
            .map(|(k, t)| (k, t.detach().copy()))
            .collect()
    }

    /// Puts `saved` (from [`Self::bn_buffers`]) back, then runs the batches `xs` through the
    /// backbone in training mode without gradient: the running statistics move towards their
    /// batch statistics only.
    fn refresh_bn_stats(&self, saved: &[(String, Tensor)], xs: &[Tensor]) -> Result<()> {
        let vars = self.vs.variables();
        tch::no_grad(|| -> Result<()> {
            for (k, t) in saved {
                let mut dst = vars
                    .get(k)
                    .ok_or_else(|| err(format!("{}: no buffer {k}", self.kind)))?
                    .shallow_clone();
                dst.f_copy_(t)?;
            }
            for x in xs {
                let _ = self.backbone.forward_t(x, true);
            }
            Ok(())
        })
    }

    fn view(&self, batch: &Batch, v: usize) -> Result<Tensor> {
        let x = batch.views.get(v).ok_or_else(|| {
            err(format!(
                "{} needs view {v}, the batch has {} view(s)",
                self.kind,
                batch.views.len()
            ))
        })?;
        let x = if x.dim() == 3 {
            x.unsqueeze(1)
        } else {
            x.shallow_clone()
        };
        Ok(normalize_frames(&x, self.frame_norm))
    }

    /// Class logits of a batch (`N × classes`, or `N·4 × 4` in view-major order for the RotNet form).
    fn logits(&self, batch: &Batch, train: bool) -> Result<Tensor> {
        let Head::Classify {
            fc1,
            fc2,
            views,
            per_view,
            map_segments,
        } = &self.head
        else {
            return Err(err(format!("{} has no class head", self.kind)));
        };
        let xs = (0..*views)
            .map(|v| self.view(batch, v))
            .collect::<Result<Vec<_>>>()?;
        let n = xs[0].size()[0];
        if let Some(segs) = map_segments {
            let map = self
                .backbone
                .forward_map_t(&xs[0], train)
                .ok_or_else(|| err(format!("{}: the backbone has no feature map", self.kind)))?;
            // N×D×h×w -> N×D×1×segments -> N×segments·D (segment-major, like the views' form)
            let pooled = map.adaptive_avg_pool2d([1, *segs]).squeeze_dim(2);
            let h = pooled.transpose(1, 2).reshape([n, -1]);
            return Ok(fc2.forward(&fc1.forward(&h).relu()));
        }
        let feats = self.backbone.forward_t(&Tensor::f_cat(&xs, 0)?, train);
        let h = if *per_view {
            feats
        } else {
            // [v0 of all N; v1 of all N; ...] -> N × views·D
            let d = feats.size()[1];
            feats
                .f_reshape([*views as i64, n, d])?
                .transpose(0, 1)
                .reshape([n, *views as i64 * d])
        };
        Ok(fc2.forward(&fc1.forward(&h).relu()))
    }
}

impl Method for PretextMethod {
    fn name(&self) -> &str {
        self.kind
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn step(&mut self, batch: &Batch, _info: &StepInfo) -> Result<StepOutput> {
        if let Some(v) = self.stats_view {
            let x = self.view(batch, v)?;
            let (saved, mut xs) = match self.pending_stats.take() {
                Some(p) => p,
                None => (self.bn_buffers(), Vec::new()),
            };
            xs.push(x);
            self.pending_stats = Some((saved, xs));
        }
        let (loss, scalars) = self.objective(batch, true)?;
        Ok(StepOutput::new(loss, scalars))
    }

    fn after_optimizer_step(&mut self, _info: &StepInfo) -> Result<()> {
        match self.pending_stats.take() {
            Some((saved, xs)) => self.refresh_bn_stats(&saved, &xs),
            None => Ok(()),
        }
    }

    fn evaluate(&mut self, batch: &Batch) -> Result<Vec<(String, f64)>> {
        let (loss, mut scalars) = tch::no_grad(|| self.objective(batch, false))?;
        scalars.insert(0, ("val_loss".into(), loss.double_value(&[])));
        Ok(scalars)
    }

    fn embed(&self, x: &Tensor) -> Result<Tensor> {
        let x = if x.dim() == 3 {
            x.unsqueeze(1)
        } else {
            x.shallow_clone()
        };
        let x = if self.lightness_input && x.size().get(1) == Some(&3) {
            lightness(&x)
        } else {
            normalize_frames(&x, self.frame_norm)
        };
        Ok(tch::no_grad(|| self.backbone.forward_t(&x, false)))
    }

    fn embed_dim(&self) -> i64 {
        self.backbone.output_dim()
    }
}

impl PretextMethod {
    /// The loss and the logged scalars of a batch (`train`: BN in training mode).
    fn objective(&self, batch: &Batch, train: bool) -> Result<(Tensor, Vec<(String, f64)>)> {
        let targets = batch
            .targets
            .as_ref()
            .ok_or_else(|| err(format!("{} needs pretext targets in the batch", self.kind)))?;
        match &self.head {
            Head::Classify { per_view, .. } => {
                let logits = self.logits(batch, train)?;
                let labels = if *per_view {
                    // N×4 per-view labels -> view-major, as the views were concatenated.
                    targets.f_transpose(0, 1)?.reshape([-1])
                } else {
                    targets.reshape([-1])
                };
                if labels.size()[0] != logits.size()[0] {
                    return Err(err(format!(
                        "{}: {} targets for {} predictions",
                        self.kind,
                        labels.size()[0],
                        logits.size()[0]
                    )));
                }
                let labels = labels.to_kind(Kind::Int64);
                let loss = logits.f_cross_entropy_loss::<Tensor>(
                    &labels,
                    None,
                    tch::Reduction::Mean,
                    -100,
                    0.0,
                )?;
                let acc = tch::no_grad(|| {
                    logits
                        .argmax(1, false)
                        .eq_tensor(&labels)
                        .to_kind(Kind::Float)
                        .mean(Kind::Float)
                        .double_value(&[])
                });
                Ok((loss, vec![("pretext_acc".into(), acc)]))
            }
            Head::ColorClasses {
                fc1,
                fc2,
                classify,
                hw,
                neighbours,
                sigma,
                lambda,
                counts,
            } => {
                let x = self.view(batch, 0)?;
                let n = x.size()[0];
                let (h, w, k) = (hw[0], hw[1], *neighbours);
                let want = [n, 2 * k + 1, h, w];
                if targets.size() != want {
                    return Err(err(format!(
                        "colorization (classification): targets of shape {:?}, expected {want:?} (k bin indices, k weights, weight plane)",
                        targets.size()
                    )));
                }
                let feats = self.backbone.forward_t(&x, train);
                let code = fc2
                    .forward(&fc1.forward(&feats).relu())
                    .reshape([n, PIXEL_CODE, h, w])
                    .permute([0, 2, 3, 1]);
                let logp = classify.forward(&code).log_softmax(-1, Kind::Float); // N×H×W×Q
                let t = targets.to_kind(Kind::Float).permute([0, 2, 3, 1]); // N×H×W×(2k+1)
                let idx = t.narrow(3, 0, k).to_kind(Kind::Int64);
                let wts = t.narrow(3, k, k);
                let pix = t.narrow(3, 2 * k, 1).squeeze_dim(3);
                let nearest = idx.narrow(3, 0, 1).squeeze_dim(3);
                let q = crate::ab_bins::N_AB_BINS as i64;
                let class_w = tch::no_grad(|| -> Result<Tensor> {
                    if train {
                        let mut c = counts.shallow_clone();
                        let add = nearest
                            .reshape([-1])
                            .bincount::<Tensor>(None, q)
                            .to_kind(Kind::Float);
                        let _ = c.f_add_(&add)?;
                    }
                    let host: Vec<f64> = Vec::<f64>::try_from(counts.to_kind(Kind::Double))?;
                    let weights = match crate::ab_bins::smoothed_prior(&host, *sigma) {
                        Ok(prior) => crate::ab_bins::rebalance_weights(&prior, *lambda),
                        Err(_) => vec![1.0; q as usize], // nothing counted yet
                    };
                    Ok(Tensor::from_slice(&weights)
                        .to_kind(Kind::Float)
                        .to_device(x.device()))
                })?;
                let ce =
                    -(logp.gather(3, &idx, false) * &wts).sum_dim_intlist(3, false, Kind::Float);
                let v = class_w
                    .index_select(0, &nearest.reshape([-1]))
                    .reshape([n, h, w])
                    * &pix;
                let loss = (&v * &ce).sum(Kind::Float) / pix.sum(Kind::Float).clamp_min(1e-8);
                let acc = tch::no_grad(|| {
                    let hit = logp
                        .argmax(3, false)
                        .eq_tensor(&nearest)
                        .to_kind(Kind::Float)
                        * &pix;
                    hit.sum(Kind::Float).double_value(&[])
                        / pix.sum(Kind::Float).double_value(&[]).max(1e-8)
                });
                Ok((loss, vec![("pretext_acc".into(), acc)]))
            }
            Head::Decode { shape, .. } | Head::MapDecode { shape, .. } => {
                let x = self.view(batch, 0)?;
                let n = x.size()[0];
                let pred = self.decode(&x, train)?;
                let t = if targets.dim() == 3 {
                    targets.unsqueeze(1)
                } else {
                    targets.shallow_clone()
                };
                let want = [n, shape[0] + 1, shape[1], shape[2]];
                if t.size() != want {
                    return Err(err(format!(
                        "{}: dense targets of shape {:?}, expected {want:?} (target planes + weight plane)",
                        self.kind,
                        t.size()
                    )));
                }
                let t = t.to_kind(Kind::Float);
                let y = t.narrow(1, 0, shape[0]);
                let w = t.narrow(1, shape[0], 1);
                let se = (&pred - &y).square() * &w;
                let denom = w.sum(Kind::Float).clamp_min(1e-8) * shape[0] as f64;
                let loss = se.sum(Kind::Float) / denom;
                let mse = tch::no_grad(|| {
                    let m = w.gt(0.0).to_kind(Kind::Float);
                    ((&pred - &y).square() * &m)
                        .sum(Kind::Float)
                        .double_value(&[])
                        / (m.sum(Kind::Float).double_value(&[]).max(1e-8) * shape[0] as f64)
                });
                Ok((loss, vec![("pretext_mse".into(), mse)]))
            }
        }
    }

    /// The dense prediction (`N×C×H×W`, the target's planes without the weight plane) of a batch of
    /// views `x` (`N×C×H×W`) by the `Decode` or `MapDecode` head.
    pub fn decode(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let n = x.size()[0];
        match &self.head {
            Head::Decode { fc1, fc2, shape } => {
                let feats = self.backbone.forward_t(x, train);
                Ok(fc2
                    .forward(&fc1.forward(&feats).relu())
                    .reshape([n, shape[0], shape[1], shape[2]]))
            }
            Head::MapDecode { blocks, out, shape } => {
                let mut h = self.backbone.forward_map_t(x, train).ok_or_else(|| {
                    err(format!("{}: the backbone has no feature map", self.kind))
                })?;
                // Stage i upsamples to the size of encoder stage k-1-i: F×T halved (floor) per stage.
                let k = blocks.len();
                let mut sizes = vec![[shape[1], shape[2]]];
                for _ in 1..k {
                    let [a, b] = *sizes.last().expect("non-empty");
                    sizes.push([(a / 2).max(1), (b / 2).max(1)]);
                }
                for (i, (conv, bn)) in blocks.iter().enumerate() {
                    h = h.upsample_nearest2d(sizes[k - 1 - i], None, None);
                    h = bn.forward_t(&conv.forward(&h), train).relu();
                }
                let y = out.forward(&h);
                if y.size()[2..] != shape[1..] {
                    return Err(err(format!(
                        "{}: decoded {:?}, expected {:?}",
                        self.kind,
                        y.size(),
                        shape
                    )));
                }
                Ok(y)
            }
            _ => Err(err(format!("{} has no dense decoder", self.kind))),
        }
    }

    /// Class predictions (`argmax` of the head) of a batch in eval mode, without gradient; dense tasks
    /// return an error.
    pub fn predict(&self, batch: &Batch) -> Result<Tensor> {
        tch::no_grad(|| Ok(self.logits(batch, false)?.argmax(1, false)))
    }
}

impl MethodSpec for PretextConfig {
    fn name(&self) -> &'static str {
        self.kind()
    }

    fn validate(&self) -> selfsup_core::Result<()> {
        PretextConfig::validate(self)
    }

    fn min_views(&self) -> usize {
        self.n_views()
    }

    fn build(
        &self,
        vs: VarStore,
        backbone: &BackboneConfig,
        input: &InputSpec,
    ) -> Result<Box<dyn Method>> {
        if let PretextConfig::Cpc(c) = self {
            return Ok(Box::new(crate::cpc_method::CpcMethod::new(
                vs,
                c,
                backbone,
                &input.shape,
            )?));
        }
        Ok(Box::new(PretextMethod::new(
            vs,
            self,
            backbone,
            &input.shape,
        )?))
    }
}
