//! Colorization as classification (Zhang, Isola & Efros, 2016): the quantised `ab` plane, soft
//! encoding and class rebalancing, torch-free.
//!
//! - **The bins**: [`ab_bins`] are the `Q = 313` bins of Zhang et al.: centres on the grid of step 10
//!   ([`AB_GRID`]) in `ab`, ordered by `a`, then `b` — the order of their released `pts_in_hull.npy`.
//!   They are stored as one contiguous `b` range per `a` value ([`AB_BIN_ROWS`]). How the set arises:
//!   quantise the `ab` plane with step 10 and keep the bins that real colours fall in. The sRGB cube
//!   itself (all 256³ 8-bit colours through scikit-image's `rgb2lab`, nearest centre) occupies 261
//!   cells, every one of them among the 313 (checked by `scripts/fixtures/pretext_fixtures.py`);
//!   Zhang et al. kept the 313 bins "in gamut" over their (ImageNet) training colours, whose exact
//!   derivation they did not publish, so the set is taken as published rather than re-derived —
//!   using the same bins keeps predictions comparable with their models.
//! - **Soft encoding** ([`soft_encode`]): a colour's target is spread over its `k = 5` nearest bin
//!   centres with weights `exp(−d² / 2σ²)`, `σ = 5`, normalised to sum to 1 (ties in distance: the
//!   lower bin index first).
//! - **Class rebalancing** ([`smoothed_prior`], [`rebalance_weights`]): the empirical distribution
//!   `p` of the (hard, nearest-bin) classes is smoothed with a Gaussian of `σ = 5` over the bin
//!   centres, `p̃_q = Σ_r p_r G(c_q − c_r) / Σ_r G(c_q − c_r)` renormalised to sum 1, and each class
//!   gets `w_q ∝ ((1 − λ) p̃_q + λ / Q)⁻¹` with `λ = 0.5`, scaled so that `Σ_q p̃_q w_q = 1`; a pixel's
//!   loss is weighted by the `w` of its nearest bin.

use crate::colorization::rgb_to_lab;
use selfsup_core::{Error, ImageF32, Result};
use std::sync::OnceLock;

/// Grid step of the `ab` quantisation.
pub const AB_GRID: f64 = 10.0;

/// Number of bins.
pub const N_AB_BINS: usize = 313;

/// The bins as `(a, b_min, b_max)` rows (every multiple of 10 from `b_min` to `b_max`).
pub const AB_BIN_ROWS: [(i32, i32, i32); 20] = [
    (-90, 50, 90),
    (-80, 20, 90),
    (-70, 0, 90),
    (-60, -20, 90),
    (-50, -30, 100),
    (-40, -40, 100),
    (-30, -50, 100),
    (-20, -50, 100),
    (-10, -60, 100),
    (0, -70, 100),
    (10, -80, 90),
    (20, -80, 90),
    (30, -90, 90),
    (40, -100, 90),
    (50, -100, 80),
    (60, -110, 80),
    (70, -110, 80),
    (80, -110, 70),
    (90, -110, 70),
    (100, -90, 0),
];

/// The 313 bin centres `[a, b]`, ordered by `a`, then `b`.
pub fn ab_bins() -> &'static [[f64; 2]] {
    static BINS: OnceLock<Vec<[f64; 2]>> = OnceLock::new();
    BINS.get_or_init(|| {
        let mut v = Vec::with_capacity(N_AB_BINS);
        for &(a, lo, hi) in &AB_BIN_ROWS {
            let mut b = lo;
            while b <= hi {
                v.push([f64::from(a), f64::from(b)]);
                b += 10;
            }
        }
        debug_assert_eq!(v.len(), N_AB_BINS);
        v
    })
}

fn dist2(p: [f64; 2], c: [f64; 2]) -> f64 {
    (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)
}

/// Index of the bin nearest to `ab` (the lower index among equally near ones).
pub fn nearest_bin(ab: [f64; 2]) -> usize {
    let bins = ab_bins();
    let mut best = 0;
    let mut bd = f64::INFINITY;
    for (i, &c) in bins.iter().enumerate() {
        let d = dist2(ab, c);
        if d < bd {
            bd = d;
            best = i;
        }
    }
    best
}

/// The `k` nearest bins of `ab` (nearest first; ties: the lower index first) with the weights
/// `exp(−d² / 2σ²)` normalised to sum 1.
pub fn soft_encode(ab: [f64; 2], k: usize, sigma: f64) -> Vec<(usize, f64)> {
    let bins = ab_bins();
    let k = k.clamp(1, bins.len());
    // Partial selection: keep the k best (distance, index) pairs.
    let mut best: Vec<(f64, usize)> = Vec::with_capacity(k + 1);
    for (i, &c) in bins.iter().enumerate() {
        let d = dist2(ab, c);
        if best.len() < k || d < best[k - 1].0 {
            let pos = best.partition_point(|&(bd, _)| bd <= d);
            best.insert(pos, (d, i));
            best.truncate(k);
        }
    }
    let d0 = best[0].0;
    // Subtracting the nearest distance keeps far-away colours from underflowing to 0/0.
    let w: Vec<f64> = best
        .iter()
        .map(|&(d, _)| (-(d - d0) / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f64 = w.iter().sum();
    best.iter().zip(w).map(|(&(_, i), w)| (i, w / s)).collect()
}

/// The empirical class distribution smoothed with a Gaussian of `sigma` over the bin centres,
/// renormalised to sum 1 (`counts`: one non-negative count per bin, not all zero).
pub fn smoothed_prior(counts: &[f64], sigma: f64) -> Result<Vec<f64>> {
    let bins = ab_bins();
    if counts.len() != bins.len() {
        return Err(Error::shape(format!(
            "smoothed_prior: {} counts for {} bins",
            counts.len(),
            bins.len()
        )));
    }
    let total: f64 = counts.iter().sum();
    if total.is_nan() || total <= 0.0 || counts.iter().any(|&c| c < 0.0) {
        return Err(Error::shape(
            "smoothed_prior: counts must be non-negative with a positive sum",
        ));
    }
    let mut out: Vec<f64> = bins
        .iter()
        .map(|&cq| {
            let (mut num, mut den) = (0.0, 0.0);
            for (&cr, &n) in bins.iter().zip(counts) {
                let g = (-dist2(cq, cr) / (2.0 * sigma * sigma)).exp();
                num += g * n / total;
                den += g;
            }
            num / den
        })
        .collect();
    let s: f64 = out.iter().sum();
    out.iter_mut().for_each(|v| *v /= s);
    Ok(out)
}

/// Class weights `∝ ((1 − λ) p̃ + λ / Q)⁻¹`, scaled so that `Σ p̃ w = 1`.
pub fn rebalance_weights(prior: &[f64], lambda: f64) -> Vec<f64> {
    let q = prior.len() as f64;
    let mut w: Vec<f64> = prior
        .iter()
        .map(|&p| 1.0 / ((1.0 - lambda) * p + lambda / q))
        .collect();
    let e: f64 = prior.iter().zip(&w).map(|(p, w)| p * w).sum();
    w.iter_mut().for_each(|v| *v /= e);
    w
}

/// Nearest-bin counts of every pixel of RGB images in `[0, 1]` (the input of [`smoothed_prior`]).
pub fn ab_counts<'a>(images: impl IntoIterator<Item = &'a ImageF32>) -> Result<Vec<f64>> {
    let mut counts = vec![0.0; N_AB_BINS];
    for img in images {
        let (c, h, w) = img.dims();
        if c != 3 {
            return Err(Error::shape(format!(
                "ab_counts needs RGB images, got {c} channel(s)"
            )));
        }
        let n = h * w;
        let d = img.data();
        for i in 0..n {
            let lab = rgb_to_lab([
                f64::from(d[i]),
                f64::from(d[n + i]),
                f64::from(d[2 * n + i]),
            ]);
            counts[nearest_bin([lab[1], lab[2]])] += 1.0;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_313_distinct_bins_on_the_grid() {
        let b = ab_bins();
        assert_eq!(b.len(), 313);
        for w in b.windows(2) {
            assert!(w[0] < w[1], "not sorted by a, then b: {w:?}");
        }
        assert!(b.iter().all(|c| c[0] % 10.0 == 0.0 && c[1] % 10.0 == 0.0));
    }

    #[test]
    fn soft_encoding_on_a_centre_is_peaked_and_sums_to_one() {
        let e = soft_encode([0.0, 0.0], 5, 5.0);
        assert_eq!(e.len(), 5);
        assert_eq!(ab_bins()[e[0].0], [0.0, 0.0]);
        let s: f64 = e.iter().map(|x| x.1).sum();
        assert!((s - 1.0).abs() < 1e-12);
        // Four neighbours at distance 10: exp(-100/50) relative to 1.
        let r = e[1].1 / e[0].1;
        assert!((r - (-2.0f64).exp()).abs() < 1e-12, "{r}");
    }

    #[test]
    fn uniform_prior_gives_unit_weights() {
        let p = vec![1.0 / 313.0; 313];
        let w = rebalance_weights(&p, 0.5);
        assert!(w.iter().all(|&v| (v - 1.0).abs() < 1e-12));
    }
}
