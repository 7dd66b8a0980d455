//! SpecAugment masks on spectrograms: [`TimeMasking`] and [`FrequencyMasking`] with torchaudio's rule.
//!
//! For an axis of length `L` and mask parameter `F` (capped at `floor(L · p)` when `p < 1`), two uniforms
//! `u1, u2 ∈ [0, 1)` give the width `v = u1 · F` and the start `floor(u2 · (L − v))`; the mask covers
//! `[start, start + floor(v))` and is filled with `mask_value` (0 by default). With `iid_masks` every
//! channel draws its own mask (torchaudio does so per batch item); otherwise all channels share one.
//! [`mask_range`] is the rule by itself, so the parity test can feed it torch's own uniforms.

use selfsup_core::{check, impl_transform, Error, Generator, RandomTransform, Result, Spectrogram};

/// The masked range `[start, end)` that torchaudio's `mask_along_axis` derives from `u1, u2`.
pub fn mask_range(u1: f64, u2: f64, mask_param: usize, len: usize) -> (usize, usize) {
    // torch computes in float32.
    let value = (u1 as f32) * mask_param as f32;
    let min_value = (u2 as f32) * (len as f32 - value);
    let start = min_value as usize;
    let end = (start + value as usize).min(len);
    (start.min(len), end)
}

fn effective_param(mask_param: usize, p: f64, len: usize) -> usize {
    if p >= 1.0 {
        mask_param
    } else {
        mask_param.min((len as f64 * p) as usize)
    }
}

/// Which axis a mask runs along.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Axis {
    Time,
    Freq,
}

#[derive(Clone, Debug)]
struct Masking {
    axis: Axis,
    mask_param: usize,
    iid_masks: bool,
    p: f64,
    mask_value: f32,
}

impl Masking {
    fn sample(&self, spec: &Spectrogram, rng: &mut Generator) -> Vec<(usize, usize)> {
        let len = match self.axis {
            Axis::Time => spec.n_frames(),
            Axis::Freq => spec.n_freq(),
        };
        let param = effective_param(self.mask_param, self.p, len);
        let n = if self.iid_masks {
            spec.values.channels()
        } else {
            1
        };
        (0..n)
            .map(|_| {
                if param < 1 {
                    return (0, 0);
                }
                let u1 = rng.next_f64();
                let u2 = rng.next_f64();
                mask_range(u1, u2, param, len)
            })
            .collect()
    }

    fn apply(&self, mut spec: Spectrogram, masks: &[(usize, usize)]) -> Result<Spectrogram> {
        let (ch, rows, cols) = spec.values.dims();
        if masks.len() != 1 && masks.len() != ch {
            return Err(Error::Replay(format!(
                "{} masks for {ch} channels",
                masks.len()
            )));
        }
        for c in 0..ch {
            let (s, e) = masks[if masks.len() == 1 { 0 } else { c }];
            let plane = spec.values.plane_mut(c);
            match self.axis {
                Axis::Time => {
                    let (s, e) = (s.min(cols), e.min(cols));
                    for r in 0..rows {
                        plane[r * cols + s..r * cols + e].fill(self.mask_value);
                    }
                }
                Axis::Freq => {
                    let (s, e) = (s.min(rows), e.min(rows));
                    plane[s * cols..e * cols].fill(self.mask_value);
                }
            }
        }
        Ok(spec)
    }
}

macro_rules! masking_transform {
    ($name:ident, $axis:expr, $field:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug)]
        pub struct $name(Masking);

        impl $name {
            /// `mask_param`: maximum width; `iid_masks`: one mask per channel; masks fill with 0.
            pub fn new(mask_param: usize, iid_masks: bool) -> Result<Self> {
                Self::with_options(mask_param, iid_masks, 1.0, 0.0)
            }
            /// Full form: `p` caps the width at `floor(len · p)` (torchaudio's `p`), `mask_value` fills.
            pub fn with_options(mask_param: usize, iid_masks: bool, p: f64, mask_value: f32) -> Result<Self> {
                check::probability(concat!($field, ".p"), p)?;
                if !mask_value.is_finite() {
                    return Err(Error::config(concat!($field, ".mask_value"), format!("must be finite, got {mask_value}")));
                }
                Ok($name(Masking { axis: $axis, mask_param, iid_masks, p, mask_value }))
            }
        }

        impl RandomTransform<Spectrogram> for $name {
            type Params = Vec<(usize, usize)>;
            fn transform_name(&self) -> &str {
                stringify!($name)
            }
            fn sample_params(&self, s: &Spectrogram, rng: &mut Generator) -> Result<Self::Params> {
                Ok(self.0.sample(s, rng))
            }
            fn apply_with(&self, s: Spectrogram, p: &Self::Params) -> Result<Spectrogram> {
                self.0.apply(s, p)
            }
        }
        impl_transform!($name => Spectrogram);
    };
}

masking_transform!(
    TimeMasking,
    Axis::Time,
    "time_masking",
    "torchaudio `TimeMasking(time_mask_param, iid_masks, p)`: masks a random run of frames."
);
masking_transform!(
    FrequencyMasking,
    Axis::Freq,
    "frequency_masking",
    "torchaudio `FrequencyMasking(freq_mask_param, iid_masks)`: masks a random run of rows."
);

#[cfg(test)]
mod tests {
    use super::*;
    use selfsup_core::Transform;

    #[test]
    fn masks_cover_the_drawn_range_only() {
        let spec = Spectrogram::new(2, 4, 10, vec![1.0; 80]).unwrap();
        let t = TimeMasking::new(5, false).unwrap();
        let out = t.apply_with(spec.clone(), &vec![(2, 5)]).unwrap();
        for c in 0..2 {
            for r in 0..4 {
                for col in 0..10 {
                    let want = if (2..5).contains(&col) { 0.0 } else { 1.0 };
                    assert_eq!(out.values.get(c, r, col), want);
                }
            }
        }
        let f = FrequencyMasking::new(3, true).unwrap();
        let out = f.apply_with(spec.clone(), &vec![(1, 2), (0, 0)]).unwrap();
        assert_eq!(
            out.values.plane(0).iter().filter(|&&v| v == 0.0).count(),
            10
        );
        assert!(out.values.plane(1).iter().all(|&v| v == 1.0));
        let mut rng = Generator::seed_from_u64(3);
        for _ in 0..100 {
            let o = t.apply(spec.clone(), &mut rng).unwrap();
            let zeros = o.values.plane(0).iter().filter(|&&v| v == 0.0).count();
            assert!(zeros <= 4 * 4, "width < mask_param");
        }
        assert!(TimeMasking::with_options(5, false, 1.5, 0.0).is_err());
    }
}
