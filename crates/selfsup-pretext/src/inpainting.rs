//! Inpainting (context encoders, Pathak et al., 2016) and masked image modelling (SimMIM, BEiT-style
//! masks): remove regions of the image and ask for them back.
//!
//! Regions ([`Region`]):
//! - `central`: the central square of side `round(region_frac · min(H, W))`;
//! - `random`: a square of the same side at a uniformly random position;
//! - `patches`: SimMIM's random patch mask (`mask_ratio` of the `patch_size` patches);
//! - `blockwise`: BEiT's block-wise mask (`mask_ratio` of the patches in blocks of at least
//!   `min_block_patches`).
//!
//! The view is the image with the removed pixels set to `fill`. The target is the original image plus a
//! weight plane. With `overlap > 0` (square regions only), the hole is the region shrunk by `overlap`
//! pixels on each side while the model still predicts the whole region, and the visible ring is
//! weighted `overlap_weight` — the context encoder's overlap-weighted loss (Pathak et al.: 4 px,
//! weight 10). Weights are 1 in the hole and 0 outside the region.

use crate::masks::{blockwise_mask, patch_mask_to_pixels, random_patch_mask, BlockwiseParams};
use crate::{as_image, PretextGenerator, Target};
use selfsup_core::{check, Error, Generator, ImageF32, Result, Sample};
use serde::{Deserialize, Serialize};

/// Which pixels are removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// The central square.
    #[default]
    Central,
    /// A square at a random position.
    Random,
    /// SimMIM's random patch mask.
    Patches,
    /// BEiT's block-wise patch mask.
    Blockwise,
}

/// Settings of the inpainting / masked-image task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InpaintingConfig {
    /// Which pixels are removed (default `central`).
    pub region: Region,
    /// Side of a square region as a fraction of the image side (default 0.5).
    pub region_frac: f64,
    /// Visible border (pixels) inside the square region that is still predicted (default 0).
    pub overlap: usize,
    /// Loss weight of that border (default 10, Pathak et al.).
    pub overlap_weight: f64,
    /// Patch side for `patches` / `blockwise` (default 4; must divide the image sides).
    pub patch_size: usize,
    /// Fraction of patches masked (default 0.6, SimMIM; BEiT uses 0.4).
    pub mask_ratio: f64,
    /// Smallest block of the block-wise mask, in patches (default 4).
    pub min_block_patches: usize,
    /// Value of removed pixels (default 0).
    pub fill: f64,
}

impl Default for InpaintingConfig {
    fn default() -> Self {
        InpaintingConfig {
            region: Region::Central,
            region_frac: 0.5,
            overlap: 0,
            overlap_weight: 10.0,
            patch_size: 4,
            mask_ratio: 0.6,
            min_block_patches: 4,
            fill: 0.0,
        }
    }
}

impl InpaintingConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        check::in_range("inpainting.region_frac", self.region_frac, 0.0, 1.0)?;
        check::non_negative("inpainting.overlap_weight", self.overlap_weight)?;
        check::at_least("inpainting.patch_size", self.patch_size, 1)?;
        check::in_range("inpainting.mask_ratio", self.mask_ratio, 0.0, 1.0)?;
        check::at_least("inpainting.min_block_patches", self.min_block_patches, 1)?;
        check::in_range("inpainting.fill", self.fill, -1e6, 1e6)?;
        if self.overlap > 0 && !matches!(self.region, Region::Central | Region::Random) {
            return Err(Error::config(
                "inpainting.overlap",
                "only applies to square regions (central, random); must be 0 for patch masks",
            ));
        }
        Ok(())
    }
    /// Validates and builds.
    pub fn build(&self) -> Result<Inpainting> {
        self.validate()?;
        Ok(Inpainting { cfg: self.clone() })
    }
}

/// One drawn mask: which pixels are removed and how much each pixel's error counts.
#[derive(Clone, Debug, PartialEq)]
pub struct InpaintMask {
    /// Removed pixels (row-major `h × w`).
    pub hole: Vec<bool>,
    /// Loss weight of each pixel.
    pub weights: Vec<f32>,
}

/// The inpainting generator; see the module docs.
#[derive(Clone, Debug)]
pub struct Inpainting {
    cfg: InpaintingConfig,
}

impl Inpainting {
    /// The hole and per-pixel loss weights (row-major `h × w`) drawn for one image: weight 0 outside
    /// the region, 1 in the hole, `overlap_weight` on the predicted visible border.
    pub fn sample_mask(&self, h: usize, w: usize, rng: &mut Generator) -> Result<InpaintMask> {
        let c = &self.cfg;
        match c.region {
            Region::Central | Region::Random => {
                let side = (c.region_frac * h.min(w) as f64).round() as usize;
                if side < 2 * c.overlap + 1 {
                    return Err(Error::config(
                        "inpainting.region_frac",
                        format!(
                            "a {h}x{w} image gives a {side}-px region, too small for an overlap of {} px: the region side must be >= {}",
                            c.overlap,
                            2 * c.overlap + 1
                        ),
                    ));
                }
                let (top, left) = if c.region == Region::Central {
                    ((h - side) / 2, (w - side) / 2)
                } else {
                    (
                        rng.below((h - side + 1) as u64) as usize,
                        rng.below((w - side + 1) as u64) as usize,
                    )
                };
                let mut wt = vec![0.0f32; h * w];
                let mut hole = vec![false; h * w];
                let o = c.overlap;
                for y in top..top + side {
                    for x in left..left + side {
                        let inner = y >= top + o
                            && y < top + side - o
                            && x >= left + o
                            && x < left + side - o;
                        wt[y * w + x] = if inner { 1.0 } else { c.overlap_weight as f32 };
                        hole[y * w + x] = inner;
                    }
                }
                Ok(InpaintMask { hole, weights: wt })
            }
            Region::Patches | Region::Blockwise => {
                let p = c.patch_size;
                if h % p != 0 || w % p != 0 {
                    return Err(Error::config(
                        "inpainting.patch_size",
                        format!("must divide the image sides, got {p} for a {h}x{w} image"),
                    ));
                }
                let (gh, gw) = (h / p, w / p);
                let mask = if c.region == Region::Patches {
                    random_patch_mask(gh, gw, c.mask_ratio, rng)
                } else {
                    let n = (c.mask_ratio * (gh * gw) as f64).round() as usize;
                    let bp = BlockwiseParams {
                        num_masking_patches: n,
                        min_patches: c.min_block_patches.min(n.max(1)),
                        max_patches: n,
                        aspect: (0.3, 1.0 / 0.3),
                    };
                    bp.validate(gh, gw, "inpainting")?;
                    blockwise_mask(gh, gw, &bp, rng)
                };
                let hole = patch_mask_to_pixels(&mask, gw, p, p);
                let weights = hole.iter().map(|&m| f32::from(u8::from(m))).collect();
                Ok(InpaintMask { hole, weights })
            }
        }
    }

    /// The view (hole filled) and the target (image planes + weight plane) for given weights.
    pub fn apply(&self, img: &ImageF32, m: &InpaintMask) -> Result<(ImageF32, ImageF32)> {
        let (c, h, w) = img.dims();
        if m.hole.len() != h * w || m.weights.len() != h * w {
            return Err(Error::shape("inpainting mask does not match the image"));
        }
        let mut view = img.clone();
        for ch in 0..c {
            for (v, &hole) in view.plane_mut(ch).iter_mut().zip(&m.hole) {
                if hole {
                    *v = self.cfg.fill as f32;
                }
            }
        }
        let mut t = img.data().to_vec();
        t.extend_from_slice(&m.weights);
        Ok((view, ImageF32::new(c + 1, h, w, t)?))
    }
}

impl PretextGenerator for Inpainting {
    fn kind(&self) -> &'static str {
        "inpainting"
    }
    fn n_views(&self) -> usize {
        1
    }
    fn num_classes(&self) -> Option<usize> {
        None
    }
    fn generate(&self, sample: &Sample, rng: &mut Generator) -> Result<(Vec<Sample>, Target)> {
        let img = as_image(sample, "inpainting")?;
        let wt = self.sample_mask(img.height(), img.width(), rng)?;
        let (v, t) = self.apply(&img, &wt)?;
        Ok((vec![Sample::Image(v)], Target::Dense(Sample::Image(t))))
    }
}
