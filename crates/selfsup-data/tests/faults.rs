//! Bad files that decoders accept silently (issue 18): a JPEG or PNG cut short and a float WAV
//! holding NaN or infinite samples are decode errors naming the file, so the loader's bad-file
//! policy sees them; complete files (also with bytes after the JPEG end marker) still decode.

mod common;

use common::*;
use selfsup_data::{codec, AudioFolder, Dataset, Error};
use std::path::Path;

/// A 96×96 RGB JPEG of pseudo-random pixels (the scan data is most of the file).
fn noisy_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(96, 96, |x, y| {
        let h = (x * 7919 + y * 104_729) % 251;
        image::Rgb([h as u8, (h * 3 % 251) as u8, (x * y % 251) as u8])
    });
    let mut out = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    out
}

fn noisy_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 64, |x, y| {
        image::Rgb([(x * 31 % 256) as u8, (y * 17 % 256) as u8, (x ^ y) as u8])
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn assert_truncated(path: &Path) {
    let e = codec::read_image(path).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(e.to_string().contains(name), "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn a_jpeg_or_png_cut_short_is_a_decode_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let jpeg = noisy_jpeg();
    let png = noisy_png();
    // Complete files decode, and so does a JPEG with bytes after its end marker.
    write_bytes(&dir.path().join("ok.jpg"), &jpeg);
    write_bytes(&dir.path().join("ok.png"), &png);
    let mut trailer = jpeg.clone();
    trailer.extend_from_slice(b"\0\0camera trailer");
    write_bytes(&dir.path().join("trailer.jpg"), &trailer);
    for f in ["ok.jpg", "ok.png", "trailer.jpg"] {
        let img = codec::read_image(&dir.path().join(f)).unwrap();
        assert_eq!(
            (img.height(), img.width()),
            if f.ends_with("png") {
                (64, 64)
            } else {
                (96, 96)
            }
        );
    }
    // Cut inside the scan data at several points, and just before the end marker / IEND chunk.
    for (i, cut) in [jpeg.len() / 2, jpeg.len() * 3 / 4, jpeg.len() - 2]
        .into_iter()
        .enumerate()
    {
        let p = dir.path().join(format!("cut{i}.jpg"));
        write_bytes(&p, &jpeg[..cut]);
        assert_truncated(&p);
    }
    for (i, cut) in [png.len() / 2, png.len() - 12].into_iter().enumerate() {
        let p = dir.path().join(format!("cut{i}.png"));
        write_bytes(&p, &png[..cut]);
        assert_truncated(&p);
    }
}

fn write_float_wav(path: &Path, samples: &[f32]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn a_float_wav_with_nan_or_inf_samples_is_a_bad_file_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let good: Vec<f32> = (0..64).map(|i| (i as f32 * 0.1).sin() * 0.5).collect();
    write_float_wav(&dir.path().join("k/a_good.wav"), &good);
    let mut nan = good.clone();
    nan[10] = f32::NAN;
    write_float_wav(&dir.path().join("k/b_nan.wav"), &nan);
    let mut inf = good.clone();
    inf[63] = f32::NEG_INFINITY;
    write_float_wav(&dir.path().join("k/c_inf.wav"), &inf);
    let ds = AudioFolder::new(dir.path()).unwrap();
    assert_eq!(ds.len(), 3);
    assert!(ds.get(0).is_ok());
    for (i, name, at) in [(1, "b_nan.wav", "sample 10"), (2, "c_inf.wav", "sample 63")] {
        let e = ds.get(i).unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains(name) && msg.contains(at), "{msg}");
    }
}

#[test]
fn a_label_first_mnist_csv_is_recognised_by_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("label");
    for i in 0..784 {
        text.push_str(&format!(",pixel{i}"));
    }
    text.push('\n');
    let labels = [3u8, 7, 0, 9, 3];
    for (r, &l) in labels.iter().enumerate() {
        text.push_str(&l.to_string());
        for i in 0..784 {
            // The last pixel is 0 in every row: read label-last, every row would be class 0.
            let v = if i == 783 { 0 } else { (i * 7 + r * 13) % 256 };
            text.push_str(&format!(",{v}"));
        }
        text.push('\n');
    }
    let p = dir.path().join("train.csv");
    std::fs::write(&p, &text).unwrap();
    let ds = selfsup_data::MnistCsv::new(&p).unwrap();
    assert_eq!(ds.labels(), &labels);
    let item = ds.get(1).unwrap();
    let selfsup_core::Sample::ImageU8(img) = item.sample else {
        panic!("not an 8-bit image")
    };
    // Pixel 0 of row 1 is (0·7 + 1·13) % 256.
    assert_eq!(img.data()[0], 13);
}
