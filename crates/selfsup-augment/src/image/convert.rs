//! Conversions between the `image` crate's types and selfsup's planar images.
//!
//! - [`decode`] turns encoded bytes (PNG, JPEG, BMP, WebP, TIFF, GIF) into a planar [`ImageU8`]; errors
//!   name the file, and empty, truncated or corrupt input is an [`Error::Decode`], never a panic.
//! - [`from_dynamic`] converts any decoded [`DynamicImage`] to 8-bit planar CHW.
//! - [`from_dynamic_f32`] converts to float `[0, 1]` directly, keeping 16-bit and float precision.
//! - [`to_rgb8`] / [`to_dynamic`] go back, for previews and for writing files.
//!
//! ## Channel policy
//! - Grey (`L`) stays **1 channel**; RGB stays **3 channels**.
//! - **Alpha is dropped, not composited**: RGBA becomes RGB and grey+alpha becomes grey, exactly what
//!   PIL's `convert("RGB")` / `convert("L")` and torchvision's `decode_image(..., mode=RGB)` do. A
//!   transparent pixel therefore keeps its stored colour.
//! - 16-bit samples map to 8 bits by `round(v · 255 / 65535)`; float samples by `round(clamp(v, 0, 1) · 255)`.
//! - Anything else the `image` crate can decode (e.g. palette images, which it expands) is converted to
//!   RGB first.

use image::{DynamicImage, RgbImage};
use selfsup_core::{Error, ImageF32, ImageU8, Result};
use std::path::Path;

/// Decodes an encoded image held in memory. `path` is only used to name the file in errors (and to
/// guess the format from its extension when the content does not say).
pub fn decode(bytes: &[u8], path: &Path) -> Result<ImageU8> {
    decode_dynamic(bytes, path).map(|d| from_dynamic(&d))
}

/// Decodes an encoded image straight to float `[0, 1]` (16-bit sources keep their precision).
pub fn decode_f32(bytes: &[u8], path: &Path) -> Result<ImageF32> {
    decode_dynamic(bytes, path).map(|d| from_dynamic_f32(&d))
}

/// Reads and decodes an image file.
pub fn open(path: &Path) -> Result<ImageU8> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode(&bytes, path)
}

/// Decodes to the `image` crate's [`DynamicImage`] with errors naming `path`.
pub fn decode_dynamic(bytes: &[u8], path: &Path) -> Result<DynamicImage> {
    if bytes.is_empty() {
        return Err(Error::decode(path, "the file is empty (0 bytes)"));
    }
    let format = match image::guess_format(bytes) {
        Ok(f) => f,
        Err(_) => image::ImageFormat::from_path(path).map_err(|_| {
            Error::decode(
                path,
                "unrecognised image format (expected PNG, JPEG, BMP, WebP, TIFF or GIF)",
            )
        })?,
    };
    check_complete(bytes, format, path)?;
    // Decoders are not supposed to panic on bad input, but a corrupt file must never take a worker
    // thread down, so a panic is turned into a decode error as a last line of defence.
    let result = std::panic::catch_unwind(|| image::load_from_memory_with_format(bytes, format));
    match result {
        Ok(Ok(img)) => {
            if img.width() == 0 || img.height() == 0 {
                return Err(Error::decode(
                    path,
                    format!("image has zero size ({}x{})", img.width(), img.height()),
                ));
            }
            Ok(img)
        }
        Ok(Err(e)) => Err(Error::decode(path, format!("{format:?}: {e}"))),
        Err(_) => Err(Error::decode(
            path,
            format!("{format:?} decoder failed on corrupt data"),
        )),
    }
}

/// Refuses JPEG and PNG data cut short, which the `image` crate decodes without an error (the
/// missing rows come out grey): a JPEG must have its end-of-image marker `FF D9` after its last
/// start-of-scan marker `FF DA` (inside entropy-coded data an `FF` byte is always followed by `00`
/// or a restart marker, and an embedded EXIF thumbnail's own `FF D9` lies before the main scan), a
/// PNG its `IEND` chunk after its last `IDAT` chunk. The same rule as PIL, which raises "image file
/// is truncated" for both.
pub fn check_complete(bytes: &[u8], format: image::ImageFormat, path: &Path) -> Result<()> {
    fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).rposition(|w| w == needle)
    }
    match format {
        image::ImageFormat::Jpeg => {
            let sos = rfind(bytes, &[0xFF, 0xDA]);
            let eoi = rfind(bytes, &[0xFF, 0xD9]);
            match (sos, eoi) {
                (Some(s), Some(e)) if e > s => Ok(()),
                _ => Err(Error::decode(
                    path,
                    format!(
                        "JPEG data is truncated: no end-of-image marker after the image data ({} bytes)",
                        bytes.len()
                    ),
                )),
            }
        }
        image::ImageFormat::Png => {
            let idat = rfind(bytes, b"IDAT");
            let iend = rfind(bytes, b"IEND");
            match (idat, iend) {
                (Some(d), Some(e)) if e > d => Ok(()),
                _ => Err(Error::decode(
                    path,
                    format!(
                        "PNG data is truncated: no IEND chunk after the image data ({} bytes)",
                        bytes.len()
                    ),
                )),
            }
        }
        _ => Ok(()),
    }
}

fn planar<T: Copy + Default, const N: usize>(
    pixels: &[T],
    width: u32,
    height: u32,
    keep: usize,
) -> Vec<T> {
    let n = width as usize * height as usize;
    let mut out = vec![T::default(); keep * n];
    for c in 0..keep {
        let plane = &mut out[c * n..(c + 1) * n];
        for (o, px) in plane.iter_mut().zip(pixels.chunks_exact(N)) {
            *o = px[c];
        }
    }
    out
}

#[inline]
fn u16_to_u8(v: u16) -> u8 {
    ((u32::from(v) * 255 + 32767) / 65535) as u8
}

#[inline]
fn f32_to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Converts a decoded image to 8-bit planar CHW (1 channel for grey sources, 3 otherwise; alpha dropped).
pub fn from_dynamic(img: &DynamicImage) -> ImageU8 {
    let (w, h) = (img.width(), img.height());
    let (c, data) = match img {
        DynamicImage::ImageLuma8(b) => (1, b.as_raw().clone()),
        DynamicImage::ImageLumaA8(b) => (1, planar::<u8, 2>(b.as_raw(), w, h, 1)),
        DynamicImage::ImageRgb8(b) => (3, planar::<u8, 3>(b.as_raw(), w, h, 3)),
        DynamicImage::ImageRgba8(b) => (3, planar::<u8, 4>(b.as_raw(), w, h, 3)),
        DynamicImage::ImageLuma16(b) => (1, b.as_raw().iter().map(|&v| u16_to_u8(v)).collect()),
        DynamicImage::ImageLumaA16(b) => (
            1,
            planar::<u16, 2>(b.as_raw(), w, h, 1)
                .into_iter()
                .map(u16_to_u8)
                .collect(),
        ),
        DynamicImage::ImageRgb16(b) => (
            3,
            planar::<u16, 3>(b.as_raw(), w, h, 3)
                .into_iter()
                .map(u16_to_u8)
                .collect(),
        ),
        DynamicImage::ImageRgba16(b) => (
            3,
            planar::<u16, 4>(b.as_raw(), w, h, 3)
                .into_iter()
                .map(u16_to_u8)
                .collect(),
        ),
        DynamicImage::ImageRgb32F(b) => (
            3,
            planar::<f32, 3>(b.as_raw(), w, h, 3)
                .into_iter()
                .map(f32_to_u8)
                .collect(),
        ),
        DynamicImage::ImageRgba32F(b) => (
            3,
            planar::<f32, 4>(b.as_raw(), w, h, 3)
                .into_iter()
                .map(f32_to_u8)
                .collect(),
        ),
        other => {
            let rgb = other.to_rgb8();
            (3, planar::<u8, 3>(rgb.as_raw(), w, h, 3))
        }
    };
    ImageU8::new(c, h as usize, w as usize, data).expect("planar conversion keeps the size")
}

/// Converts a decoded image to float `[0, 1]` planar CHW, keeping 16-bit and float precision
/// (`v / 255`, `v / 65535`, or the float value clamped to `[0, 1]`). Same channel policy as
/// [`from_dynamic`].
pub fn from_dynamic_f32(img: &DynamicImage) -> ImageF32 {
    let (w, h) = (img.width(), img.height());
    let s16 = 1.0 / 65535.0;
    let (c, data): (usize, Vec<f32>) = match img {
        DynamicImage::ImageLuma16(b) => {
            (1, b.as_raw().iter().map(|&v| f32::from(v) * s16).collect())
        }
        DynamicImage::ImageLumaA16(b) => (
            1,
            planar::<u16, 2>(b.as_raw(), w, h, 1)
                .into_iter()
                .map(|v| f32::from(v) * s16)
                .collect(),
        ),
        DynamicImage::ImageRgb16(b) => (
            3,
            planar::<u16, 3>(b.as_raw(), w, h, 3)
                .into_iter()
                .map(|v| f32::from(v) * s16)
                .collect(),
        ),
        DynamicImage::ImageRgba16(b) => (
            3,
            planar::<u16, 4>(b.as_raw(), w, h, 3)
                .into_iter()
                .map(|v| f32::from(v) * s16)
                .collect(),
        ),
        DynamicImage::ImageRgb32F(b) => (
            3,
            planar::<f32, 3>(b.as_raw(), w, h, 3)
                .into_iter()
                .map(|v| v.clamp(0.0, 1.0))
                .collect(),
        ),
        DynamicImage::ImageRgba32F(b) => (
            3,
            planar::<f32, 4>(b.as_raw(), w, h, 3)
                .into_iter()
                .map(|v| v.clamp(0.0, 1.0))
                .collect(),
        ),
        other => return from_dynamic(other).to_f32(),
    };
    ImageF32::new(c, h as usize, w as usize, data).expect("planar conversion keeps the size")
}

/// Converts a float image to an interleaved 8-bit RGB image: values are clamped to `[0, 1]`, scaled
/// by 255 and rounded. 1- or 2-channel images replicate channel 0 (grey); 3 or more channels use the
/// first three. An image with zero channels gives a black image of the same size.
pub fn to_rgb8(img: &ImageF32) -> RgbImage {
    let (c, h, w) = img.dims();
    let n = h * w;
    let mut raw = vec![0u8; 3 * n];
    if c > 0 {
        let planes: [&[f32]; 3] = if c >= 3 {
            [img.plane(0), img.plane(1), img.plane(2)]
        } else {
            [img.plane(0), img.plane(0), img.plane(0)]
        };
        for (i, px) in raw.chunks_exact_mut(3).enumerate() {
            for k in 0..3 {
                px[k] = f32_to_u8(planes[k][i]);
            }
        }
    }
    RgbImage::from_raw(w as u32, h as u32, raw).expect("buffer size matches")
}

/// Converts an 8-bit planar image to a [`DynamicImage`]: 1 channel → `L8`, 3 → `Rgb8`, 4 → `Rgba8`;
/// other channel counts are an [`Error::Shape`].
pub fn to_dynamic(img: &ImageU8) -> Result<DynamicImage> {
    let (c, h, w) = img.dims();
    let n = h * w;
    let interleave = |k: usize| {
        let mut raw = vec![0u8; k * n];
        for ch in 0..k {
            for (i, &v) in img.plane(ch).iter().enumerate() {
                raw[i * k + ch] = v;
            }
        }
        raw
    };
    let (w32, h32) = (w as u32, h as u32);
    match c {
        1 => Ok(DynamicImage::ImageLuma8(
            image::GrayImage::from_raw(w32, h32, img.data().to_vec()).expect("size"),
        )),
        3 => Ok(DynamicImage::ImageRgb8(
            RgbImage::from_raw(w32, h32, interleave(3)).expect("size"),
        )),
        4 => Ok(DynamicImage::ImageRgba8(
            image::RgbaImage::from_raw(w32, h32, interleave(4)).expect("size"),
        )),
        _ => Err(Error::shape(format!(
            "to_dynamic needs 1, 3 or 4 channels, got {c}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};
    use std::io::Cursor;

    fn encode(img: &DynamicImage, fmt: image::ImageFormat) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, fmt).unwrap();
        buf.into_inner()
    }

    #[test]
    fn png_rgb_round_trips_to_planar() {
        // 2x3 RGB image with known values: pixel (x, y) = (10x + y, 100 + y, 200 - x).
        let rgb = ImageBuffer::from_fn(3, 2, |x, y| {
            Rgb([(10 * x + y) as u8, (100 + y) as u8, (200 - x) as u8])
        });
        let bytes = encode(&DynamicImage::ImageRgb8(rgb), image::ImageFormat::Png);
        let img = decode(&bytes, Path::new("a.png")).unwrap();
        assert_eq!(img.dims(), (3, 2, 3));
        for y in 0..2 {
            for x in 0..3 {
                assert_eq!(img.get(0, y, x), (10 * x + y) as u8);
                assert_eq!(img.get(1, y, x), (100 + y) as u8);
                assert_eq!(img.get(2, y, x), (200 - x) as u8);
            }
        }
        let back = to_dynamic(&img).unwrap().to_rgb8();
        assert_eq!(back.get_pixel(2, 1), &Rgb([21, 101, 198]));
    }

    #[test]
    fn alpha_is_dropped_and_grey_stays_one_channel() {
        let rgba = ImageBuffer::from_fn(2, 1, |x, _| Rgba([x as u8, 5, 6, 0]));
        let img = from_dynamic(&DynamicImage::ImageRgba8(rgba));
        assert_eq!(img.dims(), (3, 1, 2));
        assert_eq!(img.data(), &[0, 1, 5, 5, 6, 6]);
        let la = ImageBuffer::from_fn(2, 1, |x, _| LumaA([7 + x as u8, 9]));
        let g = from_dynamic(&DynamicImage::ImageLumaA8(la));
        assert_eq!(g.dims(), (1, 1, 2));
        assert_eq!(g.data(), &[7, 8]);
    }

    #[test]
    fn sixteen_bit_maps_by_rounding() {
        let l16 = ImageBuffer::from_fn(4, 1, |x, _| Luma([[0u16, 257, 32896, 65535][x as usize]]));
        let d = DynamicImage::ImageLuma16(l16);
        assert_eq!(from_dynamic(&d).data(), &[0, 1, 128, 255]);
        let f = from_dynamic_f32(&d);
        assert!((f.data()[2] - 32896.0 / 65535.0).abs() < 1e-7);
        // survives a PNG round trip at 16 bits
        let bytes = encode(&d, image::ImageFormat::Png);
        assert_eq!(
            decode(&bytes, Path::new("x.png")).unwrap().data(),
            &[0, 1, 128, 255]
        );
    }

    #[test]
    fn bad_input_is_a_decode_error_naming_the_file() {
        let p = Path::new("dir/broken.png");
        for bytes in [
            &b""[..],
            &b"not an image"[..],
            &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..],
        ] {
            let e = decode(bytes, p).unwrap_err();
            assert!(matches!(e, Error::Decode { .. }), "{e:?}");
            assert!(e.to_string().contains("broken.png"), "{e}");
        }
        // A valid PNG cut in half.
        let rgb = ImageBuffer::from_fn(16, 16, |x, y| Rgb([x as u8, y as u8, 3]));
        let bytes = encode(&DynamicImage::ImageRgb8(rgb), image::ImageFormat::Png);
        let e = decode(&bytes[..bytes.len() / 2], p).unwrap_err();
        assert!(e.to_string().contains("broken.png"), "{e}");
        let e = open(Path::new("/nonexistent/zzz.jpg")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("zzz.jpg"));
    }

    #[test]
    fn to_rgb8_replicates_grey_and_clamps() {
        let g = ImageF32::new(1, 1, 3, vec![-0.5, 0.5, 2.0]).unwrap();
        let rgb = to_rgb8(&g);
        assert_eq!(rgb.as_raw(), &[0, 0, 0, 128, 128, 128, 255, 255, 255]);
        let c = ImageF32::new(3, 1, 1, vec![1.0, 0.0, 0.2]).unwrap();
        assert_eq!(to_rgb8(&c).as_raw(), &[255, 0, 51]);
    }
}
