//! Keyed random generators: every random draw in selfsup comes from a [`Generator`] derived from a
//! [`SampleKey`] `(seed, epoch, index, view)` (or from a named domain plus integers, for draws that are
//! not per-sample, such as the loader's shuffle or weight initialisation).
//!
//! Derivation: the key's integers are folded through SplitMix64 (with a distinct domain tag) into a
//! 256-bit ChaCha8 seed. Two keys that differ in any field give unrelated streams; the same key gives
//! the same stream on every machine and for every thread count, because nothing depends on the order in
//! which samples are processed.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Identifies one view of one sample in one epoch of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SampleKey {
    /// The run seed.
    pub seed: u64,
    /// The epoch (0-based).
    pub epoch: u64,
    /// The dataset index of the sample.
    pub index: u64,
    /// The view number within a multi-view pipeline (0 for single-view pipelines).
    pub view: u64,
}

impl SampleKey {
    /// A key for view 0 of sample `index` in `epoch`.
    pub fn new(seed: u64, epoch: u64, index: u64) -> Self {
        SampleKey {
            seed,
            epoch,
            index,
            view: 0,
        }
    }

    /// The same key for another view.
    pub fn with_view(self, view: u64) -> Self {
        SampleKey { view, ..self }
    }

    /// The generator for this key.
    pub fn rng(&self) -> Generator {
        Generator::from_domain("sample", &[self.seed, self.epoch, self.index, self.view])
    }
}

/// SplitMix64 step: the standard 64-bit finaliser used to spread key bits.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a hash of a domain name, so that domains are readable strings in code.
fn domain_tag(domain: &str) -> u64 {
    domain.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A deterministic random generator (ChaCha8) with the draws selfsup's transforms need.
///
/// It implements [`rand::RngCore`], so every `rand::Rng` method is available too.
#[derive(Clone, Debug)]
pub struct Generator {
    inner: ChaCha8Rng,
}

impl Generator {
    /// A generator keyed by a domain name and any number of integers.
    pub fn from_domain(domain: &str, parts: &[u64]) -> Self {
        let mut state = domain_tag(domain);
        for &p in parts {
            state ^= p;
            splitmix64(&mut state);
            state = state.rotate_left(17) ^ splitmix64(&mut state);
        }
        state ^= parts.len() as u64;
        let mut seed = [0u8; 32];
        for chunk in seed.chunks_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        Generator {
            inner: ChaCha8Rng::from_seed(seed),
        }
    }

    /// A generator from a bare seed (for tests and one-off uses; pipelines use [`SampleKey::rng`]).
    pub fn seed_from_u64(seed: u64) -> Self {
        Self::from_domain("seed", &[seed])
    }

    /// An independent child generator, keyed by this generator's next output and `tag`.
    pub fn fork(&mut self, tag: u64) -> Generator {
        let a = self.inner.next_u64();
        Self::from_domain("fork", &[a, tag])
    }

    /// Uniform `f64` in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.inner.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform `f64` in `[lo, hi)` (returns `lo` when `lo == hi`).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// Uniform `f32` in `[lo, hi)`.
    pub fn uniform_f32(&mut self, lo: f32, hi: f32) -> f32 {
        self.uniform(f64::from(lo), f64::from(hi)) as f32
    }

    /// Uniform integer in `[0, n)` without modulo bias (Lemire's method). `n` must be > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Generator::below(0)");
        loop {
            let x = self.inner.next_u64();
            let m = u128::from(x) * u128::from(n);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as u64;
            }
        }
    }

    /// Uniform integer in `[lo, hi]` (inclusive both ends).
    pub fn int_inclusive(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi, "int_inclusive: lo > hi");
        let span = (hi - lo) as u64 + 1;
        if span == 0 {
            return self.inner.next_u64() as i64;
        }
        lo + self.below(span) as i64
    }

    /// `true` with probability `p`.
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// A standard normal draw (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64(); // (0, 1]
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Fisher–Yates shuffle in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// A uniformly random permutation of `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        self.shuffle(&mut p);
        p
    }

    /// An index drawn with probability proportional to `weights` (which must not all be zero).
    pub fn weighted_index(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut r = self.next_f64() * total;
        for (i, &w) in weights.iter().enumerate() {
            if r < w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }
}

impl RngCore for Generator {
    fn next_u32(&mut self) -> u32 {
        self.inner.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.inner.fill_bytes(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(mut g: Generator) -> Vec<u64> {
        (0..8).map(|_| g.next_u64()).collect()
    }

    #[test]
    fn same_key_gives_same_draws() {
        let k = SampleKey {
            seed: 7,
            epoch: 3,
            index: 11,
            view: 1,
        };
        assert_eq!(draws(k.rng()), draws(k.rng()));
    }

    #[test]
    fn any_field_change_gives_different_draws() {
        let k = SampleKey {
            seed: 7,
            epoch: 3,
            index: 11,
            view: 1,
        };
        let base = draws(k.rng());
        for other in [
            SampleKey { seed: 8, ..k },
            SampleKey { epoch: 4, ..k },
            SampleKey { index: 12, ..k },
            k.with_view(0),
        ] {
            assert_ne!(base, draws(other.rng()), "{other:?}");
        }
        // Swapping fields must not collide either (the derivation is not symmetric).
        let swapped = SampleKey {
            seed: 7,
            epoch: 11,
            index: 3,
            view: 1,
        };
        assert_ne!(base, draws(swapped.rng()));
        assert_ne!(
            draws(Generator::from_domain("a", &[1])),
            draws(Generator::from_domain("b", &[1]))
        );
    }

    #[test]
    fn uniform_draws_have_the_right_moments() {
        let mut g = Generator::seed_from_u64(1);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| g.uniform(2.0, 4.0)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 3.0).abs() < 0.01, "mean {mean}");
        assert!((var - 4.0 / 12.0).abs() < 0.01, "var {var}");
        assert!(xs.iter().all(|&x| (2.0..4.0).contains(&x)));
        let zs: Vec<f64> = (0..n).map(|_| g.normal()).collect();
        let zm = zs.iter().sum::<f64>() / n as f64;
        let zv = zs.iter().map(|z| (z - zm).powi(2)).sum::<f64>() / n as f64;
        assert!(
            zm.abs() < 0.01 && (zv - 1.0).abs() < 0.02,
            "normal mean {zm} var {zv}"
        );
        let mut counts = [0usize; 6];
        for _ in 0..60_000 {
            counts[g.below(6) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_400..10_600).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut g = Generator::seed_from_u64(5);
        let mut p = g.permutation(100);
        p.sort_unstable();
        assert_eq!(p, (0..100).collect::<Vec<_>>());
    }
}
