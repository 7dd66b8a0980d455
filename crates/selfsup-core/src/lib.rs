//! # selfsup-core
//!
//! The vocabulary every other selfsup crate speaks, and nothing else:
//!
//! - **Sample types** ([`sample`]): planar CHW images ([`ImageU8`], [`ImageF32`]), multi-channel
//!   [`Audio`] with its sample rate, 2-D features ([`Spectrogram`]) and [`Tokens`]; [`Sample`] is the sum.
//! - **Transforms** ([`transform`]): the object-safe [`Transform`] trait and the
//!   [`RandomTransform`] split between *sampling parameters* and *applying them*. A pipeline runs in a
//!   [`Ctx`] that draws, records ([`Trace`]) or replays parameters — the single mechanism behind parity
//!   tests, debugging, and previews that print what was drawn.
//! - **Combinators** ([`combinators`]): [`Compose`], [`RandomApply`], [`RandomOrder`], [`OneOf`],
//!   [`Identity`], and [`MultiView`] (N pipelines → N views).
//! - **Keyed randomness** ([`rng`]): a [`Generator`] (ChaCha8) derived from a [`SampleKey`]
//!   `(seed, epoch, index, view)`. There is no global RNG anywhere in selfsup; whatever runs on which
//!   thread, a sample's views are a function of its key alone ([`parallel`] shows it with rayon).
//! - **Batches** ([`batch`]): the host-side [`HostBatch`] (float views, token views, labels, pretext
//!   [`Targets`]) and the [`BatchSource`] trait that connects a loader to a trainer without libtorch.
//! - **Config families** ([`config_family!`]): a serde enum tagged by `kind` over per-kind
//!   configs, the one mechanism every method family's config enum is written with.
//! - **Errors** ([`error`]): the shared [`Error`] with field-naming config errors and the [`check`]
//!   helpers every config validator uses.
//!
//! ## Must never depend on
//! `tch`/`torch-sys` (or any crate that pulls them in), image or audio codecs, or I/O frameworks. This
//! crate is small on purpose so that `selfsup-augment` and `selfsup-data` can be used without libtorch.
//!
//! ## Example
//! ```
//! use selfsup_core::{Compose, Ctx, Generator, ImageF32, RandomApply, RandomTransform, SampleKey, Trace, Transform, Result};
//!
//! /// Adds a random offset to every pixel.
//! struct Shift(f32);
//! impl RandomTransform<ImageF32> for Shift {
//!     type Params = f32;
//!     fn transform_name(&self) -> &str { "Shift" }
//!     fn sample_params(&self, _: &ImageF32, rng: &mut Generator) -> Result<f32> {
//!         Ok(rng.uniform_f32(-self.0, self.0))
//!     }
//!     fn apply_with(&self, mut img: ImageF32, d: &f32) -> Result<ImageF32> {
//!         img.data_mut().iter_mut().for_each(|v| *v += d);
//!         Ok(img)
//!     }
//! }
//! selfsup_core::impl_transform!(Shift => ImageF32);
//!
//! let pipeline = Compose::new(vec![Box::new(RandomApply::new(0.5, Shift(0.1))?)]);
//! let img = ImageF32::zeros(3, 4, 4);
//! let key = SampleKey::new(42, 0, 7);
//! // Record the parameters of one application, then replay them: same output.
//! let mut trace = Trace::default();
//! let a = pipeline.apply_ctx(img.clone(), &mut Ctx::recording(&mut key.rng(), &mut trace))?;
//! let b = pipeline.apply_ctx(img.clone(), &mut Ctx::replaying(&mut key.rng(), &trace))?;
//! assert_eq!(a, b);
//! # Ok::<(), selfsup_core::Error>(())
//! ```

pub mod batch;
pub mod combinators;
pub mod error;
mod family;
pub mod parallel;
pub mod rng;
pub mod sample;
pub mod shard;
pub mod transform;

pub use batch::{BatchSource, HostBatch, Target, Targets};
pub use combinators::{Compose, Identity, MultiView, OneOf, RandomApply, RandomOrder};
pub use error::{check, Error, Result};
pub use parallel::{apply_batch, generate_views};
pub use rng::{Generator, SampleKey};
pub use sample::{Audio, Image, ImageF32, ImageU8, Sample, Spectrogram, Tokens};
pub use shard::Shard;
pub use transform::{
    apply_random, BoxTransform, Ctx, RandomTransform, Trace, TraceEntry, Transform,
};

/// Re-export of `rand`, so downstream crates use the same version's traits with [`Generator`].
pub use rand;
