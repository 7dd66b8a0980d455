//! Minimal PNG line charts drawn with the `image` crate: axes, five ticks per axis with numeric labels,
//! one coloured polyline per series (with point markers on short series), a title, axis labels and a
//! legend, in a built-in 5×7 bitmap font (upper-case
//! letters, digits and a little punctuation; lower-case is drawn upper-case). No font files, no extra
//! dependencies: enough to read a loss curve or an accuracy curve at a glance.

use crate::{Error, Result};
use image::{Rgb, RgbImage};
use std::path::Path;

const W: u32 = 800;
const H: u32 = 500;
const LEFT: i64 = 90;
const RIGHT: i64 = 20;
const TOP: i64 = 50;
const BOTTOM: i64 = 60;
const SCALE: i64 = 2;

const PALETTE: [[u8; 3]; 6] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [255, 127, 14],
    [148, 103, 189],
    [23, 190, 207],
];

fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '+' => [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '_' => [0, 0, 0, 0, 0, 0, 0x1F],
        '/' => [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        _ => [0; 7],
    }
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: [u8; 3]) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, Rgb(c));
    }
}

/// Width in pixels of `text` at the chart's scale.
fn text_width(text: &str) -> i64 {
    text.chars().count() as i64 * 6 * SCALE
}

fn draw_text(img: &mut RgbImage, x: i64, y: i64, text: &str, c: [u8; 3]) {
    for (i, ch) in text.chars().enumerate() {
        let g = glyph(ch);
        for (r, bits) in g.iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) != 0 {
                    for dy in 0..SCALE {
                        for dx in 0..SCALE {
                            put(
                                img,
                                x + (i as i64 * 6 + col) * SCALE + dx,
                                y + r as i64 * SCALE + dy,
                                c,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// `text` turned 90° counter-clockwise (read bottom to top), its first character's bottom-left
/// corner at `(x, y)`: the y-axis label.
fn draw_text_up(img: &mut RgbImage, x: i64, y: i64, text: &str, c: [u8; 3]) {
    for (i, ch) in text.chars().enumerate() {
        let g = glyph(ch);
        for (r, bits) in g.iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) != 0 {
                    for dy in 0..SCALE {
                        for dx in 0..SCALE {
                            put(
                                img,
                                x + r as i64 * SCALE + dx,
                                y - (i as i64 * 6 + col) * SCALE - dy,
                                c,
                            );
                        }
                    }
                }
            }
        }
    }
}

fn line(img: &mut RgbImage, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: [u8; 3], thick: bool) {
    let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
    let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
    let (mut x, mut y, mut err) = (x0, y0, dx + dy);
    loop {
        put(img, x, y, c);
        if thick {
            put(img, x + 1, y, c);
            put(img, x, y + 1, c);
        }
        if x == x1 && y == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

fn fmt_tick(v: f64, span: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if span >= 10.0 {
        format!("{v:.0}")
    } else if span >= 1.0 {
        format!("{v:.1}")
    } else if span >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Series with at most this many points get a marker on every point (so that a one- or two-point
/// curve, e.g. a one-epoch run's evaluation, is visible).
pub const MARKERS_UP_TO: usize = 50;

/// Draws `series` (name, points) as lines into a PNG at `path`, with the axes labelled `x_label`
/// and `y_label` (the y label written upwards along the axis).
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let mut img = RgbImage::from_pixel(W, H, Rgb([255, 255, 255]));
    let pts = series
        .iter()
        .flat_map(|(_, p)| p.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1e-12 {
        x1 = x0 + 1.0;
    }
    if y1 - y0 < 1e-12 {
        y0 -= 0.5;
        y1 += 0.5;
    }
    let pad = (y1 - y0) * 0.05;
    y0 -= pad;
    y1 += pad;
    let (pw, ph) = (W as i64 - LEFT - RIGHT, H as i64 - TOP - BOTTOM);
    let to_px = |x: f64, y: f64| -> (i64, i64) {
        (
            LEFT + ((x - x0) / (x1 - x0) * pw as f64).round() as i64,
            TOP + ph - ((y - y0) / (y1 - y0) * ph as f64).round() as i64,
        )
    };
    let grey = [220, 220, 220];
    let black = [0, 0, 0];
    for i in 0..=4 {
        let fy = y0 + (y1 - y0) * i as f64 / 4.0;
        let (_, py) = to_px(x0, fy);
        line(&mut img, (LEFT, py), (LEFT + pw, py), grey, false);
        let s = fmt_tick(fy, y1 - y0);
        draw_text(&mut img, LEFT - 8 - text_width(&s), py - 7, &s, black);
        let fx = x0 + (x1 - x0) * i as f64 / 4.0;
        let (px, _) = to_px(fx, y0);
        line(&mut img, (px, TOP), (px, TOP + ph), grey, false);
        let s = fmt_tick(fx, x1 - x0);
        draw_text(&mut img, px - text_width(&s) / 2, TOP + ph + 8, &s, black);
    }
    line(&mut img, (LEFT, TOP), (LEFT, TOP + ph), black, false);
    line(
        &mut img,
        (LEFT, TOP + ph),
        (LEFT + pw, TOP + ph),
        black,
        false,
    );
    draw_text(
        &mut img,
        (W as i64 - text_width(title)) / 2,
        14,
        title,
        black,
    );
    draw_text(
        &mut img,
        LEFT + (pw - text_width(x_label)) / 2,
        H as i64 - 24,
        x_label,
        black,
    );
    draw_text_up(
        &mut img,
        8,
        TOP + (ph + text_width(y_label)) / 2,
        y_label,
        black,
    );
    for (i, (name, p)) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let mut prev: Option<(i64, i64)> = None;
        let markers = p.len() <= MARKERS_UP_TO;
        for &(x, y) in p {
            if !(x.is_finite() && y.is_finite()) {
                prev = None;
                continue;
            }
            let q = to_px(x, y);
            match prev {
                Some(a) => line(&mut img, a, q, c, true),
                None => put(&mut img, q.0, q.1, c),
            }
            if markers {
                for dy in -3..=3 {
                    for dx in -3..=3 {
                        put(&mut img, q.0 + dx, q.1 + dy, c);
                    }
                }
            }
            prev = Some(q);
        }
        let lx = LEFT + pw - 200;
        let ly = TOP + 8 + i as i64 * 20;
        for dy in 0..10 {
            for dx in 0..16 {
                put(&mut img, lx + dx, ly + 2 + dy, c);
            }
        }
        draw_text(&mut img, lx + 22, ly, name, black);
    }
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| {
            Error::Core(selfsup_core::Error::Other(format!(
                "cannot write {}: {e}",
                path.display()
            )))
        })
}
