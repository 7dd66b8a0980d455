//! Batch-level MixUp (Zhang et al. 2018) and CutMix (Yun et al. 2019) with torchvision v2 semantics:
//! each image is mixed with its neighbour in the batch rolled by one (`batch.roll(1, 0)`), with
//! `λ ~ Beta(α, α)`; labels become one-hot vectors mixed with the same weight (for CutMix, the weight
//! is corrected to the pasted box's actual area: `λ = 1 − box_area / image_area`).
//!
//! These operate on a whole batch (`&mut [ImageF32]` + class ids), so they are not per-sample
//! [`selfsup_core::Transform`]s; their parameters are still drawn from an explicit generator and can
//! be applied by hand ([`MixUp::apply_with`], [`CutMix::apply_with`]).

use selfsup_core::{check, Error, Generator, ImageF32, Result};

fn check_batch(
    images: &[ImageF32],
    labels: &[usize],
    num_classes: usize,
) -> Result<(usize, usize, usize)> {
    if images.len() != labels.len() {
        return Err(Error::shape(format!(
            "mix: {} images but {} labels",
            images.len(),
            labels.len()
        )));
    }
    let dims = images.first().map(|i| i.dims()).unwrap_or((0, 0, 0));
    if images.iter().any(|i| i.dims() != dims) {
        return Err(Error::shape(
            "mix: all images of a batch must have the same size",
        ));
    }
    if let Some(&l) = labels.iter().find(|&&l| l >= num_classes) {
        return Err(Error::shape(format!(
            "mix: label {l} is not < num_classes = {num_classes}"
        )));
    }
    Ok(dims)
}

/// One-hot labels mixed with their rolled neighbours: `λ·onehot(y_i) + (1 − λ)·onehot(y_{i−1})`.
fn mixed_labels(labels: &[usize], num_classes: usize, lam: f32) -> Vec<Vec<f32>> {
    let n = labels.len();
    (0..n)
        .map(|i| {
            let mut v = vec![0.0f32; num_classes];
            v[labels[(i + n - 1) % n]] += 1.0 - lam;
            v[labels[i]] += lam;
            v
        })
        .collect()
}

/// MixUp over a batch.
#[derive(Clone, Debug)]
pub struct MixUp {
    alpha: f64,
    num_classes: usize,
}

impl MixUp {
    /// `alpha > 0` (torchvision default 1.0), `num_classes ≥ 1`.
    pub fn new(alpha: f64, num_classes: usize) -> Result<Self> {
        check::positive("mixup.alpha", alpha)?;
        check::at_least("mixup.num_classes", num_classes, 1)?;
        Ok(MixUp { alpha, num_classes })
    }
    /// Draws `λ`.
    pub fn sample_lambda(&self, rng: &mut Generator) -> f64 {
        rng.beta(self.alpha, self.alpha)
    }
    /// Mixes in place with a fixed `λ`; returns the soft labels.
    pub fn apply_with(
        &self,
        images: &mut [ImageF32],
        labels: &[usize],
        lam: f64,
    ) -> Result<Vec<Vec<f32>>> {
        check_batch(images, labels, self.num_classes)?;
        let n = images.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let lam32 = lam as f32;
        let rolled: Vec<ImageF32> = (0..n).map(|i| images[(i + n - 1) % n].clone()).collect();
        for (img, other) in images.iter_mut().zip(&rolled) {
            for (v, &o) in img.data_mut().iter_mut().zip(other.data()) {
                *v = o * (1.0 - lam32) + *v * lam32;
            }
        }
        Ok(mixed_labels(labels, self.num_classes, lam32))
    }
    /// Draws `λ` and mixes.
    pub fn apply(
        &self,
        images: &mut [ImageF32],
        labels: &[usize],
        rng: &mut Generator,
    ) -> Result<Vec<Vec<f32>>> {
        let lam = self.sample_lambda(rng);
        self.apply_with(images, labels, lam)
    }
}

/// One CutMix draw: the pasted box `(x1, y1, x2, y2)` (exclusive ends) and the area-corrected `λ`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CutMixParams {
    /// Box `(x1, y1, x2, y2)`.
    pub bbox: (usize, usize, usize, usize),
    /// `1 − box_area / image_area`.
    pub lam: f64,
}

/// CutMix over a batch.
#[derive(Clone, Debug)]
pub struct CutMix {
    alpha: f64,
    num_classes: usize,
}

impl CutMix {
    /// `alpha > 0` (torchvision default 1.0), `num_classes ≥ 1`.
    pub fn new(alpha: f64, num_classes: usize) -> Result<Self> {
        check::positive("cutmix.alpha", alpha)?;
        check::at_least("cutmix.num_classes", num_classes, 1)?;
        Ok(CutMix { alpha, num_classes })
    }
    /// torchvision's box draw for an `h × w` batch.
    pub fn sample_params(&self, h: usize, w: usize, rng: &mut Generator) -> CutMixParams {
        let lam = rng.beta(self.alpha, self.alpha);
        let rx = rng.below(w.max(1) as u64) as i64;
        let ry = rng.below(h.max(1) as u64) as i64;
        let r = 0.5 * (1.0 - lam).sqrt();
        let rw = (r * w as f64) as i64;
        let rh = (r * h as f64) as i64;
        let x1 = (rx - rw).max(0) as usize;
        let y1 = (ry - rh).max(0) as usize;
        let x2 = ((rx + rw) as usize).min(w);
        let y2 = ((ry + rh) as usize).min(h);
        let area = ((x2 - x1) * (y2 - y1)) as f64;
        let lam = 1.0 - area / (w * h).max(1) as f64;
        CutMixParams {
            bbox: (x1, y1, x2, y2),
            lam,
        }
    }
    /// Pastes the box from each rolled neighbour in place; returns the soft labels.
    pub fn apply_with(
        &self,
        images: &mut [ImageF32],
        labels: &[usize],
        p: &CutMixParams,
    ) -> Result<Vec<Vec<f32>>> {
        let (c, h, w) = check_batch(images, labels, self.num_classes)?;
        let (x1, y1, x2, y2) = p.bbox;
        if x2 > w || y2 > h || x1 > x2 || y1 > y2 {
            return Err(Error::shape("cutmix: box outside the images"));
        }
        let n = images.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let rolled: Vec<ImageF32> = (0..n).map(|i| images[(i + n - 1) % n].clone()).collect();
        for (img, other) in images.iter_mut().zip(&rolled) {
            for ch in 0..c {
                for y in y1..y2 {
                    let r = (ch * h + y) * w;
                    img.data_mut()[r + x1..r + x2].copy_from_slice(&other.data()[r + x1..r + x2]);
                }
            }
        }
        Ok(mixed_labels(labels, self.num_classes, p.lam as f32))
    }
    /// Draws a box and mixes.
    pub fn apply(
        &self,
        images: &mut [ImageF32],
        labels: &[usize],
        rng: &mut Generator,
    ) -> Result<Vec<Vec<f32>>> {
        let (_, h, w) = images.first().map(|i| i.dims()).unwrap_or((0, 0, 0));
        let p = self.sample_params(h, w, rng);
        self.apply_with(images, labels, &p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixup_and_cutmix_follow_the_closed_forms() {
        let mk = |v: f32| ImageF32::new(1, 4, 4, vec![v; 16]).unwrap();
        let mut batch = vec![mk(0.0), mk(1.0)];
        let labels = mixed_labels(&[0, 1], 2, 0.25);
        assert_eq!(labels, vec![vec![0.25, 0.75], vec![0.75, 0.25]]);
        let soft = MixUp::new(1.0, 2)
            .unwrap()
            .apply_with(&mut batch, &[0, 1], 0.25)
            .unwrap();
        assert_eq!(soft, labels);
        assert!(batch[0].data().iter().all(|&v| (v - 0.75).abs() < 1e-6));
        assert!(batch[1].data().iter().all(|&v| (v - 0.25).abs() < 1e-6));
        let mut batch = vec![mk(0.0), mk(1.0)];
        let cm = CutMix::new(1.0, 2).unwrap();
        let p = CutMixParams {
            bbox: (1, 0, 3, 2),
            lam: 0.75,
        };
        let soft = cm.apply_with(&mut batch, &[0, 1], &p).unwrap();
        assert_eq!(batch[0].data().iter().filter(|&&v| v == 1.0).count(), 4);
        assert_eq!(soft[0], vec![0.75, 0.25]);
        let mut g = Generator::seed_from_u64(1);
        for _ in 0..200 {
            let p = cm.sample_params(10, 12, &mut g);
            let (x1, y1, x2, y2) = p.bbox;
            assert!(x2 <= 12 && y2 <= 10 && x1 <= x2 && y1 <= y2);
            assert!((p.lam - (1.0 - ((x2 - x1) * (y2 - y1)) as f64 / 120.0)).abs() < 1e-12);
        }
        assert!(MixUp::new(1.0, 2)
            .unwrap()
            .apply_with(&mut [mk(0.0)], &[5], 0.5)
            .is_err());
    }
}
