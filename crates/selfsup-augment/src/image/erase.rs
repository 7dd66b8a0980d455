//! Random erasing (Zhong et al. 2017; torchvision's `RandomErasing`): with probability `p`, a
//! rectangle of area fraction `U(scale)` and log aspect ratio `U(ln r0, ln r1)` (up to 10 attempts; the
//! rectangle must be strictly smaller than the image) is overwritten by a constant per channel or by
//! standard-normal noise.

use selfsup_core::{check, impl_transform, Error, Generator, ImageF32, RandomTransform, Result};

/// What fills the erased rectangle.
#[derive(Clone, Debug, PartialEq)]
pub enum EraseValue {
    /// One value for every channel, or one per channel.
    Constant(Vec<f32>),
    /// Independent standard-normal noise per pixel (torchvision's `value="random"`).
    Random,
}

/// One draw of [`RandomErasing`]: the rectangle and its content (`None` = leave the image alone).
#[derive(Clone, Debug, PartialEq)]
pub struct EraseParams {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Values, planar `channels × height × width` (or one per channel when constant).
    pub values: Vec<f32>,
}

/// torchvision's `RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0)`.
#[derive(Clone, Debug)]
pub struct RandomErasing {
    p: f64,
    scale: (f64, f64),
    ratio: (f64, f64),
    value: EraseValue,
}

impl Default for RandomErasing {
    fn default() -> Self {
        RandomErasing {
            p: 0.5,
            scale: (0.02, 0.33),
            ratio: (0.3, 3.3),
            value: EraseValue::Constant(vec![0.0]),
        }
    }
}

impl RandomErasing {
    /// Validated constructor.
    pub fn new(p: f64, scale: (f64, f64), ratio: (f64, f64), value: EraseValue) -> Result<Self> {
        check::probability("random_erasing.p", p)?;
        check::interval("random_erasing.scale", scale, 0.0, 1.0)?;
        check::interval("random_erasing.ratio", ratio, 0.0, f64::MAX)?;
        check::positive("random_erasing.ratio[0]", ratio.0)?;
        if let EraseValue::Constant(v) = &value {
            check::at_least("random_erasing.value", v.len(), 1)?;
        }
        Ok(RandomErasing {
            p,
            scale,
            ratio,
            value,
        })
    }
}

/// Overwrites the rectangle with `values` (one per channel, or a full planar block).
pub fn erase(mut img: ImageF32, p: &EraseParams) -> Result<ImageF32> {
    let (c, h, w) = img.dims();
    if p.top + p.height > h || p.left + p.width > w {
        return Err(Error::shape("erase: rectangle outside the image"));
    }
    let block = p.height * p.width;
    let full = p.values.len() == c * block;
    for ch in 0..c {
        let plane = img.plane_mut(ch);
        for y in 0..p.height {
            for x in 0..p.width {
                let v = if full {
                    p.values[ch * block + y * p.width + x]
                } else if p.values.len() == 1 {
                    p.values[0]
                } else {
                    p.values[ch.min(p.values.len() - 1)]
                };
                plane[(p.top + y) * w + p.left + x] = v;
            }
        }
    }
    Ok(img)
}

impl RandomTransform<ImageF32> for RandomErasing {
    type Params = Option<EraseParams>;
    fn transform_name(&self) -> &str {
        "RandomErasing"
    }
    fn sample_params(&self, img: &ImageF32, rng: &mut Generator) -> Result<Option<EraseParams>> {
        let (c, h, w) = img.dims();
        if let EraseValue::Constant(v) = &self.value {
            if v.len() != 1 && v.len() != c {
                return Err(Error::shape(format!(
                    "RandomErasing has {} values but the image has {c} channels",
                    v.len()
                )));
            }
        }
        if rng.next_f64() >= self.p || img.is_empty() {
            return Ok(None);
        }
        let area = (h * w) as f64;
        let (l0, l1) = (self.ratio.0.ln(), self.ratio.1.ln());
        for _ in 0..10 {
            let erase_area = area * rng.uniform(self.scale.0, self.scale.1);
            let aspect = rng.uniform(l0, l1).exp();
            let eh = (erase_area * aspect).sqrt().round_ties_even() as usize;
            let ew = (erase_area / aspect).sqrt().round_ties_even() as usize;
            if !(eh < h && ew < w) {
                continue;
            }
            let values = match &self.value {
                EraseValue::Constant(v) => v.clone(),
                EraseValue::Random => (0..c * eh * ew).map(|_| rng.normal() as f32).collect(),
            };
            let top = rng.below((h - eh + 1) as u64) as usize;
            let left = rng.below((w - ew + 1) as u64) as usize;
            return Ok(Some(EraseParams {
                top,
                left,
                height: eh,
                width: ew,
                values,
            }));
        }
        Ok(None)
    }
    fn apply_with(&self, img: ImageF32, p: &Option<EraseParams>) -> Result<ImageF32> {
        match p {
            Some(p) => erase(img, p),
            None => Ok(img),
        }
    }
}
impl_transform!(RandomErasing => ImageF32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erases_inside_the_image_with_the_documented_area() {
        let t = RandomErasing::new(
            1.0,
            (0.02, 0.33),
            (0.3, 3.3),
            EraseValue::Constant(vec![0.5]),
        )
        .unwrap();
        let img = ImageF32::zeros(3, 40, 40);
        let mut g = Generator::seed_from_u64(2);
        let mut seen = 0;
        for _ in 0..500 {
            if let Some(p) = t.sample_params(&img, &mut g).unwrap() {
                seen += 1;
                let frac = (p.height * p.width) as f64 / 1600.0;
                assert!((0.01..0.36).contains(&frac), "{frac}");
                let out = t.apply_with(img.clone(), &Some(p.clone())).unwrap();
                let n = out.data().iter().filter(|&&v| v == 0.5).count();
                assert_eq!(n, 3 * p.height * p.width);
            }
        }
        assert!(seen > 450);
        assert!(RandomErasing::new(
            1.0,
            (0.02, 0.33),
            (0.3, 3.3),
            EraseValue::Constant(vec![0.0; 2])
        )
        .unwrap()
        .sample_params(&img, &mut g)
        .is_err());
        // A 1×1 image can only hold an empty rectangle (as in torchvision): unchanged.
        let one = ImageF32::zeros(3, 1, 1);
        for _ in 0..20 {
            let p = t.sample_params(&one, &mut g).unwrap();
            assert_eq!(t.apply_with(one.clone(), &p).unwrap(), one);
        }
    }
}
