//! Resampling warps: rotation, affine, perspective (torchvision v2 float semantics), and exact
//! quarter turns ([`Rot90`]).
//!
//! ## Semantics
//! torchvision builds an inverse map from output to input pixels and samples it with
//! `grid_sample(align_corners=False, padding_mode="zeros")`, then, with a `fill`, blends the fill in
//! with the sampled validity mask: `out = (sampled − fill)·mask + fill`. This module does the same,
//! in `f32` and in the same order, so results match torchvision to float rounding:
//! - **affine** (`angle`°, `translate`, `scale`, `shear`°, about the image centre): torchvision's
//!   `_get_inverse_affine_matrix`; output pixel `(x, y)` maps to
//!   `(m0·X + m1·Y + m2 + (W−1)/2, m3·X + m4·Y + m5 + (H−1)/2)` with `X = x − (W−1)/2`, `Y = y − (H−1)/2`.
//! - **rotate** = affine with `−angle` (counter-clockwise for positive angles, as torchvision).
//! - **perspective**: the 8 coefficients solving `endpoints → startpoints` (in `f64`, then `f32`), as
//!   torchvision's `_get_perspective_coeffs`, evaluated at pixel centres.
//! - Interpolation: `nearest` (round half to even) or `bilinear`; out-of-image taps read 0.
//!   torchvision's defaults: nearest for rotation/affine, bilinear for perspective.

use super::resize::Interpolation;
use selfsup_core::{check, impl_transform, Error, Generator, ImageF32, RandomTransform, Result};

/// torchvision's `_get_inverse_affine_matrix(center, angle, translate, scale, shear)`.
pub fn inverse_affine_matrix(
    center: (f64, f64),
    angle: f64,
    translate: (f64, f64),
    scale: f64,
    shear: (f64, f64),
) -> [f64; 6] {
    let rot = angle.to_radians();
    let (sx, sy) = (shear.0.to_radians(), shear.1.to_radians());
    let (cx, cy) = center;
    let (tx, ty) = translate;
    let cos_sy = sy.cos();
    let tan_sx = sx.tan();
    let rot_minus_sy = rot - sy;
    let (cxt, cyt) = (cx + tx, cy + ty);
    let a = rot_minus_sy.cos() / cos_sy;
    let b = -(a * tan_sx + rot.sin());
    let c = rot_minus_sy.sin() / cos_sy;
    let d = rot.cos() - c * tan_sx;
    let mut m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0];
    m[2] += m[0] * (-cxt) + m[1] * (-cyt);
    m[5] += m[3] * (-cxt) + m[4] * (-cyt);
    m[2] += cx;
    m[5] += cy;
    m
}

/// Samples `img` at source coordinates produced by `map(x, y) -> (ix, iy)` (pixel units, centres at
/// integers), then blends the fill by the validity mask as torchvision does.
fn grid_sample(
    img: &ImageF32,
    out_h: usize,
    out_w: usize,
    mode: Interpolation,
    fill: Option<&[f32]>,
    map: impl Fn(usize, usize) -> (f32, f32),
) -> ImageF32 {
    let (c, h, w) = img.dims();
    let n = out_h * out_w;
    let mut out = vec![0.0f32; c * n];
    let mut mask = vec![0.0f32; n];
    let inb = |x: i64, y: i64| x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h;
    for y in 0..out_h {
        for x in 0..out_w {
            let (ix, iy) = map(x, y);
            let o = y * out_w + x;
            match mode {
                Interpolation::Nearest => {
                    let (nx, ny) = (ix.round_ties_even() as i64, iy.round_ties_even() as i64);
                    if inb(nx, ny) {
                        let src = ny as usize * w + nx as usize;
                        for ch in 0..c {
                            out[ch * n + o] = img.plane(ch)[src];
                        }
                        mask[o] = 1.0;
                    }
                }
                _ => {
                    let (x0, y0) = (ix.floor(), iy.floor());
                    let (fx, fy) = (ix - x0, iy - y0);
                    let (x0, y0) = (x0 as i64, y0 as i64);
                    let taps = [
                        (x0, y0, (1.0 - fx) * (1.0 - fy)),
                        (x0 + 1, y0, fx * (1.0 - fy)),
                        (x0, y0 + 1, (1.0 - fx) * fy),
                        (x0 + 1, y0 + 1, fx * fy),
                    ];
                    let mut m = 0.0f32;
                    for &(tx, ty, wt) in &taps {
                        if inb(tx, ty) {
                            let src = ty as usize * w + tx as usize;
                            for ch in 0..c {
                                out[ch * n + o] += img.plane(ch)[src] * wt;
                            }
                            m += wt;
                        }
                    }
                    mask[o] = m;
                }
            }
        }
    }
    if let Some(fill) = fill {
        for ch in 0..c {
            let f = if fill.len() == 1 {
                fill[0]
            } else {
                fill[ch.min(fill.len() - 1)]
            };
            let plane = &mut out[ch * n..(ch + 1) * n];
            for (v, &m) in plane.iter_mut().zip(&mask) {
                *v = match mode {
                    Interpolation::Nearest => {
                        if m < 0.5 {
                            f
                        } else {
                            *v
                        }
                    }
                    _ => (*v - f) * m + f,
                };
            }
        }
    }
    ImageF32::new(c, out_h, out_w, out).expect("size")
}

fn check_mode(mode: Interpolation) -> Result<()> {
    if mode == Interpolation::Bicubic {
        return Err(Error::config(
            "interpolation",
            "warps support nearest and bilinear (as torchvision), got bicubic",
        ));
    }
    Ok(())
}

/// Applies torchvision's affine warp (about the image centre) to the whole image.
pub fn affine(
    img: &ImageF32,
    angle: f64,
    translate: (f64, f64),
    scale: f64,
    shear: (f64, f64),
    mode: Interpolation,
    fill: Option<&[f32]>,
) -> Result<ImageF32> {
    affine_about(img, None, angle, translate, scale, shear, mode, fill)
}

/// [`affine`] about `center` (pixel coordinates `(x, y)`; `None` = the image centre), as torchvision's
/// `affine(..., center=...)`. `fill = None` leaves the outside black without mask blending.
pub fn affine_about(
    img: &ImageF32,
    center: Option<(f64, f64)>,
    angle: f64,
    translate: (f64, f64),
    scale: f64,
    shear: (f64, f64),
    mode: Interpolation,
    fill: Option<&[f32]>,
) -> Result<ImageF32> {
    check_mode(mode)?;
    let c = center.map_or((0.0, 0.0), |(cx, cy)| {
        (
            cx - img.width() as f64 * 0.5,
            cy - img.height() as f64 * 0.5,
        )
    });
    let m = inverse_affine_matrix(c, angle, translate, scale, shear);
    Ok(warp_affine(img, &m, mode, fill))
}

/// Rotates by `angle` degrees counter-clockwise about the centre, keeping the size (torchvision's
/// `rotate(expand=False)`).
pub fn rotate(
    img: &ImageF32,
    angle: f64,
    mode: Interpolation,
    fill: Option<&[f32]>,
) -> Result<ImageF32> {
    check_mode(mode)?;
    let m = inverse_affine_matrix((0.0, 0.0), -angle, (0.0, 0.0), 1.0, (0.0, 0.0));
    Ok(warp_affine(img, &m, mode, fill))
}

fn warp_affine(
    img: &ImageF32,
    m: &[f64; 6],
    mode: Interpolation,
    fill: Option<&[f32]>,
) -> ImageF32 {
    let (_, h, w) = img.dims();
    if img.is_empty() {
        return img.clone();
    }
    // torchvision: theta (f32) / (0.5 W, 0.5 H) → normalised grid, then grid_sample un-normalises:
    // ix = ((gx + 1)·W − 1) / 2.
    let t: Vec<f32> = m.iter().map(|&v| v as f32).collect();
    let (hw, hh) = (0.5 * w as f32, 0.5 * h as f32);
    let r = [
        t[0] / hw,
        t[1] / hw,
        t[2] / hw,
        t[3] / hh,
        t[4] / hh,
        t[5] / hh,
    ];
    let (x0, y0) = ((1.0 - w as f32) * 0.5, (1.0 - h as f32) * 0.5);
    let (xstep, ystep) = (
        if w > 1 {
            ((w as f32 - 1.0) * 0.5 - x0) / (w as f32 - 1.0)
        } else {
            0.0
        },
        if h > 1 {
            ((h as f32 - 1.0) * 0.5 - y0) / (h as f32 - 1.0)
        } else {
            0.0
        },
    );
    let (wf, hf) = (w as f32, h as f32);
    grid_sample(img, h, w, mode, fill, |x, y| {
        let bx = x0 + xstep * x as f32;
        let by = y0 + ystep * y as f32;
        let gx = bx * r[0] + by * r[1] + r[2];
        let gy = bx * r[3] + by * r[4] + r[5];
        (((gx + 1.0) * wf - 1.0) / 2.0, ((gy + 1.0) * hf - 1.0) / 2.0)
    })
}

/// torchvision's `_get_perspective_coeffs(startpoints, endpoints)`: the 8 coefficients of the map from
/// output (`endpoints`) to input (`startpoints`) pixels, solved in `f64`, returned as `f32`.
pub fn perspective_coeffs(start: &[(f64, f64); 4], end: &[(f64, f64); 4]) -> Result<[f32; 8]> {
    let mut a = [[0.0f64; 9]; 8];
    for i in 0..4 {
        let (p1, p2) = (end[i], start[i]);
        a[2 * i] = [
            p1.0,
            p1.1,
            1.0,
            0.0,
            0.0,
            0.0,
            -p2.0 * p1.0,
            -p2.0 * p1.1,
            p2.0,
        ];
        a[2 * i + 1] = [
            0.0,
            0.0,
            0.0,
            p1.0,
            p1.1,
            1.0,
            -p2.1 * p1.0,
            -p2.1 * p1.1,
            p2.1,
        ];
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..8 {
        let piv = (col..8)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        if a[piv][col].abs() < 1e-12 {
            return Err(Error::shape("perspective: the four points are degenerate"));
        }
        a.swap(col, piv);
        for r in 0..8 {
            if r != col {
                let f = a[r][col] / a[col][col];
                for k in col..9 {
                    a[r][k] -= f * a[col][k];
                }
            }
        }
    }
    let mut out = [0.0f32; 8];
    for i in 0..8 {
        out[i] = (a[i][8] / a[i][i]) as f32;
    }
    Ok(out)
}

/// Warps with perspective coefficients (torchvision's `perspective` with `coefficients`).
pub fn perspective(
    img: &ImageF32,
    c: &[f32; 8],
    mode: Interpolation,
    fill: Option<&[f32]>,
) -> Result<ImageF32> {
    check_mode(mode)?;
    let (_, h, w) = img.dims();
    if img.is_empty() {
        return Ok(img.clone());
    }
    let (hw, hh) = (0.5 * w as f32, 0.5 * h as f32);
    let (wf, hf) = (w as f32, h as f32);
    Ok(grid_sample(img, h, w, mode, fill, |x, y| {
        let (bx, by) = (x as f32 + 0.5, y as f32 + 0.5);
        let g1x = bx * (c[0] / hw) + by * (c[1] / hw) + c[2] / hw;
        let g1y = bx * (c[3] / hh) + by * (c[4] / hh) + c[5] / hh;
        let g2 = bx * c[6] + by * c[7] + 1.0;
        let (gx, gy) = (g1x / g2 - 1.0, g1y / g2 - 1.0);
        (((gx + 1.0) * wf - 1.0) / 2.0, ((gy + 1.0) * hf - 1.0) / 2.0)
    }))
}

/// Rotates by a uniform angle in `degrees` (torchvision's `RandomRotation`; nearest, fill 0 by default).
#[derive(Clone, Debug)]
pub struct RandomRotation {
    degrees: (f64, f64),
    mode: Interpolation,
    fill: Vec<f32>,
}

impl RandomRotation {
    /// Angles in `[lo, hi]` degrees.
    pub fn new(degrees: (f64, f64)) -> Result<Self> {
        check::interval("random_rotation.degrees", degrees, f64::MIN, f64::MAX)?;
        Ok(RandomRotation {
            degrees,
            mode: Interpolation::Nearest,
            fill: vec![0.0],
        })
    }
    /// Interpolation (nearest or bilinear) and fill value(s).
    pub fn with(mut self, mode: Interpolation, fill: Vec<f32>) -> Result<Self> {
        check_mode(mode)?;
        check::at_least("random_rotation.fill", fill.len(), 1)?;
        self.mode = mode;
        self.fill = fill;
        Ok(self)
    }
}

impl RandomTransform<ImageF32> for RandomRotation {
    type Params = f64;
    fn transform_name(&self) -> &str {
        "RandomRotation"
    }
    fn sample_params(&self, _: &ImageF32, rng: &mut Generator) -> Result<f64> {
        Ok(rng.uniform(self.degrees.0, self.degrees.1))
    }
    fn apply_with(&self, img: ImageF32, angle: &f64) -> Result<ImageF32> {
        rotate(&img, *angle, self.mode, Some(&self.fill))
    }
}
impl_transform!(RandomRotation => ImageF32);

/// One draw of [`RandomAffine`].
#[derive(Clone, Debug, PartialEq)]
pub struct AffineParams {
    /// Degrees.
    pub angle: f64,
    /// Pixels `(x, y)`.
    pub translate: (f64, f64),
    /// Scale factor.
    pub scale: f64,
    /// Shear degrees `(x, y)`.
    pub shear: (f64, f64),
}

/// Random affine warp (torchvision's `RandomAffine`; nearest, fill 0 by default).
#[derive(Clone, Debug)]
pub struct RandomAffine {
    degrees: (f64, f64),
    translate: Option<(f64, f64)>,
    scale: Option<(f64, f64)>,
    shear: Option<(f64, f64, f64, f64)>,
    mode: Interpolation,
    fill: Vec<f32>,
}

impl RandomAffine {
    /// `degrees` range; `translate` as maximal fractions of width/height; `scale` range; `shear` as
    /// `(x_lo, x_hi, y_lo, y_hi)` degrees.
    pub fn new(
        degrees: (f64, f64),
        translate: Option<(f64, f64)>,
        scale: Option<(f64, f64)>,
        shear: Option<(f64, f64, f64, f64)>,
    ) -> Result<Self> {
        check::interval("random_affine.degrees", degrees, f64::MIN, f64::MAX)?;
        if let Some((tx, ty)) = translate {
            check::in_range("random_affine.translate[0]", tx, 0.0, 1.0)?;
            check::in_range("random_affine.translate[1]", ty, 0.0, 1.0)?;
        }
        if let Some(s) = scale {
            check::interval("random_affine.scale", s, 0.0, f64::MAX)?;
            check::positive("random_affine.scale[0]", s.0)?;
        }
        if let Some((a, b, c, d)) = shear {
            check::interval("random_affine.shear[0..2]", (a, b), -90.0, 90.0)?;
            check::interval("random_affine.shear[2..4]", (c, d), -90.0, 90.0)?;
        }
        Ok(RandomAffine {
            degrees,
            translate,
            scale,
            shear,
            mode: Interpolation::Nearest,
            fill: vec![0.0],
        })
    }
    /// Interpolation (nearest or bilinear) and fill value(s).
    pub fn with(mut self, mode: Interpolation, fill: Vec<f32>) -> Result<Self> {
        check_mode(mode)?;
        check::at_least("random_affine.fill", fill.len(), 1)?;
        self.mode = mode;
        self.fill = fill;
        Ok(self)
    }
}

impl RandomTransform<ImageF32> for RandomAffine {
    type Params = AffineParams;
    fn transform_name(&self) -> &str {
        "RandomAffine"
    }
    fn sample_params(&self, img: &ImageF32, rng: &mut Generator) -> Result<AffineParams> {
        let (h, w) = (img.height() as f64, img.width() as f64);
        let angle = rng.uniform(self.degrees.0, self.degrees.1);
        let translate = match self.translate {
            Some((tx, ty)) => {
                let mx = (tx * w).round_ties_even();
                let my = (ty * h).round_ties_even();
                (
                    rng.uniform(-mx, mx).round_ties_even(),
                    rng.uniform(-my, my).round_ties_even(),
                )
            }
            None => (0.0, 0.0),
        };
        let scale = self.scale.map_or(1.0, |(a, b)| rng.uniform(a, b));
        let shear = match self.shear {
            Some((a, b, c, d)) => (rng.uniform(a, b), rng.uniform(c, d)),
            None => (0.0, 0.0),
        };
        Ok(AffineParams {
            angle,
            translate,
            scale,
            shear,
        })
    }
    fn apply_with(&self, img: ImageF32, p: &AffineParams) -> Result<ImageF32> {
        affine(
            &img,
            p.angle,
            p.translate,
            p.scale,
            p.shear,
            self.mode,
            Some(&self.fill),
        )
    }
}
impl_transform!(RandomAffine => ImageF32);

/// Random perspective (torchvision's `RandomPerspective`; bilinear, fill 0).
#[derive(Clone, Debug)]
pub struct RandomPerspective {
    distortion_scale: f64,
    p: f64,
    mode: Interpolation,
    fill: Vec<f32>,
}

impl RandomPerspective {
    /// `distortion_scale ∈ [0, 1]` (default 0.5), probability `p` (default 0.5).
    pub fn new(distortion_scale: f64, p: f64) -> Result<Self> {
        check::in_range(
            "random_perspective.distortion_scale",
            distortion_scale,
            0.0,
            1.0,
        )?;
        check::probability("random_perspective.p", p)?;
        Ok(RandomPerspective {
            distortion_scale,
            p,
            mode: Interpolation::Bilinear,
            fill: vec![0.0],
        })
    }
}

impl RandomTransform<ImageF32> for RandomPerspective {
    type Params = Option<[f32; 8]>;
    fn transform_name(&self) -> &str {
        "RandomPerspective"
    }
    fn sample_params(&self, img: &ImageF32, rng: &mut Generator) -> Result<Option<[f32; 8]>> {
        if !rng.bernoulli(self.p) || img.is_empty() {
            return Ok(None);
        }
        let (h, w) = (img.height() as i64, img.width() as i64);
        let bh = (self.distortion_scale * (h / 2) as f64) as i64 + 1;
        let bw = (self.distortion_scale * (w / 2) as f64) as i64 + 1;
        let mut r = |lo: i64, hi: i64| rng.int_inclusive(lo, hi - 1) as f64;
        let tl = (r(0, bw), r(0, bh));
        let tr = (r(w - bw, w), r(0, bh));
        let br = (r(w - bw, w), r(h - bh, h));
        let bl = (r(0, bw), r(h - bh, h));
        let (wf, hf) = ((w - 1) as f64, (h - 1) as f64);
        let start = [(0.0, 0.0), (wf, 0.0), (wf, hf), (0.0, hf)];
        // Degenerate quads (1-pixel images) fall back to the identity.
        Ok(perspective_coeffs(&start, &[tl, tr, br, bl]).ok())
    }
    fn apply_with(&self, img: ImageF32, c: &Option<[f32; 8]>) -> Result<ImageF32> {
        match c {
            Some(c) => perspective(&img, c, self.mode, Some(&self.fill)),
            None => Ok(img),
        }
    }
}
impl_transform!(RandomPerspective => ImageF32);

/// `torch.rot90(img, k, dims=(-2, -1))`: `k` quarter turns counter-clockwise (exact, no resampling).
pub fn rot90(img: &ImageF32, k: u8) -> ImageF32 {
    let (c, h, w) = img.dims();
    let k = k % 4;
    if k == 0 {
        return img.clone();
    }
    let (oh, ow) = if k % 2 == 1 { (w, h) } else { (h, w) };
    let mut out = ImageF32::zeros(c, oh, ow);
    for ch in 0..c {
        let src = img.plane(ch);
        let dst = out.plane_mut(ch);
        for y in 0..oh {
            for x in 0..ow {
                let (sy, sx) = match k {
                    1 => (x, w - 1 - y),
                    2 => (h - 1 - y, w - 1 - x),
                    _ => (h - 1 - x, y),
                };
                dst[y * ow + x] = src[sy * w + sx];
            }
        }
    }
    out
}

/// Rotates by a uniformly drawn multiple of 90° (`k ∈ {0, 1, 2, 3}`); the rotation pretext task and a
/// common augmentation for rotation-invariant data.
#[derive(Clone, Debug, Default)]
pub struct Rot90;

impl RandomTransform<ImageF32> for Rot90 {
    type Params = u8;
    fn transform_name(&self) -> &str {
        "Rot90"
    }
    fn sample_params(&self, _: &ImageF32, rng: &mut Generator) -> Result<u8> {
        Ok(rng.below(4) as u8)
    }
    fn apply_with(&self, img: ImageF32, k: &u8) -> Result<ImageF32> {
        Ok(rot90(&img, *k))
    }
}
impl_transform!(Rot90 => ImageF32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rot90_matches_torch_rot90_closed_form() {
        // torch.rot90([[0,1,2],[3,4,5]], 1) = [[2,5],[1,4],[0,3]]
        let img = ImageF32::new(1, 2, 3, (0..6).map(|v| v as f32).collect()).unwrap();
        assert_eq!(rot90(&img, 1).data(), &[2.0, 5.0, 1.0, 4.0, 0.0, 3.0]);
        assert_eq!(rot90(&img, 2).data(), &[5.0, 4.0, 3.0, 2.0, 1.0, 0.0]);
        assert_eq!(rot90(&img, 3).data(), &[3.0, 0.0, 4.0, 1.0, 5.0, 2.0]);
        assert_eq!(rot90(&rot90(&img, 1), 3), img);
    }

    #[test]
    fn identity_warps_are_identities() {
        let img = ImageF32::new(2, 5, 6, (0..60).map(|v| v as f32 / 60.0).collect()).unwrap();
        for mode in [Interpolation::Nearest, Interpolation::Bilinear] {
            let r = rotate(&img, 0.0, mode, Some(&[0.0])).unwrap();
            for (a, b) in r.data().iter().zip(img.data()) {
                assert!((a - b).abs() < 1e-5);
            }
            let start = [(0.0, 0.0), (5.0, 0.0), (5.0, 4.0), (0.0, 4.0)];
            let c = perspective_coeffs(&start, &start).unwrap();
            let p = perspective(&img, &c, mode, None).unwrap();
            for (a, b) in p.data().iter().zip(img.data()) {
                assert!((a - b).abs() < 1e-4, "{a} {b}");
            }
        }
        assert!(rotate(&img, 10.0, Interpolation::Bicubic, None).is_err());
    }
}

/// `torch.linspace(lo, hi, n)` in `f32` (the same two-sided evaluation), element `i`.
fn linspace_f32(lo: f32, hi: f32, n: usize, i: usize) -> f32 {
    if n <= 1 {
        return lo;
    }
    let step = (hi - lo) / (n - 1) as f32;
    if i < n / 2 {
        lo + step * i as f32
    } else {
        hi - step * (n - 1 - i) as f32
    }
}

/// torchvision's `elastic(img, displacement)`: `displacement` is `[dx plane, dy plane]` (`2 × H × W`,
/// in normalised `[-1, 1]` grid units) added to the identity grid, then grid-sampled.
pub fn elastic(
    img: &ImageF32,
    displacement: &[f32],
    mode: Interpolation,
    fill: Option<&[f32]>,
) -> Result<ImageF32> {
    check_mode(mode)?;
    let (_, h, w) = img.dims();
    if displacement.len() != 2 * h * w {
        return Err(Error::shape(format!(
            "elastic: displacement has {} values, expected 2x{h}x{w}",
            displacement.len()
        )));
    }
    if img.is_empty() {
        return Ok(img.clone());
    }
    let (wf, hf) = (w as f32, h as f32);
    let n = h * w;
    Ok(grid_sample(img, h, w, mode, fill, |x, y| {
        let gx = linspace_f32((1.0 - wf) / wf, (wf - 1.0) / wf, w, x) + displacement[y * w + x];
        let gy = linspace_f32((1.0 - hf) / hf, (hf - 1.0) / hf, h, y) + displacement[n + y * w + x];
        (((gx + 1.0) * wf - 1.0) / 2.0, ((gy + 1.0) * hf - 1.0) / 2.0)
    }))
}

/// Elastic deformation (torchvision's `ElasticTransform(alpha=50, sigma=5)`, bilinear, fill 0): a
/// uniform `[-1, 1]` displacement field per axis, Gaussian-smoothed (kernel `8σ + 1`, made odd) and
/// scaled by `alpha / size` (torchvision divides `dx` by the height and `dy` by the width; kept).
#[derive(Clone, Debug)]
pub struct ElasticTransform {
    alpha: (f64, f64),
    sigma: (f64, f64),
    mode: Interpolation,
    fill: Vec<f32>,
}

impl ElasticTransform {
    /// `alpha ≥ 0` and `sigma ≥ 0` per axis (`(x, y)`).
    pub fn new(alpha: (f64, f64), sigma: (f64, f64)) -> Result<Self> {
        check::non_negative("elastic_transform.alpha[0]", alpha.0)?;
        check::non_negative("elastic_transform.alpha[1]", alpha.1)?;
        check::non_negative("elastic_transform.sigma[0]", sigma.0)?;
        check::non_negative("elastic_transform.sigma[1]", sigma.1)?;
        Ok(ElasticTransform {
            alpha,
            sigma,
            mode: Interpolation::Bilinear,
            fill: vec![0.0],
        })
    }
}

impl Default for ElasticTransform {
    fn default() -> Self {
        ElasticTransform {
            alpha: (50.0, 50.0),
            sigma: (5.0, 5.0),
            mode: Interpolation::Bilinear,
            fill: vec![0.0],
        }
    }
}

impl RandomTransform<ImageF32> for ElasticTransform {
    type Params = Vec<f32>;
    fn transform_name(&self) -> &str {
        "ElasticTransform"
    }
    fn sample_params(&self, img: &ImageF32, rng: &mut Generator) -> Result<Vec<f32>> {
        let (h, w) = (img.height(), img.width());
        let mut planes = Vec::with_capacity(2 * h * w);
        for (axis, (alpha, denom)) in [(self.alpha.0, h), (self.alpha.1, w)]
            .into_iter()
            .enumerate()
        {
            let raw: Vec<f32> = (0..h * w)
                .map(|_| rng.next_f64() as f32 * 2.0 - 1.0)
                .collect();
            let mut field = ImageF32::new(1, h, w, raw)?;
            let s = if axis == 0 {
                self.sigma.0
            } else {
                self.sigma.1
            };
            if s > 0.0 && h > 0 && w > 0 {
                let mut k = (8.0 * s + 1.0) as usize;
                if k % 2 == 0 {
                    k += 1;
                }
                field = super::blur::gaussian_blur(
                    &field,
                    (k, k),
                    (self.sigma.0 as f32, self.sigma.1 as f32),
                );
            }
            let scale = (alpha / denom.max(1) as f64) as f32;
            planes.extend(field.data().iter().map(|v| v * scale));
        }
        Ok(planes)
    }
    fn apply_with(&self, img: ImageF32, d: &Vec<f32>) -> Result<ImageF32> {
        elastic(&img, d, self.mode, Some(&self.fill))
    }
}
impl_transform!(ElasticTransform => ImageF32);
