//! # selfsup-augment
//!
//! Image and audio augmentation for self-supervised learning, and the multi-view recipes built from it
//! (SimCLR, MoCo v2, BYOL, DINO/SwAV multi-crop for images; COLA/BYOL-A style segments for audio).
//!
//! ## Design
//! Every transform implements [`selfsup_core::RandomTransform`]: `sample_params` draws from an explicit
//! generator, `apply_with` is a pure function of the sample and the parameters. That split is what lets
//! the parity tests feed torchvision's exact parameters through our code, and what lets a run record
//! the parameters each view was drawn with. Constructors validate their arguments and return
//! [`selfsup_core::Error::InvalidConfig`] naming the field and the allowed range.
//!
//! - `image` (feature `image`): transforms over planar [`selfsup_core::ImageF32`] in `[0, 1]`
//!   (torchvision v2 float semantics), conversions from the `image` crate, recipes, preview grids.
//! - `audio` (feature `audio`): WAV I/O, waveform transforms, STFT/mel/MFCC features, SpecAugment,
//!   audio recipes, spectrogram previews.
//! - [`tokens`] (always on): token-sequence views (span crop, BERT-style masking) for contrastive
//!   learning on text.
//! - [`recipe`]: [`Recipe`], every multi-view recipe above as one serde enum (a bare name or a
//!   `kind`-tagged table in config files; [`RecipeName`] for flags, a `clap::ValueEnum` with the
//!   `clap` feature).
//!
//! ## Must never depend on
//! `tch`/`torch-sys`: users import this crate alone, without libtorch (`cargo xtask check` enforces it).

/// What a program using the transforms alone needs from `selfsup-core`: samples, the transform traits
/// and combinators, and the keyed generator (`SampleKey::new(seed, epoch, index).rng()`), so that
/// `selfsup-augment` is enough as a dependency.
pub use selfsup_core::{
    Audio, BoxTransform, Compose, Generator, ImageF32, ImageU8, MultiView, OneOf, RandomApply,
    RandomTransform, Sample, SampleKey, Spectrogram, Transform,
};
pub use selfsup_core::{Error, Result};

#[cfg(feature = "audio")]
pub mod audio;
#[cfg(feature = "image")]
pub mod image;
pub mod recipe;
pub mod tokens;

pub use recipe::{Recipe, RecipeName, RecipeOrName};
