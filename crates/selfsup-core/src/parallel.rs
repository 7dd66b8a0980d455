//! Applying a pipeline over a batch with rayon. Each sample's generator comes from its own
//! [`SampleKey`], so the result is the same for any number of threads and any scheduling order.

use crate::combinators::MultiView;
use crate::error::Result;
use crate::rng::SampleKey;
use crate::transform::Transform;
use rayon::prelude::*;

/// Applies `t` to every sample in parallel; sample `i` uses `keys[i]`. Output order = input order.
pub fn apply_batch<S, T>(t: &T, samples: Vec<S>, keys: &[SampleKey]) -> Result<Vec<S>>
where
    S: Send,
    T: Transform<S> + ?Sized,
{
    assert_eq!(samples.len(), keys.len(), "apply_batch: one key per sample");
    samples
        .into_par_iter()
        .zip(keys.par_iter())
        .map(|(s, k)| t.apply(s, &mut k.rng()))
        .collect()
}

/// Generates all views of every sample in parallel: `out[i][v]` is view `v` of sample `i`.
pub fn generate_views<S>(
    mv: &MultiView<S>,
    samples: &[S],
    keys: &[SampleKey],
) -> Result<Vec<Vec<S>>>
where
    S: Clone + Send + Sync,
{
    assert_eq!(
        samples.len(),
        keys.len(),
        "generate_views: one key per sample"
    );
    samples
        .par_iter()
        .zip(keys.par_iter())
        .map(|(s, k)| mv.generate(s, *k))
        .collect()
}
