//! Geometric transforms that move pixels without blending colours: crops (center, random with
//! padding, random-resized), flips, `Resize`, and the padding modes they share.
//!
//! ## Semantics (torchvision v2)
//! - [`RandomResizedCrop`]: up to 10 attempts of `area = H·W·U(scale)`, `log r ~ U(ln r0, ln r1)`,
//!   `w = round(√(area·r))`, `h = round(√(area/r))` (half to even, as Python's `round`), accepted when
//!   `0 < w ≤ W` and `0 < h ≤ H`, then `top ~ U{0..H−h}`, `left ~ U{0..W−w}`. Fallback: clamp the
//!   aspect ratio to the ratio bounds (else the whole image) and centre the box. The box is resized
//!   (bilinear, antialias by default) straight from the source, without copying the crop.
//! - [`CenterCrop`]: top = `round((H − h)/2)`, left = `round((W − w)/2)`; a crop larger than the image
//!   pads with zeros first (`⌊Δ/2⌋` before, `⌈Δ/2⌉` after), as torchvision does.
//! - [`RandomCrop`]: optional padding (`constant` with `fill`, `edge`, `reflect`, `symmetric`), then
//!   `pad_if_needed` grows the padding on both sides by the shortfall; an image still smaller than the
//!   crop is an error naming the sizes. Position uniform over the valid range.
//! - Flips mirror rows (horizontal) or the row order (vertical).
//!
//! Any channel count works. Empty (zero-sized) images are a [`Error::Shape`] for every transform here
//! that needs pixels; flips return them unchanged.

use super::resize::{resize, resize_region_owned, smaller_edge_size, Interpolation};
use selfsup_core::{check, impl_transform, Error, Generator, ImageF32, RandomTransform, Result};
use serde::{Deserialize, Serialize};

/// How a border is filled when a transform reads outside the image (torchvision's `padding_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PaddingMode {
    /// A constant value (`fill`).
    #[default]
    Constant,
    /// Repeat the edge pixel.
    Edge,
    /// Mirror without repeating the edge: `… 2 1 | 0 1 2 …`.
    Reflect,
    /// Mirror repeating the edge: `… 1 0 | 0 1 2 …`.
    Symmetric,
}

/// Maps a (possibly out-of-range) index onto `0..n` for the given mode; `None` means "use the fill".
/// Works for any distance outside the image (reflection repeats periodically), and for `n == 1`.
#[inline]
pub fn map_index(i: i64, n: usize, mode: PaddingMode) -> Option<usize> {
    let n = n as i64;
    if (0..n).contains(&i) {
        return Some(i as usize);
    }
    match mode {
        PaddingMode::Constant => None,
        PaddingMode::Edge => Some(i.clamp(0, n - 1) as usize),
        PaddingMode::Reflect => {
            if n == 1 {
                return Some(0);
            }
            let period = 2 * (n - 1);
            let m = i.rem_euclid(period);
            Some(if m < n { m } else { period - m } as usize)
        }
        PaddingMode::Symmetric => {
            let period = 2 * n;
            let m = i.rem_euclid(period);
            Some(if m < n { m } else { period - 1 - m } as usize)
        }
    }
}

/// Reads the `out_h × out_w` window whose top-left corner is at `(top, left)` (may be negative or past
/// the edge), filling outside pixels according to `mode`.
pub fn crop_padded(
    img: &ImageF32,
    top: i64,
    left: i64,
    out_h: usize,
    out_w: usize,
    mode: PaddingMode,
    fill: f32,
) -> Result<ImageF32> {
    let (c, h, w) = img.dims();
    if (h == 0 || w == 0) && mode != PaddingMode::Constant {
        return Err(Error::shape(format!(
            "cannot pad an empty {c}x{h}x{w} image with mode {mode:?}"
        )));
    }
    let inside = top >= 0 && left >= 0 && top as usize + out_h <= h && left as usize + out_w <= w;
    let mut out = vec![fill; c * out_h * out_w];
    let cols: Vec<Option<usize>> = (0..out_w)
        .map(|x| {
            if w == 0 {
                None
            } else {
                map_index(left + x as i64, w, mode)
            }
        })
        .collect();
    for ch in 0..c {
        let plane = img.plane(ch);
        let dst = &mut out[ch * out_h * out_w..(ch + 1) * out_h * out_w];
        for y in 0..out_h {
            let row = &mut dst[y * out_w..(y + 1) * out_w];
            let sy = if h == 0 {
                None
            } else {
                map_index(top + y as i64, h, mode)
            };
            let Some(sy) = sy else { continue };
            let src = &plane[sy * w..(sy + 1) * w];
            if inside {
                let l = left as usize;
                row.copy_from_slice(&src[l..l + out_w]);
            } else {
                for (o, cx) in row.iter_mut().zip(&cols) {
                    if let Some(cx) = cx {
                        *o = src[*cx];
                    }
                }
            }
        }
    }
    ImageF32::new(c, out_h, out_w, out)
}

/// Crops the in-bounds rectangle `(top, left, height, width)`.
pub fn crop(
    img: &ImageF32,
    top: usize,
    left: usize,
    height: usize,
    width: usize,
) -> Result<ImageF32> {
    let (c, h, w) = img.dims();
    if top + height > h || left + width > w {
        return Err(Error::shape(format!(
            "crop (top {top}, left {left}, {height}x{width}) is outside the {c}x{h}x{w} image"
        )));
    }
    crop_padded(
        img,
        top as i64,
        left as i64,
        height,
        width,
        PaddingMode::Constant,
        0.0,
    )
}

/// Mirrors the image left–right.
pub fn hflip(mut img: ImageF32) -> ImageF32 {
    let w = img.width();
    if w > 0 {
        img.data_mut()
            .chunks_exact_mut(w)
            .for_each(|row| row.reverse());
    }
    img
}

/// Mirrors the image top–bottom.
pub fn vflip(mut img: ImageF32) -> ImageF32 {
    let (c, h, w) = img.dims();
    for ch in 0..c {
        let plane = img.plane_mut(ch);
        for y in 0..h / 2 {
            let (a, b) = plane.split_at_mut((h - 1 - y) * w);
            a[y * w..(y + 1) * w].swap_with_slice(&mut b[..w]);
        }
    }
    img
}

fn non_empty(name: &str, img: &ImageF32) -> Result<()> {
    if img.is_empty() {
        let (c, h, w) = img.dims();
        return Err(Error::shape(format!(
            "{name}: input image is empty ({c}x{h}x{w})"
        )));
    }
    Ok(())
}

fn check_size(field: &str, (h, w): (usize, usize)) -> Result<()> {
    check::at_least(&format!("{field}[0]"), h, 1)?;
    check::at_least(&format!("{field}[1]"), w, 1)
}

/// A crop rectangle in source pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CropBox {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

/// Crops a random part of the image and resizes it to `size` (torchvision's `RandomResizedCrop`).
#[derive(Clone, Debug)]
pub struct RandomResizedCrop {
    size: (usize, usize),
    scale: (f64, f64),
    ratio: (f64, f64),
    interpolation: Interpolation,
    antialias: bool,
}

impl RandomResizedCrop {
    /// Square output `size`, torchvision defaults: scale (0.08, 1), ratio (3/4, 4/3), bilinear, antialias.
    pub fn new(size: usize) -> Result<Self> {
        Self::with_params((size, size), (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0))
    }

    /// Output `(height, width)`, area fraction range `scale`, aspect ratio range `ratio`.
    pub fn with_params(size: (usize, usize), scale: (f64, f64), ratio: (f64, f64)) -> Result<Self> {
        check_size("random_resized_crop.size", size)?;
        check::interval("random_resized_crop.scale", scale, 0.0, f64::MAX)?;
        check::positive("random_resized_crop.scale[1]", scale.1)?;
        check::interval("random_resized_crop.ratio", ratio, 0.0, f64::MAX)?;
        check::positive("random_resized_crop.ratio[0]", ratio.0)?;
        Ok(RandomResizedCrop {
            size,
            scale,
            ratio,
            interpolation: Interpolation::Bilinear,
            antialias: true,
        })
    }

    /// Sets the interpolation mode and antialiasing.
    pub fn interpolation(mut self, mode: Interpolation, antialias: bool) -> Self {
        self.interpolation = mode;
        self.antialias = antialias;
        self
    }

    /// The output size `(height, width)`.
    pub fn size(&self) -> (usize, usize) {
        self.size
    }

    /// torchvision's `get_params` for an `height × width` image.
    pub fn get_params(&self, height: usize, width: usize, rng: &mut Generator) -> CropBox {
        let area = (height * width) as f64;
        let (lr0, lr1) = (self.ratio.0.ln(), self.ratio.1.ln());
        for _ in 0..10 {
            let target_area = area * rng.uniform(self.scale.0, self.scale.1);
            let aspect = rng.uniform(lr0, lr1).exp();
            let w = (target_area * aspect).sqrt().round_ties_even();
            let h = (target_area / aspect).sqrt().round_ties_even();
            if w > 0.0 && w <= width as f64 && h > 0.0 && h <= height as f64 {
                let (w, h) = (w as usize, h as usize);
                let top = rng.below((height - h + 1) as u64) as usize;
                let left = rng.below((width - w + 1) as u64) as usize;
                return CropBox {
                    top,
                    left,
                    height: h,
                    width: w,
                };
            }
        }
        let in_ratio = width as f64 / height as f64;
        let (w, h) = if in_ratio < self.ratio.0 {
            let h = (width as f64 / self.ratio.0).round_ties_even() as usize;
            (width, h.clamp(1, height))
        } else if in_ratio > self.ratio.1 {
            let w = (height as f64 * self.ratio.1).round_ties_even() as usize;
            (w.clamp(1, width), height)
        } else {
            (width, height)
        };
        CropBox {
            top: (height - h) / 2,
            left: (width - w) / 2,
            height: h,
            width: w,
        }
    }
}

impl RandomTransform<ImageF32> for RandomResizedCrop {
    type Params = CropBox;
    fn transform_name(&self) -> &str {
        "RandomResizedCrop"
    }
    fn sample_params(&self, img: &ImageF32, rng: &mut Generator) -> Result<CropBox> {
        non_empty("RandomResizedCrop", img)?;
        Ok(self.get_params(img.height(), img.width(), rng))
    }
    fn apply_with(&self, img: ImageF32, b: &CropBox) -> Result<ImageF32> {
        resize_region_owned(
            img,
            (b.top, b.left, b.height, b.width),
            self.size,
            self.interpolation,
            self.antialias,
        )
    }
}
impl_transform!(RandomResizedCrop => ImageF32);

/// Flips the image left–right with probability `p` (torchvision's `RandomHorizontalFlip`).
#[derive(Clone, Debug)]
pub struct RandomHorizontalFlip {
    p: f64,
}

impl RandomHorizontalFlip {
    /// Errors unless `p ∈ [0, 1]`.
    pub fn new(p: f64) -> Result<Self> {
        check::probability("random_horizontal_flip.p", p)?;
        Ok(RandomHorizontalFlip { p })
    }
}

impl Default for RandomHorizontalFlip {
    fn default() -> Self {
        RandomHorizontalFlip { p: 0.5 }
    }
}

impl RandomTransform<ImageF32> for RandomHorizontalFlip {
    type Params = bool;
    fn transform_name(&self) -> &str {
        "RandomHorizontalFlip"
    }
    fn sample_params(&self, _: &ImageF32, rng: &mut Generator) -> Result<bool> {
        Ok(rng.bernoulli(self.p))
    }
    fn apply_with(&self, img: ImageF32, flip: &bool) -> Result<ImageF32> {
        Ok(if *flip { hflip(img) } else { img })
    }
}
impl_transform!(RandomHorizontalFlip => ImageF32);

/// Flips the image top–bottom with probability `p` (torchvision's `RandomVerticalFlip`).
#[derive(Clone, Debug)]
pub struct RandomVerticalFlip {
    p: f64,
}

impl RandomVerticalFlip {
    /// Errors unless `p ∈ [0, 1]`.
    pub fn new(p: f64) -> Result<Self> {
        check::probability("random_vertical_flip.p", p)?;
        Ok(RandomVerticalFlip { p })
    }
}

impl Default for RandomVerticalFlip {
    fn default() -> Self {
        RandomVerticalFlip { p: 0.5 }
    }
}

impl RandomTransform<ImageF32> for RandomVerticalFlip {
    type Params = bool;
    fn transform_name(&self) -> &str {
        "RandomVerticalFlip"
    }
    fn sample_params(&self, _: &ImageF32, rng: &mut Generator) -> Result<bool> {
        Ok(rng.bernoulli(self.p))
    }
    fn apply_with(&self, img: ImageF32, flip: &bool) -> Result<ImageF32> {
        Ok(if *flip { vflip(img) } else { img })
    }
}
impl_transform!(RandomVerticalFlip => ImageF32);

/// Crops the centre `(height, width)` (torchvision's `CenterCrop`; pads with zeros when larger).
#[derive(Clone, Debug)]
pub struct CenterCrop {
    size: (usize, usize),
}

impl CenterCrop {
    /// Output `(height, width)`, both ≥ 1.
    pub fn new(size: (usize, usize)) -> Result<Self> {
        check_size("center_crop.size", size)?;
        Ok(CenterCrop { size })
    }
}

/// torchvision's centre-crop placement (padding first when the crop is larger than the image).
pub fn center_crop(img: &ImageF32, (ch, cw): (usize, usize)) -> Result<ImageF32> {
    let (_, h, w) = img.dims();
    let pad_t = if ch > h { (ch - h) / 2 } else { 0 };
    let pad_l = if cw > w { (cw - w) / 2 } else { 0 };
    let (ph, pw) = (h.max(ch), w.max(cw));
    let top = ((ph - ch) as f64 / 2.0).round_ties_even() as i64 - pad_t as i64;
    let left = ((pw - cw) as f64 / 2.0).round_ties_even() as i64 - pad_l as i64;
    crop_padded(img, top, left, ch, cw, PaddingMode::Constant, 0.0)
}

impl RandomTransform<ImageF32> for CenterCrop {
    type Params = ();
    fn transform_name(&self) -> &str {
        "CenterCrop"
    }
    fn sample_params(&self, _: &ImageF32, _: &mut Generator) -> Result<()> {
        Ok(())
    }
    fn apply_with(&self, img: ImageF32, _: &()) -> Result<ImageF32> {
        center_crop(&img, self.size)
    }
}
impl_transform!(CenterCrop => ImageF32);

/// Crops a random `(height, width)` window, after optional padding (torchvision's `RandomCrop`).
#[derive(Clone, Debug)]
pub struct RandomCrop {
    size: (usize, usize),
    /// Padding `(left, top, right, bottom)`.
    padding: (usize, usize, usize, usize),
    pad_if_needed: bool,
    fill: f32,
    padding_mode: PaddingMode,
}

/// Where a [`RandomCrop`] window starts, in padded coordinates, with the padding actually used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomCropParams {
    /// Top of the window relative to the original image (negative inside the top padding).
    pub top: i64,
    /// Left of the window relative to the original image.
    pub left: i64,
}

impl RandomCrop {
    /// A `(height, width)` crop with no padding.
    pub fn new(size: (usize, usize)) -> Result<Self> {
        check_size("random_crop.size", size)?;
        Ok(RandomCrop {
            size,
            padding: (0, 0, 0, 0),
            pad_if_needed: false,
            fill: 0.0,
            padding_mode: PaddingMode::Constant,
        })
    }

    /// Pads `(left, top, right, bottom)` pixels first, with `mode` (and `fill` for constant).
    pub fn padding(
        mut self,
        ltrb: (usize, usize, usize, usize),
        mode: PaddingMode,
        fill: f32,
    ) -> Self {
        self.padding = ltrb;
        self.padding_mode = mode;
        self.fill = fill;
        self
    }

    /// Pads further when the (padded) image is smaller than the crop.
    pub fn pad_if_needed(mut self, yes: bool) -> Self {
        self.pad_if_needed = yes;
        self
    }
}

impl RandomTransform<ImageF32> for RandomCrop {
    type Params = RandomCropParams;
    fn transform_name(&self) -> &str {
        "RandomCrop"
    }
    fn sample_params(&self, img: &ImageF32, rng: &mut Generator) -> Result<RandomCropParams> {
        let (_, h, w) = img.dims();
        let (mut pl, mut pt, pr, pb) = self.padding;
        let (ch, cw) = self.size;
        let mut ph = h + pt + pb;
        let mut pw = w + pl + pr;
        if self.pad_if_needed {
            if pw < cw {
                let d = cw - pw;
                pl += d;
                pw += 2 * d;
            }
            if ph < ch {
                let d = ch - ph;
                pt += d;
                ph += 2 * d;
            }
        }
        if ph < ch || pw < cw {
            return Err(Error::shape(format!(
                "RandomCrop: the (padded) image is {ph}x{pw}, smaller than the crop {ch}x{cw}; set pad_if_needed or more padding"
            )));
        }
        let top = if ph > ch {
            rng.below((ph - ch + 1) as u64) as i64
        } else {
            0
        };
        let left = if pw > cw {
            rng.below((pw - cw + 1) as u64) as i64
        } else {
            0
        };
        Ok(RandomCropParams {
            top: top - pt as i64,
            left: left - pl as i64,
        })
    }
    fn apply_with(&self, img: ImageF32, p: &RandomCropParams) -> Result<ImageF32> {
        crop_padded(
            &img,
            p.top,
            p.left,
            self.size.0,
            self.size.1,
            self.padding_mode,
            self.fill,
        )
    }
}
impl_transform!(RandomCrop => ImageF32);

/// The target size of a [`Resize`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResizeSize {
    /// The shorter edge becomes this, keeping the aspect ratio (torchvision's int `size`).
    SmallerEdge(usize),
    /// Exactly `[height, width]`.
    Exact(usize, usize),
}

/// Resizes the image (torchvision's `Resize`).
#[derive(Clone, Debug)]
pub struct Resize {
    size: ResizeSize,
    interpolation: Interpolation,
    antialias: bool,
}

impl Resize {
    /// Bilinear with antialiasing (torchvision's default for float images).
    pub fn new(size: ResizeSize) -> Result<Self> {
        match size {
            ResizeSize::SmallerEdge(s) => check::at_least("resize.size", s, 1)?,
            ResizeSize::Exact(h, w) => check_size("resize.size", (h, w))?,
        }
        Ok(Resize {
            size,
            interpolation: Interpolation::Bilinear,
            antialias: true,
        })
    }

    /// Sets the interpolation mode and antialiasing (ignored for nearest).
    pub fn interpolation(mut self, mode: Interpolation, antialias: bool) -> Self {
        self.interpolation = mode;
        self.antialias = antialias;
        self
    }

    /// The output size for an `h × w` input.
    pub fn output_size(&self, h: usize, w: usize) -> (usize, usize) {
        match self.size {
            ResizeSize::SmallerEdge(s) => smaller_edge_size(h, w, s),
            ResizeSize::Exact(oh, ow) => (oh, ow),
        }
    }
}

impl RandomTransform<ImageF32> for Resize {
    type Params = ();
    fn transform_name(&self) -> &str {
        "Resize"
    }
    fn sample_params(&self, _: &ImageF32, _: &mut Generator) -> Result<()> {
        Ok(())
    }
    fn apply_with(&self, img: ImageF32, _: &()) -> Result<ImageF32> {
        non_empty("Resize", &img)?;
        let size = self.output_size(img.height(), img.width());
        resize(&img, size, self.interpolation, self.antialias)
    }
}
impl_transform!(Resize => ImageF32);

/// A crop box with sub-pixel position and size, in pixels of the source image.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubpixelBox {
    /// Top edge (rows from the top, may be fractional).
    pub top: f64,
    /// Left edge.
    pub left: f64,
    /// Height (`0 < height ≤ H`).
    pub height: f64,
    /// Width (`0 < width ≤ W`).
    pub width: f64,
}

/// Resamples the sub-pixel rectangle `b` of `img` to `out_h × out_w` by bilinear interpolation
/// without antialiasing: output pixel `(y, x)` reads the source at
/// `(top + (y + ½)·height/out_h − ½, left + (x + ½)·width/out_w − ½)`, clamped to the image —
/// PyTorch's `grid_sample(mode="bilinear", padding_mode="border", align_corners=False)` over the box.
pub fn resized_crop_subpixel(
    img: &ImageF32,
    b: &SubpixelBox,
    (out_h, out_w): (usize, usize),
) -> Result<ImageF32> {
    non_empty("resized_crop_subpixel", img)?;
    check_size("resized_crop_subpixel.size", (out_h, out_w))?;
    let (c, hh, ww) = img.dims();
    for (field, v) in [
        ("top", b.top),
        ("left", b.left),
        ("height", b.height),
        ("width", b.width),
    ] {
        if !v.is_finite() {
            return Err(Error::config(
                format!("resized_crop_subpixel.{field}"),
                format!("must be finite, got {v}"),
            ));
        }
    }
    // Source coordinates and weights of every output column and row.
    let axis = |start: f64, len: f64, n_out: usize, n_in: usize| -> Vec<(usize, usize, f32)> {
        (0..n_out)
            .map(|i| {
                let s = (start + (i as f64 + 0.5) * len / n_out as f64 - 0.5)
                    .clamp(0.0, n_in as f64 - 1.0);
                let i0 = s.floor() as usize;
                (i0, (i0 + 1).min(n_in - 1), (s - s.floor()) as f32)
            })
            .collect()
    };
    let cols = axis(b.left, b.width, out_w, ww);
    let rows = axis(b.top, b.height, out_h, hh);
    let mut out = Vec::with_capacity(c * out_h * out_w);
    for ch in 0..c {
        let src = img.plane(ch);
        for &(y0, y1, fy) in &rows {
            for &(x0, x1, fx) in &cols {
                out.push(
                    (1.0 - fy) * ((1.0 - fx) * src[y0 * ww + x0] + fx * src[y0 * ww + x1])
                        + fy * ((1.0 - fx) * src[y1 * ww + x0] + fx * src[y1 * ww + x1]),
                );
            }
        }
    }
    ImageF32::new(c, out_h, out_w, out)
}

/// A random resized crop with a continuous box, resampled back to the input size (bilinear, no
/// antialias; [`resized_crop_subpixel`]): `area = H·W·U(scale)`, `log r ~ U(ln r0, ln r1)`,
/// `w = min(√(area·r), W)`, `h = min(√(area/r), H)`, `top ~ U(0, H − h)`, `left ~ U(0, W − w)` —
/// one draw, no rounding and no rejection loop, unlike torchvision's integer [`RandomResizedCrop`].
/// Suits tiny images (28×28 digits), where rounding the box to whole pixels coarsens the zoom.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomSubpixelCrop {
    scale: (f64, f64),
    ratio: (f64, f64),
}

impl RandomSubpixelCrop {
    /// Area fraction range `scale ⊂ (0, 1]` and aspect ratio range `ratio` (`0 < r0 ≤ r1`).
    pub fn new(scale: (f64, f64), ratio: (f64, f64)) -> Result<Self> {
        check::interval("random_subpixel_crop.scale", scale, 0.0, 1.0)?;
        check::positive("random_subpixel_crop.scale[0]", scale.0)?;
        check::interval("random_subpixel_crop.ratio", ratio, 0.0, f64::MAX)?;
        check::positive("random_subpixel_crop.ratio[0]", ratio.0)?;
        Ok(RandomSubpixelCrop { scale, ratio })
    }
}

impl Default for RandomSubpixelCrop {
    /// torchvision's ranges: scale (0.08, 1), ratio (3/4, 4/3).
    fn default() -> Self {
        RandomSubpixelCrop {
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
        }
    }
}

impl RandomTransform<ImageF32> for RandomSubpixelCrop {
    type Params = SubpixelBox;
    fn transform_name(&self) -> &str {
        "RandomSubpixelCrop"
    }
    fn sample_params(&self, img: &ImageF32, rng: &mut Generator) -> Result<SubpixelBox> {
        non_empty("RandomSubpixelCrop", img)?;
        let (hh, ww) = (img.height() as f64, img.width() as f64);
        let area = rng.uniform(self.scale.0, self.scale.1) * hh * ww;
        let r = rng.uniform(self.ratio.0.ln(), self.ratio.1.ln()).exp();
        let width = (area * r).sqrt().min(ww);
        let height = (area / r).sqrt().min(hh);
        let top = rng.uniform(0.0, hh - height);
        let left = rng.uniform(0.0, ww - width);
        Ok(SubpixelBox {
            top,
            left,
            height,
            width,
        })
    }
    fn apply_with(&self, img: ImageF32, b: &SubpixelBox) -> Result<ImageF32> {
        resized_crop_subpixel(&img, b, (img.height(), img.width()))
    }
}
impl_transform!(RandomSubpixelCrop => ImageF32);

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(c: usize, h: usize, w: usize) -> ImageF32 {
        ImageF32::new(c, h, w, (0..c * h * w).map(|v| v as f32).collect()).unwrap()
    }

    #[test]
    fn padding_modes_follow_numpy_pad() {
        // numpy.pad([0,1,2], 3, mode=...) gives these (independent closed forms).
        let idx = |m| (-3..6).map(|i| map_index(i, 3, m)).collect::<Vec<_>>();
        let s = |v: &[usize]| v.iter().map(|&x| Some(x)).collect::<Vec<_>>();
        assert_eq!(idx(PaddingMode::Reflect), s(&[1, 2, 1, 0, 1, 2, 1, 0, 1]));
        assert_eq!(idx(PaddingMode::Symmetric), s(&[2, 1, 0, 0, 1, 2, 2, 1, 0]));
        assert_eq!(idx(PaddingMode::Edge), s(&[0, 0, 0, 0, 1, 2, 2, 2, 2]));
        assert_eq!(map_index(-1, 1, PaddingMode::Reflect), Some(0));
        assert_eq!(map_index(-1, 3, PaddingMode::Constant), None);
    }

    #[test]
    fn flips_mirror() {
        let img = ramp(1, 2, 3);
        assert_eq!(hflip(img.clone()).data(), &[2.0, 1.0, 0.0, 5.0, 4.0, 3.0]);
        assert_eq!(vflip(img).data(), &[3.0, 4.0, 5.0, 0.0, 1.0, 2.0]);
    }

    #[test]
    fn center_crop_rounds_half_to_even_and_pads() {
        // (5 - 2) / 2 = 1.5 → 2 (Python round), so rows 2..4.
        let img = ramp(1, 5, 1);
        assert_eq!(center_crop(&img, (2, 1)).unwrap().data(), &[2.0, 3.0]);
        // Larger than the image: pad (4-2)//2 = 1 before.
        let small = ramp(1, 1, 2);
        let c = center_crop(&small, (1, 4)).unwrap();
        assert_eq!(c.data(), &[0.0, 0.0, 1.0, 0.0]);
        let c = center_crop(&small, (1, 5)).unwrap();
        assert_eq!(c.data(), &[0.0, 0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn random_crop_errors_when_too_small_and_pads_if_needed() {
        let img = ramp(3, 2, 2);
        let mut g = Generator::seed_from_u64(0);
        let t = RandomCrop::new((3, 3)).unwrap();
        let e = t.sample_params(&img, &mut g).unwrap_err();
        assert!(e.to_string().contains("smaller than the crop"), "{e}");
        let t = t.pad_if_needed(true);
        let p = t.sample_params(&img, &mut g).unwrap();
        let out = t.apply_with(img, &p).unwrap();
        assert_eq!(out.dims(), (3, 3, 3));
    }

    #[test]
    fn rrc_handles_tiny_and_empty_images() {
        let t = RandomResizedCrop::new(4).unwrap();
        let mut g = Generator::seed_from_u64(1);
        let one = ImageF32::new(3, 1, 1, vec![0.1, 0.2, 0.3]).unwrap();
        let p = t.sample_params(&one, &mut g).unwrap();
        let out = t.apply_with(one, &p).unwrap();
        assert_eq!(out.dims(), (3, 4, 4));
        assert!((out.get(2, 3, 3) - 0.3).abs() < 1e-6);
        assert!(t.sample_params(&ImageF32::zeros(3, 0, 5), &mut g).is_err());
        assert!(RandomResizedCrop::with_params((4, 4), (0.5, 0.1), (0.75, 1.33)).is_err());
        assert!(RandomResizedCrop::new(0).is_err());
    }
}
