//! Preview grids: a PNG with one row per sample and one column per view, for the CLI's `preview`
//! command and for the docs. Views of different sizes (multi-crop) are placed top-left in cells as
//! large as the largest view; cells are separated by `pad` pixels of mid grey.

use super::convert::to_rgb8;
use image::{Rgb, RgbImage};
use selfsup_core::{Error, ImageF32, Result};
use std::path::Path;

/// Undoes `Normalize(mean, std)` (`x·std + mean`) so that a normalised view can be displayed.
pub fn denormalize(img: &ImageF32, mean: &[f32], std: &[f32]) -> ImageF32 {
    let mut out = img.clone();
    if mean.is_empty() || std.is_empty() {
        return out;
    }
    for c in 0..out.channels() {
        let (m, s) = (mean[c.min(mean.len() - 1)], std[c.min(std.len() - 1)]);
        for v in out.plane_mut(c) {
            *v = *v * s + m;
        }
    }
    out
}

/// Lays out `rows[i][j]` (sample `i`, view `j`) into one RGB image. Values are clamped to `[0, 1]`;
/// grey views are shown grey.
pub fn grid(rows: &[Vec<ImageF32>], pad: usize) -> RgbImage {
    let cell_h = rows.iter().flatten().map(|v| v.height()).max().unwrap_or(0);
    let cell_w = rows.iter().flatten().map(|v| v.width()).max().unwrap_or(0);
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let width = cols * cell_w + (cols + 1) * pad;
    let height = rows.len() * cell_h + (rows.len() + 1) * pad;
    let mut out = RgbImage::from_pixel(width as u32, height as u32, Rgb([128, 128, 128]));
    for (i, row) in rows.iter().enumerate() {
        for (j, view) in row.iter().enumerate() {
            let rgb = to_rgb8(view);
            let (x0, y0) = (pad + j * (cell_w + pad), pad + i * (cell_h + pad));
            for (x, y, p) in rgb.enumerate_pixels() {
                out.put_pixel(x0 as u32 + x, y0 as u32 + y, *p);
            }
        }
    }
    out
}

/// Writes [`grid`] as a PNG; errors name the file.
pub fn save_grid(path: &Path, rows: &[Vec<ImageF32>], pad: usize) -> Result<()> {
    let img = grid(rows, pad);
    if img.width() == 0 || img.height() == 0 {
        return Err(Error::shape(format!(
            "preview {}: nothing to draw (no views)",
            path.display()
        )));
    }
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| match e {
            image::ImageError::IoError(io) => Error::io(path, io),
            other => Error::Other(format!("cannot write {}: {other}", path.display())),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_places_views_in_cells() {
        let a = ImageF32::new(3, 2, 2, vec![1.0; 12]).unwrap();
        let b = ImageF32::new(1, 1, 1, vec![0.0]).unwrap();
        let g = grid(&[vec![a.clone(), b], vec![a]], 1);
        assert_eq!((g.width(), g.height()), (2 * 2 + 3, 2 * 2 + 3));
        assert_eq!(g.get_pixel(1, 1), &Rgb([255, 255, 255]));
        assert_eq!(g.get_pixel(4, 1), &Rgb([0, 0, 0]));
        assert_eq!(g.get_pixel(0, 0), &Rgb([128, 128, 128]));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("grid.png");
        save_grid(&p, &[vec![ImageF32::zeros(3, 4, 4)]], 2).unwrap();
        assert_eq!(image::open(&p).unwrap().width(), 8);
        let e = save_grid(
            Path::new("/nonexistent-dir/x.png"),
            &[vec![ImageF32::zeros(3, 4, 4)]],
            2,
        )
        .unwrap_err();
        assert!(e.to_string().contains("x.png"), "{e}");
        let d = denormalize(&ImageF32::zeros(3, 1, 1), &[0.5, 0.4, 0.3], &[0.2]);
        assert_eq!(d.data(), &[0.5, 0.4, 0.3]);
    }
}
