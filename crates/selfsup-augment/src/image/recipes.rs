//! Multi-view recipes as serde-configurable presets: SimCLR, MoCo v2, BYOL (asymmetric views), and
//! DINO / SwAV multi-crop (global + local crops of different sizes).
//!
//! Field names and defaults follow lightly's transforms (`SimCLRTransform`, `MoCoV2Transform`,
//! `BYOLView1Transform`/`BYOLView2Transform`, `DINOTransform`, `SwaVTransform`), which follow the papers.
//! Each view is `RandomResizedCrop → horizontal flip → vertical flip → RandomApply(ColorJitter) →
//! RandomGrayscale → RandomApply(GaussianBlur) → RandomSolarize → Normalize`, stages with probability 0
//! being left out.
//!
//! ## Blur
//! lightly blurs with PIL's radius-σ filter; here blur is torchvision's `GaussianBlur` with σ from
//! `sigmas` and the SimCLR paper's kernel size (odd, ≈10% of the crop size: 23 at 224, 9 at 96).
//! At small inputs lightly's CIFAR-10 recipes turn blur off; here `gaussian_blur` is optional and, when
//! omitted, means the paper value (0.5 for SimCLR/MoCo v2) **except for `input_size ≤ 32`, where it
//! means 0** (no blur). Write the value explicitly to override either way.
//!
//! ## Normalisation
//! `normalize` defaults to ImageNet statistics (3 channels). For 1-channel images (MNIST) set it to one
//! value each (e.g. `{ mean = [0.1307], std = [0.3081] }`) or to `null`/omit it via `normalize = false`
//! equivalents: a count mismatch is an error at application time that names both counts.

use super::blur::GaussianBlur;
use super::color::{ColorJitter, Normalize, RandomGrayscale, RandomSolarize};
use super::geometry::{
    CenterCrop, RandomHorizontalFlip, RandomResizedCrop, RandomVerticalFlip, Resize, ResizeSize,
};
use selfsup_core::{check, BoxTransform, Compose, Error, ImageF32, MultiView, RandomApply, Result};
use serde::{Deserialize, Serialize};

/// Per-channel normalisation statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizeConfig {
    /// Per-channel means.
    pub mean: Vec<f32>,
    /// Per-channel standard deviations (> 0).
    pub std: Vec<f32>,
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        NormalizeConfig {
            mean: Normalize::IMAGENET_MEAN.to_vec(),
            std: Normalize::IMAGENET_STD.to_vec(),
        }
    }
}

fn default_normalize() -> Option<NormalizeConfig> {
    Some(NormalizeConfig::default())
}

/// Everything one view's pipeline needs (internal; the recipe configs fill it).
#[derive(Clone, Debug)]
struct ViewSpec {
    size: usize,
    scale: (f64, f64),
    hf_prob: f64,
    vf_prob: f64,
    cj_prob: f64,
    cj: (f64, f64, f64, f64),
    gray: f64,
    blur: f64,
    sigmas: (f64, f64),
    solarize: f64,
    normalize: Option<NormalizeConfig>,
}

fn view_pipeline(s: &ViewSpec) -> Result<BoxTransform<ImageF32>> {
    let mut c: Compose<ImageF32> = Compose::new(Vec::new());
    c.push(RandomResizedCrop::with_params(
        (s.size, s.size),
        s.scale,
        (3.0 / 4.0, 4.0 / 3.0),
    )?);
    if s.hf_prob > 0.0 {
        c.push(RandomHorizontalFlip::new(s.hf_prob)?);
    }
    if s.vf_prob > 0.0 {
        c.push(RandomVerticalFlip::new(s.vf_prob)?);
    }
    if s.cj_prob > 0.0 {
        let (b, ct, sa, h) = s.cj;
        c.push(RandomApply::new(
            s.cj_prob,
            ColorJitter::new(b, ct, sa, h)?,
        )?);
    }
    if s.gray > 0.0 {
        c.push(RandomGrayscale::new(s.gray)?);
    }
    if s.blur > 0.0 {
        let k = GaussianBlur::simclr_kernel_size(s.size);
        c.push(RandomApply::new(s.blur, GaussianBlur::new(k, s.sigmas)?)?);
    }
    if s.solarize > 0.0 {
        c.push(RandomSolarize::new(0.5, s.solarize)?);
    }
    if let Some(n) = &s.normalize {
        c.push(Normalize::new(n.mean.clone(), n.std.clone())?);
    }
    Ok(Box::new(c))
}

fn check_common(
    prefix: &str,
    input_size: usize,
    (lo_field, hi_field): (&str, &str),
    scale: (f64, f64),
    probs: &[(&str, f64)],
    cj: &[(&str, f64)],
    hue: f64,
    sigmas: (f64, f64),
) -> Result<()> {
    check::at_least(&format!("{prefix}.input_size"), input_size, 1)?;
    check::interval(&format!("{prefix}.{lo_field}/{hi_field}"), scale, 0.0, 1.0)?;
    check::positive(&format!("{prefix}.{hi_field}"), scale.1)?;
    for (f, p) in probs {
        check::probability(&format!("{prefix}.{f}"), *p)?;
    }
    for (f, v) in cj {
        check::non_negative(&format!("{prefix}.{f}"), *v)?;
    }
    check::in_range(
        &format!("{prefix}.cj_hue (times cj_strength)"),
        hue,
        0.0,
        0.5,
    )?;
    check::interval(&format!("{prefix}.sigmas"), sigmas, 0.0, f64::MAX)?;
    check::positive(&format!("{prefix}.sigmas[0]"), sigmas.0)?;
    Ok(())
}

fn check_normalize(prefix: &str, n: &Option<NormalizeConfig>) -> Result<()> {
    if let Some(n) = n {
        Normalize::new(n.mean.clone(), n.std.clone()).map_err(|e| match e {
            Error::InvalidConfig { field, message } => {
                Error::config(format!("{prefix}.{field}"), message)
            }
            other => other,
        })?;
    }
    Ok(())
}

macro_rules! simclr_like_config {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, { $($field:ident : $value:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            /// Output crop size (square).
            pub input_size: usize,
            /// Smallest crop area fraction.
            pub min_scale: f64,
            /// Largest crop area fraction.
            pub max_scale: f64,
            /// Probability of colour jitter.
            pub cj_prob: f64,
            /// Multiplies the four jitter strengths.
            pub cj_strength: f64,
            /// Brightness strength.
            pub cj_bright: f64,
            /// Contrast strength.
            pub cj_contrast: f64,
            /// Saturation strength.
            pub cj_sat: f64,
            /// Hue strength (× `cj_strength` must be ≤ 0.5).
            pub cj_hue: f64,
            /// Probability of greyscale.
            pub random_gray_scale: f64,
            /// Probability of blur; omitted = 0.5, or 0 when `input_size ≤ 32`.
            pub gaussian_blur: Option<f64>,
            /// Blur σ range.
            pub sigmas: (f64, f64),
            /// Horizontal flip probability.
            pub hf_prob: f64,
            /// Vertical flip probability.
            pub vf_prob: f64,
            /// Normalisation (ImageNet by default; `None` to skip).
            #[serde(default = "default_normalize")]
            pub normalize: Option<NormalizeConfig>,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    $($field: $value,)*
                }
            }
        }

        impl $name {
            /// The blur probability actually used (see the module docs).
            pub fn blur_prob(&self) -> f64 {
                self.gaussian_blur
                    .unwrap_or(if self.input_size <= 32 { 0.0 } else { 0.5 })
            }

            /// Validates every field, naming the offending one.
            pub fn validate(&self) -> Result<()> {
                let s = self.cj_strength;
                check_common(
                    $prefix,
                    self.input_size,
                    ("min_scale", "max_scale"),
                    (self.min_scale, self.max_scale),
                    &[
                        ("cj_prob", self.cj_prob),
                        ("random_gray_scale", self.random_gray_scale),
                        ("gaussian_blur", self.blur_prob()),
                        ("hf_prob", self.hf_prob),
                        ("vf_prob", self.vf_prob),
                    ],
                    &[
                        ("cj_strength", s),
                        ("cj_bright", self.cj_bright),
                        ("cj_contrast", self.cj_contrast),
                        ("cj_sat", self.cj_sat),
                        ("cj_hue", self.cj_hue),
                    ],
                    self.cj_hue * s,
                    self.sigmas,
                )?;
                check_normalize($prefix, &self.normalize)
            }

            fn spec(&self) -> ViewSpec {
                let s = self.cj_strength;
                ViewSpec {
                    size: self.input_size,
                    scale: (self.min_scale, self.max_scale),
                    hf_prob: self.hf_prob,
                    vf_prob: self.vf_prob,
                    cj_prob: self.cj_prob,
                    cj: (self.cj_bright * s, self.cj_contrast * s, self.cj_sat * s, self.cj_hue * s),
                    gray: self.random_gray_scale,
                    blur: self.blur_prob(),
                    sigmas: self.sigmas,
                    solarize: 0.0,
                    normalize: self.normalize.clone(),
                }
            }

            /// One view's pipeline.
            pub fn view(&self) -> Result<BoxTransform<ImageF32>> {
                self.validate()?;
                view_pipeline(&self.spec())
            }

            /// Two views with the same pipeline.
            pub fn build(&self) -> Result<MultiView<ImageF32>> {
                self.validate()?;
                MultiView::new(vec![view_pipeline(&self.spec())?, view_pipeline(&self.spec())?])
            }
        }
    };
}

simclr_like_config!(
    /// SimCLR (Chen et al. 2020): two views from the same pipeline; lightly's `SimCLRTransform` defaults
    /// (crops from 8% of the image, jitter (0.8, 0.8, 0.8, 0.2) with p 0.8, greyscale 0.2, blur 0.5).
    SimClrConfig, "sim_clr", {
        input_size: 224,
        min_scale: 0.08,
        max_scale: 1.0,
        cj_prob: 0.8,
        cj_strength: 1.0,
        cj_bright: 0.8,
        cj_contrast: 0.8,
        cj_sat: 0.8,
        cj_hue: 0.2,
        random_gray_scale: 0.2,
        gaussian_blur: None,
        sigmas: (0.1, 2.0),
        hf_prob: 0.5,
        vf_prob: 0.0,
        normalize: default_normalize(),
    }
);

simclr_like_config!(
    /// MoCo v2 (Chen et al. 2020): SimCLR's pipeline with weaker jitter (0.4, 0.4, 0.4, 0.1) and crops
    /// from 20% of the image; lightly's `MoCoV2Transform` defaults. The two views are query and key.
    MocoV2Config, "moco_v2", {
        input_size: 224,
        min_scale: 0.2,
        max_scale: 1.0,
        cj_prob: 0.8,
        cj_strength: 1.0,
        cj_bright: 0.4,
        cj_contrast: 0.4,
        cj_sat: 0.4,
        cj_hue: 0.1,
        random_gray_scale: 0.2,
        gaussian_blur: None,
        sigmas: (0.1, 2.0),
        hf_prob: 0.5,
        vf_prob: 0.0,
        normalize: default_normalize(),
    }
);

/// BYOL (Grill et al. 2020): two asymmetric views — view 1 always blurred and never solarized, view 2
/// rarely blurred (0.1) and solarized with probability 0.2; lightly's `BYOLView{1,2}Transform` defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ByolConfig {
    /// Output crop size.
    pub input_size: usize,
    /// Smallest crop area fraction.
    pub min_scale: f64,
    /// Largest crop area fraction.
    pub max_scale: f64,
    /// Probability of colour jitter.
    pub cj_prob: f64,
    /// Multiplies the four jitter strengths.
    pub cj_strength: f64,
    /// Brightness strength.
    pub cj_bright: f64,
    /// Contrast strength.
    pub cj_contrast: f64,
    /// Saturation strength.
    pub cj_sat: f64,
    /// Hue strength.
    pub cj_hue: f64,
    /// Probability of greyscale.
    pub random_gray_scale: f64,
    /// Blur probabilities of view 1 and view 2.
    pub gaussian_blur: (f64, f64),
    /// Blur σ range.
    pub sigmas: (f64, f64),
    /// Solarization probabilities of view 1 and view 2 (threshold 0.5).
    pub solarization_prob: (f64, f64),
    /// Horizontal flip probability.
    pub hf_prob: f64,
    /// Vertical flip probability.
    pub vf_prob: f64,
    /// Normalisation (ImageNet by default).
    #[serde(default = "default_normalize")]
    pub normalize: Option<NormalizeConfig>,
}

impl Default for ByolConfig {
    fn default() -> Self {
        ByolConfig {
            input_size: 224,
            min_scale: 0.08,
            max_scale: 1.0,
            cj_prob: 0.8,
            cj_strength: 1.0,
            cj_bright: 0.4,
            cj_contrast: 0.4,
            cj_sat: 0.2,
            cj_hue: 0.1,
            random_gray_scale: 0.2,
            gaussian_blur: (1.0, 0.1),
            sigmas: (0.1, 2.0),
            solarization_prob: (0.0, 0.2),
            hf_prob: 0.5,
            vf_prob: 0.0,
            normalize: default_normalize(),
        }
    }
}

impl ByolConfig {
    /// Validates every field.
    pub fn validate(&self) -> Result<()> {
        let s = self.cj_strength;
        check_common(
            "byol",
            self.input_size,
            ("min_scale", "max_scale"),
            (self.min_scale, self.max_scale),
            &[
                ("cj_prob", self.cj_prob),
                ("random_gray_scale", self.random_gray_scale),
                ("gaussian_blur[0]", self.gaussian_blur.0),
                ("gaussian_blur[1]", self.gaussian_blur.1),
                ("solarization_prob[0]", self.solarization_prob.0),
                ("solarization_prob[1]", self.solarization_prob.1),
                ("hf_prob", self.hf_prob),
                ("vf_prob", self.vf_prob),
            ],
            &[
                ("cj_strength", s),
                ("cj_bright", self.cj_bright),
                ("cj_contrast", self.cj_contrast),
                ("cj_sat", self.cj_sat),
                ("cj_hue", self.cj_hue),
            ],
            self.cj_hue * s,
            self.sigmas,
        )?;
        check_normalize("byol", &self.normalize)
    }

    fn spec(&self, view: usize) -> ViewSpec {
        let s = self.cj_strength;
        ViewSpec {
            size: self.input_size,
            scale: (self.min_scale, self.max_scale),
            hf_prob: self.hf_prob,
            vf_prob: self.vf_prob,
            cj_prob: self.cj_prob,
            cj: (
                self.cj_bright * s,
                self.cj_contrast * s,
                self.cj_sat * s,
                self.cj_hue * s,
            ),
            gray: self.random_gray_scale,
            blur: if view == 0 {
                self.gaussian_blur.0
            } else {
                self.gaussian_blur.1
            },
            sigmas: self.sigmas,
            solarize: if view == 0 {
                self.solarization_prob.0
            } else {
                self.solarization_prob.1
            },
            normalize: self.normalize.clone(),
        }
    }

    /// Two views with different pipelines.
    pub fn build(&self) -> Result<MultiView<ImageF32>> {
        self.validate()?;
        MultiView::new(vec![
            view_pipeline(&self.spec(0))?,
            view_pipeline(&self.spec(1))?,
        ])
    }
}

/// Multi-crop (DINO, SwAV): `n_global` global crops of `input_size` and `n_local` local crops of
/// `local_size`. Defaults are lightly's `DINOTransform` (2 × 224 px from 40–100% of the image, 6 × 96 px
/// from 5–40%, jitter strength 0.5, global blur 1.0 / 0.1, local blur 0.5, solarize the second global
/// view with probability 0.2); [`MultiCropConfig::swav`] gives SwAV's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultiCropConfig {
    /// Global crop size.
    pub input_size: usize,
    /// Global crop area fraction range.
    pub global_crop_scale: (f64, f64),
    /// Number of global crops (≥ 1).
    pub n_global_views: usize,
    /// Local crop size.
    pub local_size: usize,
    /// Local crop area fraction range.
    pub local_crop_scale: (f64, f64),
    /// Number of local crops.
    pub n_local_views: usize,
    /// Probability of colour jitter.
    pub cj_prob: f64,
    /// Multiplies the four jitter strengths.
    pub cj_strength: f64,
    /// Brightness strength.
    pub cj_bright: f64,
    /// Contrast strength.
    pub cj_contrast: f64,
    /// Saturation strength.
    pub cj_sat: f64,
    /// Hue strength.
    pub cj_hue: f64,
    /// Probability of greyscale.
    pub random_gray_scale: f64,
    /// Blur probabilities: first global view, other global views, local views.
    pub gaussian_blur: (f64, f64, f64),
    /// Blur σ range.
    pub sigmas: (f64, f64),
    /// Solarization probability of the second global view.
    pub solarization_prob: f64,
    /// Horizontal flip probability.
    pub hf_prob: f64,
    /// Vertical flip probability.
    pub vf_prob: f64,
    /// Normalisation (ImageNet by default).
    #[serde(default = "default_normalize")]
    pub normalize: Option<NormalizeConfig>,
}

impl Default for MultiCropConfig {
    fn default() -> Self {
        MultiCropConfig {
            input_size: 224,
            global_crop_scale: (0.4, 1.0),
            n_global_views: 2,
            local_size: 96,
            local_crop_scale: (0.05, 0.4),
            n_local_views: 6,
            cj_prob: 0.8,
            cj_strength: 0.5,
            cj_bright: 0.8,
            cj_contrast: 0.8,
            cj_sat: 0.4,
            cj_hue: 0.2,
            random_gray_scale: 0.2,
            gaussian_blur: (1.0, 0.1, 0.5),
            sigmas: (0.1, 2.0),
            solarization_prob: 0.2,
            hf_prob: 0.5,
            vf_prob: 0.0,
            normalize: default_normalize(),
        }
    }
}

impl MultiCropConfig {
    /// SwAV's multi-crop (lightly's `SwaVTransform`): 2 × 224 px from 14–100%, 6 × 96 px from 5–14%,
    /// jitter strength 1.0 with (0.8, 0.8, 0.8, 0.2), blur 0.5 everywhere, no solarization.
    pub fn swav() -> Self {
        MultiCropConfig {
            global_crop_scale: (0.14, 1.0),
            local_crop_scale: (0.05, 0.14),
            cj_strength: 1.0,
            cj_sat: 0.8,
            gaussian_blur: (0.5, 0.5, 0.5),
            solarization_prob: 0.0,
            ..Self::default()
        }
    }

    /// Validates every field.
    pub fn validate(&self) -> Result<()> {
        let s = self.cj_strength;
        check::at_least("multi_crop.n_global_views", self.n_global_views, 1)?;
        check::at_least("multi_crop.local_size", self.local_size, 1)?;
        check::interval(
            "multi_crop.local_crop_scale",
            self.local_crop_scale,
            0.0,
            1.0,
        )?;
        check::positive("multi_crop.local_crop_scale[1]", self.local_crop_scale.1)?;
        check_common(
            "multi_crop",
            self.input_size,
            ("global_crop_scale[0]", "global_crop_scale[1]"),
            self.global_crop_scale,
            &[
                ("cj_prob", self.cj_prob),
                ("random_gray_scale", self.random_gray_scale),
                ("gaussian_blur[0]", self.gaussian_blur.0),
                ("gaussian_blur[1]", self.gaussian_blur.1),
                ("gaussian_blur[2]", self.gaussian_blur.2),
                ("solarization_prob", self.solarization_prob),
                ("hf_prob", self.hf_prob),
                ("vf_prob", self.vf_prob),
            ],
            &[
                ("cj_strength", s),
                ("cj_bright", self.cj_bright),
                ("cj_contrast", self.cj_contrast),
                ("cj_sat", self.cj_sat),
                ("cj_hue", self.cj_hue),
            ],
            self.cj_hue * s,
            self.sigmas,
        )?;
        check_normalize("multi_crop", &self.normalize)
    }

    fn spec(&self, size: usize, scale: (f64, f64), blur: f64, solarize: f64) -> ViewSpec {
        let s = self.cj_strength;
        ViewSpec {
            size,
            scale,
            hf_prob: self.hf_prob,
            vf_prob: self.vf_prob,
            cj_prob: self.cj_prob,
            cj: (
                self.cj_bright * s,
                self.cj_contrast * s,
                self.cj_sat * s,
                self.cj_hue * s,
            ),
            gray: self.random_gray_scale,
            blur,
            sigmas: self.sigmas,
            solarize,
            normalize: self.normalize.clone(),
        }
    }

    /// `n_global_views` global views, then `n_local_views` local views.
    pub fn build(&self) -> Result<MultiView<ImageF32>> {
        self.validate()?;
        let mut views = Vec::new();
        for g in 0..self.n_global_views {
            let (blur, sol) = if g == 0 {
                (self.gaussian_blur.0, 0.0)
            } else {
                (
                    self.gaussian_blur.1,
                    if g == 1 { self.solarization_prob } else { 0.0 },
                )
            };
            views.push(view_pipeline(&self.spec(
                self.input_size,
                self.global_crop_scale,
                blur,
                sol,
            ))?);
        }
        for _ in 0..self.n_local_views {
            views.push(view_pipeline(&self.spec(
                self.local_size,
                self.local_crop_scale,
                self.gaussian_blur.2,
                0.0,
            ))?);
        }
        MultiView::new(views)
    }
}

/// The evaluation view that goes with the recipes: torchvision's `Resize(size)` (the shorter side
/// becomes `size`, aspect ratio kept, bilinear with antialiasing) then `CenterCrop(size)`, then the
/// optional normalisation — the deterministic transform lightly and torchvision evaluate with, so that
/// images of any size and aspect ratio become `size × size` without distortion. An image whose
/// shorter side is `size` already is only cropped (torchvision's resize returns it unchanged).
pub fn eval_transform(
    size: usize,
    normalize: Option<&NormalizeConfig>,
) -> Result<BoxTransform<ImageF32>> {
    check::at_least("eval.image_size", size, 1)?;
    let mut c: Compose<ImageF32> = Compose::new(Vec::new());
    c.push(Resize::new(ResizeSize::SmallerEdge(size))?);
    c.push(CenterCrop::new((size, size))?);
    if let Some(n) = normalize {
        c.push(Normalize::new(n.mean.clone(), n.std.clone())?);
    }
    Ok(Box::new(c))
}

/// Any image recipe, tagged by `kind` in config files:
/// `kind = "sim_clr" | "moco_v2" | "byol" | "multi_crop"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageRecipe {
    /// SimCLR two views.
    SimClr(SimClrConfig),
    /// MoCo v2 two views.
    MocoV2(MocoV2Config),
    /// BYOL asymmetric views.
    Byol(ByolConfig),
    /// DINO/SwAV multi-crop.
    MultiCrop(MultiCropConfig),
}

impl Default for ImageRecipe {
    fn default() -> Self {
        ImageRecipe::SimClr(SimClrConfig::default())
    }
}

impl ImageRecipe {
    /// Validates the recipe's fields.
    pub fn validate(&self) -> Result<()> {
        match self {
            ImageRecipe::SimClr(c) => c.validate(),
            ImageRecipe::MocoV2(c) => c.validate(),
            ImageRecipe::Byol(c) => c.validate(),
            ImageRecipe::MultiCrop(c) => c.validate(),
        }
    }

    /// Builds the multi-view pipeline.
    pub fn build(&self) -> Result<MultiView<ImageF32>> {
        match self {
            ImageRecipe::SimClr(c) => c.build(),
            ImageRecipe::MocoV2(c) => c.build(),
            ImageRecipe::Byol(c) => c.build(),
            ImageRecipe::MultiCrop(c) => c.build(),
        }
    }

    /// Number of views per sample.
    pub fn n_views(&self) -> usize {
        match self {
            ImageRecipe::MultiCrop(c) => c.n_global_views + c.n_local_views,
            _ => 2,
        }
    }

    /// The (square) output size of each view, in view order.
    pub fn view_sizes(&self) -> Vec<usize> {
        match self {
            ImageRecipe::SimClr(c) => vec![c.input_size; 2],
            ImageRecipe::MocoV2(c) => vec![c.input_size; 2],
            ImageRecipe::Byol(c) => vec![c.input_size; 2],
            ImageRecipe::MultiCrop(c) => {
                let mut v = vec![c.input_size; c.n_global_views];
                v.extend(std::iter::repeat_n(c.local_size, c.n_local_views));
                v
            }
        }
    }

    /// Sets the (global) input size, keeping everything else.
    pub fn with_input_size(mut self, size: usize) -> Self {
        match &mut self {
            ImageRecipe::SimClr(c) => c.input_size = size,
            ImageRecipe::MocoV2(c) => c.input_size = size,
            ImageRecipe::Byol(c) => c.input_size = size,
            ImageRecipe::MultiCrop(c) => c.input_size = size,
        }
        self
    }

    /// Sets (or removes) the normalisation of every view.
    pub fn with_normalize(mut self, n: Option<NormalizeConfig>) -> Self {
        match &mut self {
            ImageRecipe::SimClr(c) => c.normalize = n,
            ImageRecipe::MocoV2(c) => c.normalize = n,
            ImageRecipe::Byol(c) => c.normalize = n,
            ImageRecipe::MultiCrop(c) => c.normalize = n,
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use selfsup_core::SampleKey;

    #[test]
    fn the_eval_transform_resizes_the_shorter_side_and_crops_the_centre() {
        let t = eval_transform(8, None).unwrap();
        let mut g = SampleKey::new(0, 0, 0).rng();
        // A 16×48 image: 8 black columns, 32 grey, 8 white. Resized to 8×24, the centre 8×8 crop
        // comes from columns 16..32, well inside the grey (the antialiasing kernel spans 2 columns
        // each side): all grey. An uncropped or off-centre result would include black or white.
        let data: Vec<f32> = (0..16 * 48)
            .map(|i| match i % 48 {
                0..=7 => 0.0,
                8..=39 => 0.5,
                _ => 1.0,
            })
            .collect();
        let out = t
            .apply(ImageF32::new(1, 16, 48, data).unwrap(), &mut g)
            .unwrap();
        assert_eq!(out.dims(), (1, 8, 8));
        assert!(
            out.data().iter().all(|&v| (v - 0.5).abs() < 1e-6),
            "{:?}",
            out.data()
        );
        // Portrait, colour, smaller than the target: upsampled then cropped, 3 channels kept.
        let out = t
            .apply(ImageF32::new(3, 6, 4, vec![0.25; 72]).unwrap(), &mut g)
            .unwrap();
        assert_eq!(out.dims(), (3, 8, 8));
        // Already the size: unchanged bit for bit.
        let img = ImageF32::new(1, 8, 8, (0..64).map(|v| v as f32 / 64.0).collect()).unwrap();
        assert_eq!(t.apply(img.clone(), &mut g).unwrap().data(), img.data());
        let n = NormalizeConfig {
            mean: vec![0.5],
            std: vec![0.5],
        };
        let out = eval_transform(8, Some(&n))
            .unwrap()
            .apply(img, &mut g)
            .unwrap();
        assert_eq!(out.data()[0], -1.0);
        let e = eval_transform(0, None).err().unwrap().to_string();
        assert!(e.contains("eval.image_size"), "{e}");
    }

    #[test]
    fn recipes_build_and_produce_the_configured_views() {
        let img = ImageF32::new(
            3,
            40,
            50,
            (0..6000).map(|i| (i % 255) as f32 / 255.0).collect(),
        )
        .unwrap();
        for (recipe, sizes) in [
            (
                ImageRecipe::SimClr(SimClrConfig {
                    input_size: 32,
                    ..Default::default()
                }),
                vec![32, 32],
            ),
            (
                ImageRecipe::MocoV2(MocoV2Config::default()).with_input_size(24),
                vec![24, 24],
            ),
            (
                ImageRecipe::Byol(ByolConfig {
                    input_size: 16,
                    ..Default::default()
                }),
                vec![16, 16],
            ),
            (
                ImageRecipe::MultiCrop(MultiCropConfig {
                    input_size: 32,
                    local_size: 12,
                    n_local_views: 3,
                    ..Default::default()
                }),
                vec![32, 32, 12, 12, 12],
            ),
        ] {
            assert_eq!(recipe.view_sizes(), sizes);
            let mv = recipe.build().unwrap();
            let views = mv.generate(&img, SampleKey::new(1, 0, 0)).unwrap();
            let got: Vec<usize> = views.iter().map(|v| v.height()).collect();
            assert_eq!(got, sizes);
            assert!(views
                .iter()
                .all(|v| v.channels() == 3 && v.width() == v.height()));
        }
    }

    #[test]
    fn configs_parse_with_kind_and_reject_unknown_fields() {
        let r: ImageRecipe =
            serde_json::from_str(r#"{"kind": "sim_clr", "input_size": 32}"#).unwrap();
        assert_eq!(
            r,
            ImageRecipe::SimClr(SimClrConfig {
                input_size: 32,
                ..Default::default()
            })
        );
        let r: ImageRecipe = toml::from_str("kind = \"byol\"\ninput_size = 64\n").unwrap();
        assert!(matches!(
            r,
            ImageRecipe::Byol(ByolConfig { input_size: 64, .. })
        ));
        assert!(
            serde_json::from_str::<ImageRecipe>(r#"{"kind": "sim_clr", "input_sise": 32}"#)
                .is_err()
        );
        let r: ImageRecipe =
            serde_json::from_str(r#"{"kind": "moco_v2", "cj_hue": 0.05}"#).unwrap();
        let ImageRecipe::MocoV2(m) = r else { panic!() };
        assert_eq!((m.cj_hue, m.min_scale), (0.05, 0.2));
    }

    #[test]
    fn validation_names_the_field_and_blur_is_off_at_32px() {
        let bad = SimClrConfig {
            cj_prob: 1.5,
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sim_clr.cj_prob"));
        let bad = MultiCropConfig {
            n_global_views: 0,
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("n_global_views"));
        assert_eq!(
            SimClrConfig {
                input_size: 32,
                ..Default::default()
            }
            .blur_prob(),
            0.0
        );
        assert_eq!(SimClrConfig::default().blur_prob(), 0.5);
        let grey = SimClrConfig {
            normalize: Some(NormalizeConfig {
                mean: vec![0.5],
                std: vec![0.0],
            }),
            ..Default::default()
        };
        assert!(grey
            .validate()
            .unwrap_err()
            .to_string()
            .contains("sim_clr.normalize.std[0]"));
    }
}
