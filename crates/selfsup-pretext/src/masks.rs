//! Masks over a grid of patches for masked image (and spectrogram) modelling.
//!
//! - [`random_patch_mask`]: SimMIM's `MaskGenerator` — exactly `ceil(ratio · n)` of the `n` patches,
//!   chosen uniformly without replacement.
//! - [`blockwise_mask`]: BEiT's `MaskingGenerator` — rectangular blocks of at least `min_patches`
//!   patches with aspect ratio log-uniform in `aspect`, placed uniformly (ten attempts per block, a block
//!   only accepted if its new patches keep the total at or below the target) until
//!   `num_masking_patches` are masked or a block cannot be placed.
//!
//! Masks are row-major `Vec<bool>` of `gh × gw` (true = masked); [`patch_mask_to_pixels`] expands one
//! to pixels.

use selfsup_core::{check, Error, Generator, Result};

/// SimMIM's random patch mask: exactly `ceil(ratio · gh · gw)` masked patches.
pub fn random_patch_mask(gh: usize, gw: usize, ratio: f64, rng: &mut Generator) -> Vec<bool> {
    let n = gh * gw;
    let k = ((ratio * n as f64).ceil() as usize).min(n);
    let perm = rng.permutation(n);
    let mut mask = vec![false; n];
    for &i in &perm[..k] {
        mask[i] = true;
    }
    mask
}

/// Settings of BEiT's block-wise masking.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockwiseParams {
    /// Patches to mask in total (BEiT: 75 of 14×14).
    pub num_masking_patches: usize,
    /// Smallest block, in patches (BEiT: 16).
    pub min_patches: usize,
    /// Largest block, in patches (BEiT: the total).
    pub max_patches: usize,
    /// Aspect-ratio range `(lo, hi)`, drawn log-uniformly (BEiT: (0.3, 1/0.3)).
    pub aspect: (f64, f64),
}

impl BlockwiseParams {
    /// Checks the parameters for a `gh × gw` grid; `field` prefixes the error's field name.
    pub fn validate(&self, gh: usize, gw: usize, field: &str) -> Result<()> {
        if self.num_masking_patches > gh * gw {
            return Err(Error::config(
                format!("{field}.mask_ratio"),
                format!(
                    "asks for {} masked patches of a {gh}x{gw} grid",
                    self.num_masking_patches
                ),
            ));
        }
        check::at_least(&format!("{field}.min_block_patches"), self.min_patches, 1)?;
        check::interval(&format!("{field}.aspect"), self.aspect, 1e-3, 1e3)
    }
}

fn try_block(
    mask: &mut [bool],
    gh: usize,
    gw: usize,
    p: &BlockwiseParams,
    max_mask: usize,
    rng: &mut Generator,
) -> usize {
    let mut delta = 0;
    let (la, lb) = (p.aspect.0.ln(), p.aspect.1.ln());
    for _ in 0..10 {
        let target_area = rng.uniform(p.min_patches as f64, max_mask as f64);
        let aspect = rng.uniform(la, lb).exp();
        let h = (target_area * aspect).sqrt().round() as usize;
        let w = (target_area / aspect).sqrt().round() as usize;
        if w < gw && h < gh {
            let top = rng.below((gh - h + 1) as u64) as usize;
            let left = rng.below((gw - w + 1) as u64) as usize;
            let masked: usize = (top..top + h)
                .map(|i| (left..left + w).filter(|&j| mask[i * gw + j]).count())
                .sum();
            let new = h * w - masked;
            if new > 0 && new <= max_mask {
                for i in top..top + h {
                    for j in left..left + w {
                        if !mask[i * gw + j] {
                            mask[i * gw + j] = true;
                            delta += 1;
                        }
                    }
                }
            }
            if delta > 0 {
                break;
            }
        }
    }
    delta
}

/// BEiT's block-wise mask over a `gh × gw` grid (see the module docs).
pub fn blockwise_mask(gh: usize, gw: usize, p: &BlockwiseParams, rng: &mut Generator) -> Vec<bool> {
    let mut mask = vec![false; gh * gw];
    let mut count = 0;
    while count < p.num_masking_patches {
        let max_mask = (p.num_masking_patches - count).min(p.max_patches);
        let delta = try_block(&mut mask, gh, gw, p, max_mask, rng);
        if delta == 0 {
            break;
        }
        count += delta;
    }
    mask
}

/// Expands a `gh × gw` patch mask to an `(gh·ph) × (gw·pw)` pixel mask (row-major).
pub fn patch_mask_to_pixels(mask: &[bool], gw: usize, ph: usize, pw: usize) -> Vec<bool> {
    let gh = mask.len() / gw.max(1);
    let (h, w) = (gh * ph, gw * pw);
    (0..h * w)
        .map(|i| mask[(i / w / ph) * gw + (i % w) / pw])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_mask_has_the_exact_count() {
        let mut rng = Generator::seed_from_u64(3);
        let m = random_patch_mask(7, 7, 0.6, &mut rng);
        assert_eq!(m.iter().filter(|&&b| b).count(), 30); // ceil(29.4)
    }

    #[test]
    fn pixel_expansion_repeats_patches() {
        let px = patch_mask_to_pixels(&[true, false], 2, 2, 1);
        assert_eq!(px, vec![true, false, true, false]);
    }
}
