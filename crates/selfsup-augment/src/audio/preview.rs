//! Spectrogram previews as PNG images: a clip and its augmented views stacked top to bottom.
//!
//! Each spectrogram (its first channel) is scaled to its own minimum … maximum, drawn with low
//! frequencies at the bottom, and coloured with a viridis-like map (dark blue → green → yellow);
//! a dark 2-pixel line separates the panels. Pass power spectrograms through
//! [`super::AmplitudeToDB`] first for a readable picture.
//!
//! The PNG is written by a small encoder in this file (8-bit RGB, zlib "stored" blocks, CRC-32 and
//! Adler-32 computed here), so the `audio` feature needs no image codec.

use selfsup_core::{Error, Result, Spectrogram};
use std::path::Path;

/// Viridis-like control points (approximate), evenly spaced over `[0, 1]`.
const CMAP: [[f32; 3]; 6] = [
    [68.0, 1.0, 84.0],
    [65.0, 68.0, 135.0],
    [42.0, 120.0, 142.0],
    [34.0, 168.0, 132.0],
    [122.0, 209.0, 81.0],
    [253.0, 231.0, 37.0],
];

fn colour(t: f32) -> [u8; 3] {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (CMAP.len() - 1) as f32;
    let i = (x.floor() as usize).min(CMAP.len() - 2);
    let f = x - i as f32;
    let mut out = [0u8; 3];
    for c in 0..3 {
        out[c] = (CMAP[i][c] + (CMAP[i + 1][c] - CMAP[i][c]) * f).round() as u8;
    }
    out
}

/// Renders spectrograms into one RGB image: `(width, height, pixels)`.
pub fn render_spectrograms(specs: &[Spectrogram]) -> Result<(usize, usize, Vec<u8>)> {
    if specs.is_empty() {
        return Err(Error::shape("nothing to preview: no spectrograms given"));
    }
    const GAP: usize = 2;
    let width = specs.iter().map(|s| s.n_frames()).max().unwrap_or(0).max(1);
    let height = specs.iter().map(|s| s.n_freq()).sum::<usize>() + GAP * (specs.len() - 1);
    if height == 0 {
        return Err(Error::shape(
            "nothing to preview: spectrograms have no rows",
        ));
    }
    let mut px = vec![20u8; width * height * 3];
    let mut y0 = 0;
    for s in specs {
        let (rows, cols) = (s.n_freq(), s.n_frames());
        if rows > 0 && cols > 0 && s.values.channels() > 0 {
            let plane = s.values.plane(0);
            let (lo, hi) = plane
                .iter()
                .filter(|v| v.is_finite())
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            let span = if hi > lo { hi - lo } else { 1.0 };
            for r in 0..rows {
                let y = y0 + (rows - 1 - r); // low frequencies at the bottom
                for c in 0..cols {
                    let rgb = colour((plane[r * cols + c] - lo) / span);
                    let o = (y * width + c) * 3;
                    px[o..o + 3].copy_from_slice(&rgb);
                }
            }
        }
        y0 += rows + GAP;
    }
    Ok((width, height, px))
}

/// Writes spectrograms stacked vertically to a PNG file.
pub fn save_spectrograms(path: &Path, specs: &[Spectrogram]) -> Result<()> {
    let (w, h, px) = render_spectrograms(specs)?;
    let png = encode_png_rgb(w, h, &px);
    std::fs::write(path, png).map_err(|e| Error::io(path, e))
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Encodes 8-bit RGB pixels (row-major) as a PNG (filter 0 per row, uncompressed deflate blocks).
pub fn encode_png_rgb(width: usize, height: usize, rgb: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity((width * 3 + 1) * height);
    for row in rgb.chunks_exact(width * 3) {
        raw.push(0);
        raw.extend_from_slice(row);
    }
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65535).collect();
    for (i, b) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = b.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(b);
    }
    if blocks.is_empty() {
        z.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
    }
    z.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        // CRC-32 of "123456789" is 0xCBF43926; Adler-32 of "Wikipedia" is 0x11E60398.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn renders_panels_with_low_frequencies_at_the_bottom() {
        let a = Spectrogram::new(1, 2, 3, vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        let (w, h, px) = render_spectrograms(&[a.clone(), a]).unwrap();
        assert_eq!((w, h), (3, 6));
        // Row 0 of the image is the top (highest frequency = value 1 → yellow).
        assert_eq!(&px[0..3], &colour(1.0));
        assert_eq!(&px[3 * 3..3 * 3 + 3], &colour(0.0));
        let png = encode_png_rgb(w, h, &px);
        assert_eq!(&png[1..4], b"PNG");
        assert!(render_spectrograms(&[]).is_err());
    }
}
