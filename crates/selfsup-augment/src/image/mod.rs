//! Image augmentation over planar float images in `[0, 1]` with torchvision v2 semantics.
//!
//! ## Layout
//! - [`convert`]: decoding and conversions to and from the `image` crate (channel and alpha policy).
//! - [`resize`](mod@resize): the resampling kernels (nearest, bilinear, bicubic, antialiased) shared by `Resize`
//!   and `RandomResizedCrop`.
//! - [`geometry`]: crops, flips, `Resize`, padding modes.
//! - [`color`]: colour jitter, greyscale, solarize, posterize, equalize, autocontrast, sharpness,
//!   `Normalize`.
//! - [`blur`]: Gaussian blur.
//! - [`digit`]: `DigitConfig`, the main job's light recipe for small grey digits (a composition of
//!   `RandomContrastBrightness`, `RandomSubpixelCrop` and `GaussianNoise`).
//! - [`policies`]: RandAugment and TrivialAugmentWide.
//! - [`erase`]: random erasing.
//! - [`noise`]: pixel corruptions for denoising autoencoders (Gaussian noise, pixel dropout, salt and pepper).
//! - [`mix`]: batch-level MixUp and CutMix (soft labels).
//! - [`preview`]: PNG grids of samples × views.
//! - [`warp`]: rotation, affine, perspective, elastic (grid sampling) and exact quarter turns.
//! - [`uint8`]: torchvision's `uint8` kernels (posterize, solarize, invert, autocontrast, equalize) on
//!   `ImageU8`, and the colour ops' random wrappers on `ImageU8`.
//! - `simd` (internal): runs the hot loops through an AVX2-compiled copy on CPUs that have it.
//!
//! ## Design
//! Every random transform implements [`selfsup_core::RandomTransform`]: `sample_params` draws from the
//! keyed generator (and may look at the image size), `apply_with` is a pure function of the image and the
//! parameters. The pure halves are also exposed as plain functions (`adjust_hue`, `resize_region`, …)
//! that take torchvision's parameters, which is how the parity tests replay torchvision's draws.
//!
//! Transforms accept any channel count. Colour operations treat 3+ channel images as RGB (extra
//! channels such as alpha are left alone) and 1–2 channel images as grey, where saturation, hue and
//! greyscale are no-ops — as torchvision does for 1-channel (MNIST-like) images. Zero-sized images are
//! a [`selfsup_core::Error::Shape`] wherever pixels are needed (crops, resizes), never a panic.

pub mod blur;
pub mod color;
pub mod convert;
pub mod digit;
pub mod erase;
pub mod geometry;
pub mod mix;
pub mod noise;
pub mod policies;
pub mod preview;
pub mod recipes;
pub mod resize;
mod simd;
pub mod uint8;
pub mod warp;

pub use blur::{gaussian_blur, GaussianBlur};
pub use color::{
    adjust_brightness, adjust_contrast, adjust_contrast_brightness, adjust_hue, adjust_saturation,
    adjust_sharpness, autocontrast, equalize, posterize, solarize, to_grayscale,
    to_grayscale_keep_channels, ColorJitter, ColorJitterParams, Normalize, RandomAdjustSharpness,
    RandomAutocontrast, RandomContrastBrightness, RandomEqualize, RandomGrayscale, RandomPosterize,
    RandomSolarize,
};
pub use convert::{decode, from_dynamic, to_rgb8};
pub use erase::{EraseValue, RandomErasing};
pub use geometry::{
    center_crop, crop, crop_padded, hflip, resized_crop_subpixel, vflip, CenterCrop, CropBox,
    PaddingMode, RandomCrop, RandomHorizontalFlip, RandomResizedCrop, RandomSubpixelCrop,
    RandomVerticalFlip, Resize, ResizeSize, SubpixelBox,
};
pub use mix::{CutMix, MixUp};
pub use noise::{GaussianNoise, PixelDropout, SaltAndPepper, Speck};
pub use policies::{RandAugment, TrivialAugmentWide};
pub use preview::{denormalize, grid, save_grid};
pub use recipes::{
    eval_transform, ByolConfig, ImageRecipe, MocoV2Config, MultiCropConfig, NormalizeConfig,
    SimClrConfig,
};
pub use resize::{resize, resize_region, Interpolation};
pub use uint8::{autocontrast_u8, equalize_u8, invert_u8, posterize_u8, solarize_u8};
pub use warp::{
    affine, elastic, perspective, rot90, rotate, AffineParams, ElasticTransform, RandomAffine,
    RandomPerspective, RandomRotation, Rot90,
};
