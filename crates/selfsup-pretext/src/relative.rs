//! Relative patch position (Doersch et al., 2015): given the centre patch of a 3×3 grid and one of its
//! eight neighbours, predict which neighbour it is.
//!
//! Geometry as in [`jigsaw`](crate::jigsaw): cells of `min(H, W) / 3` pixels over the image's central
//! square, patches `cell − round(gap·cell)` pixels wide inside their cells, at a random offset with
//! `jitter` — the gap and jitter keep the model from matching edges and lines across patches. Classes
//! number the neighbours row-major, skipping the centre: 0 1 2 / 3 · 4 / 5 6 7.
//!
//! Colour-channel dropping (the paper's remedy for chromatic aberration, which lets a network locate
//! a patch from colour fringes alone): with probability `channel_drop`, each patch of a 3-channel image
//! keeps one random channel and the other two become Gaussian noise of standard deviation `noise_std`
//! (grey images are left as they are).
//!
//! `whole_image_stats` adds the whole image as a third view, which the method
//! ([`crate::methods`]) runs through the backbone for its batch-norm statistics only: the
//! encoder is trained on patches but embeds whole images, and running statistics of patches
//! misnormalise them (on the 28-px digits a random ConvNet with its statistics taken from the
//! 9-px patches probes 0.902 against 0.929; `docs/benchmarks.md`, "Pretext tasks").

use crate::{as_image, crop, PretextGenerator, Target};
use selfsup_core::{check, Error, Generator, ImageF32, Result, Sample};
use serde::{Deserialize, Serialize};

/// Grid position (row-major, 0..9) of each neighbour class.
pub const NEIGHBOURS: [usize; 8] = [0, 1, 2, 3, 5, 6, 7, 8];

/// Settings of the relative-position task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelativePositionConfig {
    /// Fraction of each cell's side left out of its patch (default 0.3; Doersch: 48-px gaps between 96-px patches).
    pub gap: f64,
    /// Patches at a random offset inside their cells (default true).
    pub jitter: bool,
    /// Probability of dropping two of the three colour channels of a patch (default 1; RGB only).
    pub channel_drop: f64,
    /// Standard deviation of the noise that replaces dropped channels (default 0.01).
    pub noise_std: f64,
    /// Add the whole image as a third view, for the backbone's batch-norm running statistics
    /// (default false; see the module docs).
    pub whole_image_stats: bool,
}

impl Default for RelativePositionConfig {
    fn default() -> Self {
        RelativePositionConfig {
            gap: 0.3,
            jitter: true,
            channel_drop: 1.0,
            noise_std: 0.01,
            whole_image_stats: false,
        }
    }
}

impl RelativePositionConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        check::in_range("relative_position.gap", self.gap, 0.0, 0.9)?;
        check::probability("relative_position.channel_drop", self.channel_drop)?;
        check::non_negative("relative_position.noise_std", self.noise_std)
    }
    fn patch_for(&self, cell: usize) -> usize {
        cell.saturating_sub((self.gap * cell as f64).round() as usize)
    }
    /// The smallest image side whose patches have at least 2 pixels per side.
    pub fn min_side(&self) -> usize {
        (1..)
            .find(|&s| self.patch_for(s / 3) >= 2)
            .unwrap_or(usize::MAX)
    }
    /// Validates and builds.
    pub fn build(&self) -> Result<RelativePosition> {
        self.validate()?;
        Ok(RelativePosition { cfg: self.clone() })
    }
}

/// The drawn parameters of one pair.
#[derive(Clone, Debug, PartialEq)]
pub struct RelativeParams {
    /// The neighbour class (0..8).
    pub class: usize,
    /// Top-left corners of the centre and the neighbour patch.
    pub corners: [(usize, usize); 2],
    /// Patch side in pixels.
    pub patch: usize,
    /// The channel kept by each patch when its colours are dropped.
    pub kept: [Option<usize>; 2],
}

/// The relative-position generator; see the module docs.
#[derive(Clone, Debug)]
pub struct RelativePosition {
    cfg: RelativePositionConfig,
}

impl RelativePosition {
    /// Draws one pair's geometry and channel dropping for a `c × h × w` image.
    pub fn sample_params(
        &self,
        c: usize,
        h: usize,
        w: usize,
        rng: &mut Generator,
    ) -> Result<RelativeParams> {
        let cell = h.min(w) / 3;
        let patch = self.cfg.patch_for(cell);
        if patch < 2 {
            return Err(Error::config(
                "relative_position.gap",
                format!(
                    "a {h}x{w} image is too small for a 3x3 grid with gap {}: patches would be {patch} px; the image side must be >= {}",
                    self.cfg.gap,
                    self.cfg.min_side()
                ),
            ));
        }
        let class = rng.below(8) as usize;
        let slack = cell - patch;
        let origin = ((h - 3 * cell) / 2, (w - 3 * cell) / 2);
        let corner = |pos: usize, rng: &mut Generator| {
            let (dy, dx) = if self.cfg.jitter {
                (
                    rng.below(slack as u64 + 1) as usize,
                    rng.below(slack as u64 + 1) as usize,
                )
            } else {
                (slack / 2, slack / 2)
            };
            (
                origin.0 + (pos / 3) * cell + dy,
                origin.1 + (pos % 3) * cell + dx,
            )
        };
        let corners = [corner(4, rng), corner(NEIGHBOURS[class], rng)];
        let mut kept = [None, None];
        if c == 3 {
            for k in &mut kept {
                if rng.bernoulli(self.cfg.channel_drop) {
                    *k = Some(rng.below(3) as usize);
                }
            }
        }
        Ok(RelativeParams {
            class,
            corners,
            patch,
            kept,
        })
    }

    /// The two patches (centre, neighbour); `rng` draws the replacement noise.
    pub fn apply(&self, img: &ImageF32, p: &RelativeParams, rng: &mut Generator) -> [ImageF32; 2] {
        let mut out = p
            .corners
            .map(|(top, left)| crop(img, top, left, p.patch, p.patch));
        for (patch, kept) in out.iter_mut().zip(p.kept) {
            if let Some(k) = kept {
                for ch in (0..patch.channels()).filter(|&ch| ch != k) {
                    for v in patch.plane_mut(ch) {
                        *v = (self.cfg.noise_std * rng.normal()) as f32;
                    }
                }
            }
        }
        out
    }
}

impl PretextGenerator for RelativePosition {
    fn kind(&self) -> &'static str {
        "relative_position"
    }
    fn n_views(&self) -> usize {
        2 + usize::from(self.cfg.whole_image_stats)
    }
    fn num_classes(&self) -> Option<usize> {
        Some(8)
    }
    fn generate(&self, sample: &Sample, rng: &mut Generator) -> Result<(Vec<Sample>, Target)> {
        let img = as_image(sample, "relative_position")?;
        let (c, h, w) = img.dims();
        let p = self.sample_params(c, h, w, rng)?;
        let [a, b] = self.apply(&img, &p, rng);
        let mut views = vec![Sample::Image(a), Sample::Image(b)];
        if self.cfg.whole_image_stats {
            views.push(Sample::Image(img));
        }
        Ok((views, Target::Class(p.class as i64)))
    }
}
