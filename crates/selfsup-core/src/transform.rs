//! The [`Transform`] trait and its parameter-sampling / application split.
//!
//! A random transform has two halves ([`RandomTransform`]): `sample_params` draws everything random
//! from an explicit [`Generator`] (and may look at the input, e.g. its size), and `apply_with` is a pure
//! function of the input and those parameters. Pipelines run through a [`Ctx`], which either just
//! draws, draws and **records** each parameter set into a [`Trace`], or **replays** a trace instead of
//! drawing. Recording and replaying is how parity tests feed torchvision's exact parameters through a
//! pipeline, and how a surprising augmentation is debugged.
//!
//! [`Transform`] is object safe: configs build `Box<dyn Transform<S>>` pipelines.

use crate::error::{Error, Result};
use crate::rng::Generator;
use std::any::Any;
use std::fmt::Debug;

/// One recorded parameter draw.
pub struct TraceEntry {
    /// The name of the transform (or combinator) that drew it.
    pub name: String,
    /// The parameters, as the transform's own `Params` type.
    pub params: Box<dyn Any + Send + Sync>,
    /// The parameters' `Debug` text, for logs and previews.
    pub debug: String,
}

impl Debug for TraceEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.debug)
    }
}

/// The ordered parameter draws of one pipeline application.
#[derive(Debug, Default)]
pub struct Trace {
    /// Entries in the order they were drawn.
    pub entries: Vec<TraceEntry>,
}

impl Trace {
    /// Appends a parameter set by hand (e.g. parameters taken from a torchvision fixture).
    pub fn push<P: Debug + Send + Sync + 'static>(&mut self, name: impl Into<String>, params: P) {
        let debug = format!("{params:?}");
        self.entries.push(TraceEntry {
            name: name.into(),
            params: Box::new(params),
            debug,
        });
    }
}

enum Mode<'a> {
    Draw,
    Record(&'a mut Trace),
    Replay { trace: &'a Trace, next: usize },
}

/// The context a pipeline runs in: a generator plus an optional trace to record into or replay from.
pub struct Ctx<'a> {
    rng: &'a mut Generator,
    mode: Mode<'a>,
}

impl<'a> Ctx<'a> {
    /// Draw parameters from `rng`, record nothing.
    pub fn new(rng: &'a mut Generator) -> Self {
        Ctx {
            rng,
            mode: Mode::Draw,
        }
    }

    /// Draw parameters from `rng` and record each draw into `trace`.
    pub fn recording(rng: &'a mut Generator, trace: &'a mut Trace) -> Self {
        Ctx {
            rng,
            mode: Mode::Record(trace),
        }
    }

    /// Take parameters from `trace` in order instead of drawing (`rng` is used for nothing else).
    pub fn replaying(rng: &'a mut Generator, trace: &'a Trace) -> Self {
        Ctx {
            rng,
            mode: Mode::Replay { trace, next: 0 },
        }
    }

    /// Obtains the parameters for the transform `name`: drawn by `draw` (and possibly recorded), or
    /// taken from the replayed trace, checking that the names and types line up.
    pub fn params<P>(
        &mut self,
        name: &str,
        draw: impl FnOnce(&mut Generator) -> Result<P>,
    ) -> Result<P>
    where
        P: Clone + Debug + Send + Sync + 'static,
    {
        match &mut self.mode {
            Mode::Draw => draw(self.rng),
            Mode::Record(trace) => {
                let p = draw(self.rng)?;
                trace.push(name, p.clone());
                Ok(p)
            }
            Mode::Replay { trace, next } => {
                let entry = trace.entries.get(*next).ok_or_else(|| {
                    Error::Replay(format!(
                        "trace has {} entries, `{name}` asked for entry {}",
                        trace.entries.len(),
                        *next
                    ))
                })?;
                *next += 1;
                if entry.name != name {
                    return Err(Error::Replay(format!(
                        "entry {} was drawn by `{}`, replayed into `{name}`",
                        *next - 1,
                        entry.name
                    )));
                }
                entry.params.downcast_ref::<P>().cloned().ok_or_else(|| {
                    Error::Replay(format!(
                        "entry {} for `{name}` has parameters of another type",
                        *next - 1
                    ))
                })
            }
        }
    }

    /// The generator, for transforms that draw during application (prefer [`Ctx::params`]).
    pub fn rng(&mut self) -> &mut Generator {
        self.rng
    }
}

/// A (possibly random) map from samples of type `S` to samples of type `S`.
pub trait Transform<S>: Send + Sync {
    /// A short name (used in traces, logs and errors).
    fn name(&self) -> &str;

    /// Applies the transform inside a context (drawing, recording or replaying its parameters).
    fn apply_ctx(&self, sample: S, ctx: &mut Ctx<'_>) -> Result<S>;

    /// Applies the transform, drawing parameters from `rng`.
    fn apply(&self, sample: S, rng: &mut Generator) -> Result<S> {
        self.apply_ctx(sample, &mut Ctx::new(rng))
    }
}

/// A boxed, thread-safe transform (what configs build).
pub type BoxTransform<S> = Box<dyn Transform<S>>;

impl<S, T: Transform<S> + ?Sized> Transform<S> for Box<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn apply_ctx(&self, sample: S, ctx: &mut Ctx<'_>) -> Result<S> {
        (**self).apply_ctx(sample, ctx)
    }
}

impl<S, T: Transform<S> + ?Sized> Transform<S> for std::sync::Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn apply_ctx(&self, sample: S, ctx: &mut Ctx<'_>) -> Result<S> {
        (**self).apply_ctx(sample, ctx)
    }
}

/// A transform written as a parameter sampler plus a pure application.
///
/// Implement this, then get [`Transform`] with [`impl_transform!`](crate::impl_transform).
pub trait RandomTransform<S>: Send + Sync {
    /// Everything random about one application.
    type Params: Clone + Debug + Send + Sync + 'static;

    /// The transform's name (PyTorch's class name where there is one).
    fn transform_name(&self) -> &str;

    /// Draws the parameters for `sample`.
    fn sample_params(&self, sample: &S, rng: &mut Generator) -> Result<Self::Params>;

    /// Applies the transform with fixed parameters (deterministic).
    fn apply_with(&self, sample: S, params: &Self::Params) -> Result<S>;
}

/// Runs a [`RandomTransform`] inside a context: the body of the `Transform` impls that
/// [`impl_transform!`](crate::impl_transform) writes.
pub fn apply_random<S, T: RandomTransform<S> + ?Sized>(
    t: &T,
    sample: S,
    ctx: &mut Ctx<'_>,
) -> Result<S> {
    let params = ctx.params(t.transform_name(), |rng| t.sample_params(&sample, rng))?;
    t.apply_with(sample, &params)
}

/// Implements [`Transform<S>`](crate::Transform) for types implementing
/// [`RandomTransform<S>`](crate::RandomTransform): `impl_transform!(MyCrop => ImageF32, ImageU8);`
#[macro_export]
macro_rules! impl_transform {
    ($ty:ty => $($s:ty),+ $(,)?) => {
        $(
            impl $crate::Transform<$s> for $ty {
                fn name(&self) -> &str {
                    <$ty as $crate::RandomTransform<$s>>::transform_name(self)
                }
                fn apply_ctx(&self, sample: $s, ctx: &mut $crate::Ctx<'_>) -> $crate::Result<$s> {
                    $crate::transform::apply_random::<$s, $ty>(self, sample, ctx)
                }
            }
        )+
    };
}
