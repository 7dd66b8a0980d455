//! RotNet's pretext task (Gidaris et al., 2018): rotate an image by k·90° and predict k.
//!
//! Two forms: one view rotated by a uniformly drawn `k` with target `Class(k)`, or (`all_four`, the
//! RotNet batch form) all four rotations of each image as four views, with the per-view labels
//! `[0, 1, 2, 3]` as a `Dense(Tokens)` target. Non-square images rotated by 90° change shape, so
//! batches of non-square images need `all_four = false` and square crops; [`Rotation::validate_for`]
//! refuses them.

use crate::{as_image, PretextGenerator, Result, Target};
use selfsup_core::{Error, Generator, ImageF32, Sample, Tokens};
use serde::{Deserialize, Serialize};

/// Settings of the rotation task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RotationConfig {
    /// All four rotations of each image as four views (RotNet's batch form) instead of one random one.
    pub all_four: bool,
}

impl RotationConfig {
    /// Nothing to check today (kept for the uniform config interface).
    pub fn validate(&self) -> Result<()> {
        Ok(())
    }
    /// The generator.
    pub fn build(&self) -> Result<Rotation> {
        self.validate()?;
        Ok(Rotation {
            all_four: self.all_four,
        })
    }
}

/// The rotation generator; see the module docs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rotation {
    /// See [`RotationConfig::all_four`].
    pub all_four: bool,
}

impl Rotation {
    /// Rotates `img` by `k`·90° counter-clockwise (as `torch.rot90(img, k, dims=(1, 2))`).
    pub fn rotate(img: &ImageF32, k: u8) -> ImageF32 {
        let (c, h, w) = img.dims();
        let k = k % 4;
        let (oh, ow) = if k % 2 == 0 { (h, w) } else { (w, h) };
        let mut out = ImageF32::zeros(c, oh, ow);
        for ch in 0..c {
            rotate_plane(img.plane(ch), out.plane_mut(ch), h, w, k);
        }
        out
    }

    /// The inverse of [`Rotation::rotate`] by `k`: rotation by `4 - k`.
    pub fn rotate_back(img: &ImageF32, k: u8) -> ImageF32 {
        Self::rotate(img, (4 - k % 4) % 4)
    }

    /// The drawn rotation `k ∈ {0, 1, 2, 3}`.
    pub fn sample_k(&self, rng: &mut Generator) -> u8 {
        rng.below(4) as u8
    }

    /// Checks that an image of `h × w` can be used (non-empty; square, since rotated views share a batch).
    pub fn validate_for(&self, h: usize, w: usize) -> Result<()> {
        if h == 0 || w == 0 {
            return Err(Error::shape(
                "rotation pretext task needs a non-empty image",
            ));
        }
        if h != w {
            return Err(Error::config(
                "method.rotation",
                format!("needs square images (rotated views share a batch), got {h}x{w}; crop or resize to a square first"),
            ));
        }
        Ok(())
    }
}

/// Side of the square tiles the quarter turns walk in, so that both the rows read and the rows
/// written stay in cache (the strided side of a transpose).
const TILE: usize = 32;

/// One `h × w` plane rotated by `k`·90° into `out` (`torch.rot90` on dims (H, W)): `k = 0` copies,
/// `k = 2` reverses the plane, and the quarter turns are tiled transposes with one axis reversed
/// (`k = 1`: `out[y][x] = in[x][w-1-y]`; `k = 3`: `out[y][x] = in[h-1-x][y]`).
fn rotate_plane(src: &[f32], out: &mut [f32], h: usize, w: usize, k: u8) {
    match k {
        0 => out.copy_from_slice(src),
        2 => {
            for (o, s) in out.iter_mut().zip(src.iter().rev()) {
                *o = *s;
            }
        }
        _ => {
            // The output is w rows of h.
            for y0 in (0..w).step_by(TILE) {
                for x0 in (0..h).step_by(TILE) {
                    for y in y0..(y0 + TILE).min(w) {
                        let row = &mut out[y * h..(y + 1) * h];
                        for x in x0..(x0 + TILE).min(h) {
                            row[x] = if k == 1 {
                                src[x * w + (w - 1 - y)]
                            } else {
                                src[(h - 1 - x) * w + y]
                            };
                        }
                    }
                }
            }
        }
    }
}

impl PretextGenerator for Rotation {
    fn kind(&self) -> &'static str {
        "rotation"
    }
    fn n_views(&self) -> usize {
        if self.all_four {
            4
        } else {
            1
        }
    }
    fn num_classes(&self) -> Option<usize> {
        Some(4)
    }
    fn generate(&self, sample: &Sample, rng: &mut Generator) -> Result<(Vec<Sample>, Target)> {
        let img = as_image(sample, "rotation")?;
        self.validate_for(img.height(), img.width())?;
        if self.all_four {
            let views = (0..4)
                .map(|k| Sample::Image(Self::rotate(&img, k)))
                .collect();
            return Ok((
                views,
                Target::Dense(Sample::Tokens(Tokens {
                    ids: vec![0, 1, 2, 3],
                })),
            ));
        }
        let k = self.sample_k(rng);
        Ok((
            vec![Sample::Image(Self::rotate(&img, k))],
            Target::Class(i64::from(k)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_matches_torch_rot90_convention() {
        // torch.rot90(torch.tensor([[1,2],[3,4]]), 1) == [[2,4],[1,3]]
        let img = ImageF32::new(1, 2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(Rotation::rotate(&img, 1).data(), &[2.0, 4.0, 1.0, 3.0]);
        assert_eq!(Rotation::rotate(&img, 2).data(), &[4.0, 3.0, 2.0, 1.0]);
        assert_eq!(Rotation::rotate(&img, 3).data(), &[3.0, 1.0, 4.0, 2.0]);
        let r = ImageF32::new(1, 2, 3, (0..6).map(|v| v as f32).collect()).unwrap();
        let four = (0..4).fold(r.clone(), |a, _| Rotation::rotate(&a, 1));
        assert_eq!(four, r);
        assert_eq!(Rotation::rotate(&r, 1).dims(), (1, 3, 2));
    }

    #[test]
    fn tiled_rotation_matches_the_index_formula_beyond_one_tile() {
        let (c, h, w) = (2, 37, 70);
        let img = ImageF32::new(c, h, w, (0..c * h * w).map(|v| v as f32).collect()).unwrap();
        for k in 0..4u8 {
            let r = Rotation::rotate(&img, k);
            let (_, oh, ow) = r.dims();
            for ch in 0..c {
                for y in 0..oh {
                    for x in 0..ow {
                        let (sy, sx) = match k {
                            0 => (y, x),
                            1 => (x, w - 1 - y),
                            2 => (h - 1 - y, w - 1 - x),
                            _ => (h - 1 - x, y),
                        };
                        assert_eq!(
                            r.get(ch, y, x),
                            img.get(ch, sy, sx),
                            "k {k} at {ch},{y},{x}"
                        );
                    }
                }
            }
            assert_eq!(Rotation::rotate_back(&r, k), img);
        }
    }
}
