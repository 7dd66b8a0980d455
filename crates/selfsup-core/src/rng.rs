//! Keyed random generators: every random draw in selfsup comes from a [`Generator`] derived from a
//! [`SampleKey`] `(seed, epoch, index, view)` (or from a named domain plus integers, for draws that are
//! not per-sample, such as the loader's shuffle or weight initialisation).
//!
//! Derivation: the key's integers are folded through SplitMix64 (with a distinct domain tag) into a
//! 256-bit ChaCha8 seed. Two keys that differ in any field give unrelated streams; the same key gives
//! the same stream on every machine and for every thread count, because nothing depends on the order in
//! which samples are processed.
//!
//! The samplers: uniform ([`Generator::uniform`], [`Generator::below`], ...), one normal sampler (the
//! ziggurat: [`Generator::normal`], in bulk [`Generator::fill_normal`]) and one Gamma/Beta sampler
//! (Marsaglia–Tsang: [`Generator::gamma`], [`Generator::beta`]); every crate draws through them.

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

    /// Uniform `f64` in `(0, 1]` (never 0, so its logarithm is finite).
    pub fn next_f64_open0(&mut self) -> f64 {
        1.0 - self.next_f64()
    }

    /// A standard normal draw: the 128-layer ziggurat of Marsaglia & Tsang (2000) over this
    /// generator's bits. This is selfsup's one normal sampler; [`Generator::fill_normal`] and
    /// [`Generator::map_normal`] run the same algorithm over a faster bulk expansion.
    pub fn normal(&mut self) -> f64 {
        let bits = self.inner.next_u32();
        ziggurat_normal(ziggurat(), self, bits)
    }

    /// Fills `out` with standard normal draws ([`Generator::map_normal`] with `*v = z`).
    pub fn fill_normal(&mut self, out: &mut [f32]) {
        self.map_normal(out, |v, z| *v = z);
    }

    /// Visits `out` in order with standard normal draws: `f(&mut out[i], z_i)`.
    ///
    /// For bulk noise (a clip or an image worth of samples): four words of this generator seed a
    /// xoshiro256++ stream, which feeds the same ziggurat as [`Generator::normal`] two draws per
    /// 64-bit word — a few times faster than drawing each from ChaCha8, and still a function of this
    /// generator's state only. The generator advances by exactly four words whatever `out.len()`.
    #[inline]
    pub fn map_normal(&mut self, out: &mut [f32], mut f: impl FnMut(&mut f32, f32)) {
        let z = ziggurat();
        let mut rng = Xoshiro::from_generator(self);
        let mut chunks = out.chunks_exact_mut(2);
        for pair in &mut chunks {
            let bits = rng.next_u64();
            f(
                &mut pair[0],
                ziggurat_normal(z, &mut rng, bits as u32) as f32,
            );
            f(
                &mut pair[1],
                ziggurat_normal(z, &mut rng, (bits >> 32) as u32) as f32,
            );
        }
        for v in chunks.into_remainder() {
            let bits = rng.next_u64() as u32;
            f(v, ziggurat_normal(z, &mut rng, bits) as f32);
        }
    }

    /// A `Gamma(shape, 1)` draw: Marsaglia & Tsang (2000) with the squeeze, and for `shape < 1`
    /// the boost `Gamma(shape + 1) · U^(1/shape)`. The one Gamma sampler of selfsup.
    ///
    /// # Panics
    /// If `shape` is not finite and positive (callers validate their configs first).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        assert!(
            shape.is_finite() && shape > 0.0,
            "Generator::gamma: shape must be finite and > 0, got {shape}"
        );
        if shape < 1.0 {
            let u = self.next_f64_open0();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.next_f64_open0();
            if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
                return d * v;
            }
        }
    }

    /// A `Beta(a, b)` draw, as `X / (X + Y)` with `X ~ Gamma(a)`, `Y ~ Gamma(b)` (`0.5` in the
    /// underflow case `X + Y = 0`, possible only for tiny `a`, `b`).
    ///
    /// # Panics
    /// If `a` or `b` is not finite and positive.
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        if x + y == 0.0 {
            0.5
        } else {
            x / (x + y)
        }
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

/// The bits the ziggurat consumes: a 64-bit word and a uniform in `(0, 1]`.
trait Bits {
    fn word(&mut self) -> u64;
    fn open0(&mut self) -> f64;
}

impl Bits for Generator {
    fn word(&mut self) -> u64 {
        self.inner.next_u64()
    }
    fn open0(&mut self) -> f64 {
        self.next_f64_open0()
    }
}

/// xoshiro256++ (Blackman & Vigna): the bulk expansion behind [`Generator::map_normal`], seeded
/// by four words of a keyed [`Generator`].
struct Xoshiro([u64; 4]);

impl Xoshiro {
    fn from_generator(g: &mut Generator) -> Self {
        let mut s = [0u64; 4];
        for v in &mut s {
            *v = g.inner.next_u64();
        }
        if s == [0; 4] {
            s[0] = 1;
        }
        Xoshiro(s)
    }
    #[inline]
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = (s[0].wrapping_add(s[3])).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
}

impl Bits for Xoshiro {
    fn word(&mut self) -> u64 {
        self.next_u64()
    }
    fn open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64)
    }
}

/// Tables of the 128-layer ziggurat for the standard normal (Marsaglia & Tsang, 2000).
struct Ziggurat {
    k: [u32; 128],
    w: [f64; 128],
    f: [f64; 128],
}

const ZIG_R: f64 = 3.442_619_855_899;

fn ziggurat() -> &'static Ziggurat {
    static Z: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    Z.get_or_init(|| {
        let m1 = 2_147_483_648.0f64;
        let v = 9.912_563_035_262_17e-3;
        let mut dn = ZIG_R;
        let mut tn = dn;
        let q = v / (-0.5 * dn * dn).exp();
        let mut z = Ziggurat {
            k: [0; 128],
            w: [0.0; 128],
            f: [0.0; 128],
        };
        z.k[0] = ((dn / q) * m1) as u32;
        z.k[1] = 0;
        z.w[0] = q / m1;
        z.w[127] = dn / m1;
        z.f[0] = 1.0;
        z.f[127] = (-0.5 * dn * dn).exp();
        for i in (1..=126).rev() {
            dn = (-2.0 * (v / dn + (-0.5 * dn * dn).exp()).ln()).sqrt();
            z.k[i + 1] = ((dn / tn) * m1) as u32;
            tn = dn;
            z.f[i] = (-0.5 * dn * dn).exp();
            z.w[i] = dn / m1;
        }
        z
    })
}

/// One standard normal draw from 32 random bits (plus more bits in the rare slow path).
#[inline(always)]
fn ziggurat_normal<B: Bits>(z: &Ziggurat, rng: &mut B, bits: u32) -> f64 {
    let hz = bits as i32;
    let iz = (hz & 127) as usize;
    if i64::from(hz).unsigned_abs() < u64::from(z.k[iz]) {
        return f64::from(hz) * z.w[iz];
    }
    ziggurat_slow(z, rng, hz, iz)
}

/// The ziggurat's rare slow path (about 1 draw in 100), kept out of line so that the fast path
/// inlines into the sampling loop.
#[cold]
#[inline(never)]
fn ziggurat_slow<B: Bits>(z: &Ziggurat, rng: &mut B, mut hz: i32, mut iz: usize) -> f64 {
    loop {
        // The base strip's tail, or a wedge.
        if iz == 0 {
            loop {
                let x = -rng.open0().ln() / ZIG_R;
                let y = -rng.open0().ln();
                if y + y >= x * x {
                    return if hz > 0 { ZIG_R + x } else { -ZIG_R - x };
                }
            }
        }
        let x = f64::from(hz) * z.w[iz];
        if z.f[iz] + rng.open0() * (z.f[iz - 1] - z.f[iz]) < (-0.5 * x * x).exp() {
            return x;
        }
        hz = rng.word() as i32;
        iz = (hz & 127) as usize;
        if i64::from(hz).unsigned_abs() < u64::from(z.k[iz]) {
            return f64::from(hz) * z.w[iz];
        }
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
