//! Combinators that build pipelines out of transforms: [`Compose`], [`RandomApply`], [`RandomOrder`],
//! [`OneOf`], [`Identity`], and [`MultiView`], which turns one sample into N independently augmented views
//! (view `v` uses the generator of `key.with_view(v)`).
//!
//! Each combinator's own random choice (apply or not, which order, which branch) goes through
//! [`Ctx::params`], so it is recorded and replayed like any transform parameter.

use crate::error::{check, Error, Result};
use crate::rng::SampleKey;
use crate::transform::{BoxTransform, Ctx, Trace, Transform};

/// Applies its transforms in sequence (torchvision's `Compose`).
pub struct Compose<S> {
    transforms: Vec<BoxTransform<S>>,
}

impl<S> Compose<S> {
    /// A pipeline of `transforms`, applied first to last.
    pub fn new(transforms: Vec<BoxTransform<S>>) -> Self {
        Compose { transforms }
    }
    /// Appends a transform.
    pub fn push(&mut self, t: impl Transform<S> + 'static) {
        self.transforms.push(Box::new(t));
    }
    /// Appends a transform, builder style.
    pub fn then(mut self, t: impl Transform<S> + 'static) -> Self {
        self.push(t);
        self
    }
    /// Number of stages.
    pub fn len(&self) -> usize {
        self.transforms.len()
    }
    /// True when the pipeline has no stages.
    pub fn is_empty(&self) -> bool {
        self.transforms.is_empty()
    }
}

impl<S> Transform<S> for Compose<S> {
    fn name(&self) -> &str {
        "Compose"
    }
    fn apply_ctx(&self, mut sample: S, ctx: &mut Ctx<'_>) -> Result<S> {
        for t in &self.transforms {
            sample = t.apply_ctx(sample, ctx)?;
        }
        Ok(sample)
    }
}

/// Leaves the sample unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl<S> Transform<S> for Identity {
    fn name(&self) -> &str {
        "Identity"
    }
    fn apply_ctx(&self, sample: S, _ctx: &mut Ctx<'_>) -> Result<S> {
        Ok(sample)
    }
}

/// Applies `inner` with probability `p` (torchvision's `RandomApply`).
pub struct RandomApply<S> {
    p: f64,
    inner: BoxTransform<S>,
}

impl<S> RandomApply<S> {
    /// Errors unless `p ∈ [0, 1]`.
    pub fn new(p: f64, inner: impl Transform<S> + 'static) -> Result<Self> {
        check::probability("random_apply.p", p)?;
        Ok(RandomApply {
            p,
            inner: Box::new(inner),
        })
    }
    /// Wraps an already boxed transform.
    pub fn boxed(p: f64, inner: BoxTransform<S>) -> Result<Self> {
        check::probability("random_apply.p", p)?;
        Ok(RandomApply { p, inner })
    }
}

impl<S> Transform<S> for RandomApply<S> {
    fn name(&self) -> &str {
        "RandomApply"
    }
    fn apply_ctx(&self, sample: S, ctx: &mut Ctx<'_>) -> Result<S> {
        let p = self.p;
        let on: bool = ctx.params("RandomApply", |rng| Ok(rng.bernoulli(p)))?;
        if on {
            self.inner.apply_ctx(sample, ctx)
        } else {
            Ok(sample)
        }
    }
}

/// Applies all its transforms in a random order (torchvision's `RandomOrder`).
pub struct RandomOrder<S> {
    transforms: Vec<BoxTransform<S>>,
}

impl<S> RandomOrder<S> {
    /// The transforms to permute.
    pub fn new(transforms: Vec<BoxTransform<S>>) -> Self {
        RandomOrder { transforms }
    }
}

impl<S> Transform<S> for RandomOrder<S> {
    fn name(&self) -> &str {
        "RandomOrder"
    }
    fn apply_ctx(&self, mut sample: S, ctx: &mut Ctx<'_>) -> Result<S> {
        let n = self.transforms.len();
        let order: Vec<usize> = ctx.params("RandomOrder", |rng| Ok(rng.permutation(n)))?;
        if order.len() != n || order.iter().any(|&i| i >= n) {
            return Err(Error::Replay(format!(
                "RandomOrder expected a permutation of 0..{n}, got {order:?}"
            )));
        }
        for i in order {
            sample = self.transforms[i].apply_ctx(sample, ctx)?;
        }
        Ok(sample)
    }
}

/// Applies exactly one of its transforms, chosen with the given weights (torchvision's `RandomChoice`).
pub struct OneOf<S> {
    transforms: Vec<BoxTransform<S>>,
    weights: Vec<f64>,
}

impl<S> OneOf<S> {
    /// Uniform choice among `transforms` (at least one).
    pub fn new(transforms: Vec<BoxTransform<S>>) -> Result<Self> {
        let n = transforms.len();
        Self::weighted(transforms, vec![1.0; n])
    }
    /// Choice with probabilities proportional to `weights` (non-negative, not all zero).
    pub fn weighted(transforms: Vec<BoxTransform<S>>, weights: Vec<f64>) -> Result<Self> {
        check::at_least("one_of.transforms", transforms.len(), 1)?;
        if weights.len() != transforms.len() {
            return Err(Error::config(
                "one_of.weights",
                format!(
                    "needs one weight per transform ({}), got {}",
                    transforms.len(),
                    weights.len()
                ),
            ));
        }
        for (i, &w) in weights.iter().enumerate() {
            check::non_negative(&format!("one_of.weights[{i}]"), w)?;
        }
        if weights.iter().sum::<f64>() <= 0.0 {
            return Err(Error::config("one_of.weights", "must not all be zero"));
        }
        Ok(OneOf {
            transforms,
            weights,
        })
    }
}

impl<S> Transform<S> for OneOf<S> {
    fn name(&self) -> &str {
        "OneOf"
    }
    fn apply_ctx(&self, sample: S, ctx: &mut Ctx<'_>) -> Result<S> {
        let w = &self.weights;
        let i: usize = ctx.params("OneOf", |rng| Ok(rng.weighted_index(w)))?;
        let t = self.transforms.get(i).ok_or_else(|| {
            Error::Replay(format!(
                "OneOf has {} branches, replayed index {i}",
                self.transforms.len()
            ))
        })?;
        t.apply_ctx(sample, ctx)
    }
}

/// N pipelines → N views of one sample; view `v` is drawn from `key.with_view(v)`.
///
/// Recipes (SimCLR: two identical pipelines; BYOL: two different ones; DINO: 2 global + K local crops)
/// are `MultiView`s.
pub struct MultiView<S> {
    views: Vec<BoxTransform<S>>,
}

impl<S: Clone> MultiView<S> {
    /// One pipeline per view (at least one).
    pub fn new(views: Vec<BoxTransform<S>>) -> Result<Self> {
        check::at_least("multi_view.views", views.len(), 1)?;
        Ok(MultiView { views })
    }

    /// Number of views produced per sample.
    pub fn n_views(&self) -> usize {
        self.views.len()
    }

    /// The pipeline of view `v`.
    pub fn view(&self, v: usize) -> &dyn Transform<S> {
        &*self.views[v]
    }

    /// All views of `sample` for `key` (the key's own `view` field is ignored).
    pub fn generate(&self, sample: &S, key: SampleKey) -> Result<Vec<S>> {
        self.views
            .iter()
            .enumerate()
            .map(|(v, t)| {
                let mut rng = key.with_view(v as u64).rng();
                t.apply(sample.clone(), &mut rng)
            })
            .collect()
    }

    /// Like [`MultiView::generate`], also returning each view's parameter trace.
    pub fn generate_traced(&self, sample: &S, key: SampleKey) -> Result<Vec<(S, Trace)>> {
        self.views
            .iter()
            .enumerate()
            .map(|(v, t)| {
                let mut rng = key.with_view(v as u64).rng();
                let mut trace = Trace::default();
                let out = t.apply_ctx(sample.clone(), &mut Ctx::recording(&mut rng, &mut trace))?;
                Ok((out, trace))
            })
            .collect()
    }
}
