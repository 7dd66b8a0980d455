//! RotNet's pretext task (Gidaris et al., 2018): rotate an image by k·90° and predict k.

use crate::{PretextTask, Result, Target};
use selfsup_core::{Error, Generator, ImageF32};

/// Rotates by a uniformly drawn multiple of 90° (counter-clockwise) and labels it with k ∈ {0,1,2,3}.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rotation;

impl Rotation {
    /// Rotates `img` by `k`·90° counter-clockwise (as `torch.rot90(img, k, dims=(1, 2))`).
    pub fn rotate(img: &ImageF32, k: u8) -> Result<ImageF32> {
        let (c, h, w) = img.dims();
        let k = k % 4;
        let (oh, ow) = if k % 2 == 0 { (h, w) } else { (w, h) };
        let mut out = ImageF32::zeros(c, oh, ow);
        for ch in 0..c {
            for y in 0..oh {
                for x in 0..ow {
                    // torch.rot90 with k=1 on dims (H, W): out[y][x] = in[x][w-1-y].
                    let (sy, sx) = match k {
                        0 => (y, x),
                        1 => (x, w - 1 - y),
                        2 => (h - 1 - y, w - 1 - x),
                        _ => (h - 1 - x, y),
                    };
                    out.set(ch, y, x, img.get(ch, sy, sx));
                }
            }
        }
        Ok(out)
    }
}

impl PretextTask<ImageF32> for Rotation {
    fn num_classes(&self) -> Option<usize> {
        Some(4)
    }
    fn make(&self, sample: &ImageF32, rng: &mut Generator) -> Result<(ImageF32, Target)> {
        if sample.is_empty() {
            return Err(Error::shape(
                "rotation pretext task needs a non-empty image",
            ));
        }
        let k = rng.below(4) as u8;
        Ok((Self::rotate(sample, k)?, Target::Class(i64::from(k))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_matches_torch_rot90_convention() {
        // torch.rot90(torch.tensor([[1,2],[3,4]]), 1) == [[2,4],[1,3]]
        let img = ImageF32::new(1, 2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(
            Rotation::rotate(&img, 1).unwrap().data(),
            &[2.0, 4.0, 1.0, 3.0]
        );
        assert_eq!(
            Rotation::rotate(&img, 2).unwrap().data(),
            &[4.0, 3.0, 2.0, 1.0]
        );
        assert_eq!(
            Rotation::rotate(&img, 3).unwrap().data(),
            &[3.0, 1.0, 4.0, 2.0]
        );
        let r = ImageF32::new(1, 2, 3, (0..6).map(|v| v as f32).collect()).unwrap();
        let four = (0..4).fold(r.clone(), |a, _| Rotation::rotate(&a, 1).unwrap());
        assert_eq!(four, r);
        assert_eq!(Rotation::rotate(&r, 1).unwrap().dims(), (1, 3, 2));
    }

    #[test]
    fn labels_cover_all_four_rotations() {
        let img = ImageF32::zeros(1, 3, 3);
        let mut seen = [0; 4];
        let mut rng = Generator::seed_from_u64(0);
        for _ in 0..400 {
            if let (_, Target::Class(k)) = Rotation.make(&img, &mut rng).unwrap() {
                seen[k as usize] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
    }
}
