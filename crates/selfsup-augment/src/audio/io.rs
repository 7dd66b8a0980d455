//! WAV reading and writing with `hound`.
//!
//! [`read_wav`] decodes 8/16/24/32-bit integer PCM and 32-bit float WAV files into a planar
//! [`Audio`] (channel 0's frames, then channel 1's, …) with integer samples scaled by `1 / 2^(bits-1)`
//! into `[-1, 1)`, the convention of torchaudio's `load(normalize=True)` and soundfile.
//! [`read_wav_with`] can also downmix to mono and resample (band-limited, see
//! [`super::resample`](mod@super::resample)) on load. [`write_wav`] writes 8/16/24-bit integer PCM or 32-bit float.
//!
//! Every failure names the file: a missing or unreadable file is [`Error::Io`]; an empty, truncated,
//! corrupt or unsupported file is [`Error::Decode`]. Nothing here panics on bad input. The whole file is
//! read into memory with one system call before parsing, which is the fast path for short clips.

use crate::audio::resample::resample;
use selfsup_core::{Audio, Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Cursor;
use std::path::Path;

/// What [`read_wav_with`] does to a clip after decoding it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WavOptions {
    /// Average all channels into one.
    pub mono: bool,
    /// Resample to this rate (Hz) when it differs from the file's rate.
    pub target_rate: Option<u32>,
}

/// The sample encoding [`write_wav_format`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WavSampleFormat {
    /// Integer PCM with 8, 16, 24 or 32 bits per sample (values clamped to `[-1, 1]`).
    Int(u16),
    /// IEEE 32-bit float (values written as they are).
    Float32,
}

/// Reads a WAV file into planar audio (all channels kept, the file's sample rate).
pub fn read_wav(path: &Path) -> Result<Audio> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_wav(&bytes, path)
}

/// Reads a WAV file, then downmixes and/or resamples it as `options` say.
pub fn read_wav_with(path: &Path, options: &WavOptions) -> Result<Audio> {
    let mut audio = read_wav(path)?;
    if options.mono && audio.channels() > 1 {
        audio = audio.downmix();
    }
    if let Some(rate) = options.target_rate {
        if rate == 0 {
            return Err(Error::config(
                "wav_options.target_rate",
                "must be > 0 Hz, got 0",
            ));
        }
        if rate != audio.sample_rate() {
            audio = resample(&audio, rate)?;
        }
    }
    Ok(audio)
}

/// Decodes WAV bytes already in memory; `path` is only used to name the source in errors.
pub fn decode_wav(bytes: &[u8], path: &Path) -> Result<Audio> {
    if bytes.is_empty() {
        return Err(Error::decode(path, "the file is empty"));
    }
    let mut reader = hound::WavReader::new(Cursor::new(bytes))
        .map_err(|e| Error::decode(path, format!("not a readable WAV file: {e}")))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    if channels == 0 {
        return Err(Error::decode(path, "the header declares 0 channels"));
    }
    if spec.sample_rate == 0 {
        return Err(Error::decode(
            path,
            "the header declares a sample rate of 0 Hz",
        ));
    }
    let total = reader.len() as usize;
    // A header may claim more samples than the file holds: never trust it for the allocation.
    let mut interleaved: Vec<f32> = Vec::with_capacity(total.min(bytes.len()));
    match spec.sample_format {
        hound::SampleFormat::Float => {
            if spec.bits_per_sample != 32 {
                return Err(Error::decode(
                    path,
                    format!(
                        "unsupported float WAV with {} bits per sample (only 32)",
                        spec.bits_per_sample
                    ),
                ));
            }
            for s in reader.samples::<f32>() {
                let v = s.map_err(|e| truncated(path, e))?;
                if !v.is_finite() {
                    return Err(Error::decode(
                        path,
                        format!(
                            "float sample {} is {v}: a WAV with NaN or infinite samples is a bad file",
                            interleaved.len()
                        ),
                    ));
                }
                interleaved.push(v);
            }
        }
        hound::SampleFormat::Int => {
            let bits = spec.bits_per_sample;
            if !matches!(bits, 8 | 16 | 24 | 32) {
                return Err(Error::decode(
                    path,
                    format!(
                        "unsupported integer WAV with {bits} bits per sample (8, 16, 24 or 32)"
                    ),
                ));
            }
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            if bits == 16 {
                for s in reader.samples::<i16>() {
                    let v = s.map_err(|e| truncated(path, e))?;
                    interleaved.push(f32::from(v) * (1.0 / 32768.0));
                }
            } else {
                for s in reader.samples::<i32>() {
                    let v = s.map_err(|e| truncated(path, e))?;
                    interleaved.push((f64::from(v) * scale) as f32);
                }
            }
        }
    }
    if interleaved.len() % channels != 0 {
        return Err(Error::decode(
            path,
            format!(
                "the data holds {} samples, not a whole number of {channels}-channel frames",
                interleaved.len()
            ),
        ));
    }
    let planar = deinterleave(&interleaved, channels);
    Audio::new(spec.sample_rate, channels, planar).map_err(|e| Error::decode(path, e.to_string()))
}

fn truncated(path: &Path, e: hound::Error) -> Error {
    Error::decode(path, format!("truncated or corrupt sample data: {e}"))
}

/// Interleaved frames → planar channels.
fn deinterleave(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels == 1 {
        return interleaved.to_vec();
    }
    let frames = interleaved.len() / channels;
    let mut out = vec![0.0f32; interleaved.len()];
    for (f, frame) in interleaved.chunks_exact(channels).enumerate() {
        for (c, &v) in frame.iter().enumerate() {
            out[c * frames + f] = v;
        }
    }
    out
}

/// Writes `audio` as WAV: `bits` 8, 16 or 24 gives integer PCM, 32 gives 32-bit float.
pub fn write_wav(path: &Path, audio: &Audio, bits: u16) -> Result<()> {
    let format = match bits {
        8 | 16 | 24 => WavSampleFormat::Int(bits),
        32 => WavSampleFormat::Float32,
        other => {
            return Err(Error::config(
                "bits",
                format!("must be 8, 16, 24 (integer PCM) or 32 (float), got {other}"),
            ))
        }
    };
    write_wav_format(path, audio, format)
}

/// Writes `audio` as WAV in the given sample format.
pub fn write_wav_format(path: &Path, audio: &Audio, format: WavSampleFormat) -> Result<()> {
    let channels = u16::try_from(audio.channels()).map_err(|_| {
        Error::shape(format!(
            "WAV holds at most 65535 channels, got {}",
            audio.channels()
        ))
    })?;
    let (bits, sample_format) = match format {
        WavSampleFormat::Int(b @ (8 | 16 | 24 | 32)) => (b, hound::SampleFormat::Int),
        WavSampleFormat::Int(b) => {
            return Err(Error::config(
                "format.bits",
                format!("integer WAV must have 8, 16, 24 or 32 bits, got {b}"),
            ))
        }
        WavSampleFormat::Float32 => (32, hound::SampleFormat::Float),
    };
    let spec = hound::WavSpec {
        channels,
        sample_rate: audio.sample_rate(),
        bits_per_sample: bits,
        sample_format,
    };
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let err = |e: hound::Error| match e {
        hound::Error::IoError(io) => Error::io(path, io),
        other => Error::Other(format!("cannot write {}: {other}", path.display())),
    };
    let mut writer = hound::WavWriter::new(std::io::BufWriter::new(file), spec).map_err(err)?;
    let frames = audio.frames();
    let nch = audio.channels();
    let data = audio.data();
    match sample_format {
        hound::SampleFormat::Float => {
            for f in 0..frames {
                for c in 0..nch {
                    writer.write_sample(data[c * frames + f]).map_err(err)?;
                }
            }
        }
        hound::SampleFormat::Int => {
            let full = (1i64 << (bits - 1)) as f64;
            let (lo, hi) = (-full, full - 1.0);
            for f in 0..frames {
                for c in 0..nch {
                    let x = f64::from(data[c * frames + f]);
                    let q = if x.is_nan() {
                        0.0
                    } else {
                        (x * full).round().clamp(lo, hi)
                    };
                    if bits == 8 {
                        writer.write_sample(q as i8).map_err(err)?;
                    } else if bits == 16 {
                        writer.write_sample(q as i16).map_err(err)?;
                    } else {
                        writer.write_sample(q as i32).map_err(err)?;
                    }
                }
            }
        }
    }
    writer.finalize().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_supported_format_and_keeps_channels_planar() {
        let dir = tempfile::tempdir().unwrap();
        // Two channels with distinct content; values on the 8-bit grid so every format is exact.
        let left: Vec<f32> = (0..50).map(|i| (i as f32 - 25.0) / 128.0).collect();
        let right: Vec<f32> = (0..50)
            .map(|i| (12.0 - i as f32 * 0.5).round() / 128.0)
            .collect();
        let data = [left.clone(), right.clone()].concat();
        let audio = Audio::new(22050, 2, data).unwrap();
        for bits in [8u16, 16, 24, 32] {
            let p = dir.path().join(format!("x{bits}.wav"));
            write_wav(&p, &audio, bits).unwrap();
            let back = read_wav(&p).unwrap();
            assert_eq!(back.sample_rate(), 22050);
            assert_eq!(back.channels(), 2);
            assert_eq!(back.channel(0), &left[..], "bits {bits}");
            assert_eq!(back.channel(1), &right[..], "bits {bits}");
        }
        let p = dir.path().join("i32.wav");
        write_wav_format(&p, &audio, WavSampleFormat::Int(32)).unwrap();
        assert_eq!(read_wav(&p).unwrap(), audio);
        let mono = read_wav_with(
            &p,
            &WavOptions {
                mono: true,
                target_rate: None,
            },
        )
        .unwrap();
        assert_eq!(mono.channels(), 1);
        assert!((mono.channel(0)[3] - (left[3] + right[3]) / 2.0).abs() < 1e-7);
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.wav");
        let e = read_wav(&missing).unwrap_err();
        assert!(
            matches!(e, Error::Io { .. }) && e.to_string().contains("missing.wav"),
            "{e}"
        );

        let empty = dir.path().join("empty.wav");
        std::fs::write(&empty, b"").unwrap();
        let e = read_wav(&empty).unwrap_err();
        assert!(
            matches!(e, Error::Decode { .. }) && e.to_string().contains("empty.wav"),
            "{e}"
        );

        let junk = dir.path().join("junk.wav");
        std::fs::write(&junk, b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk").unwrap();
        let e = read_wav(&junk).unwrap_err();
        assert!(
            matches!(e, Error::Decode { .. }) && e.to_string().contains("junk.wav"),
            "{e}"
        );

        let good = dir.path().join("good.wav");
        write_wav(&good, &Audio::mono(8000, vec![0.25; 1000]).unwrap(), 16).unwrap();
        let bytes = std::fs::read(&good).unwrap();
        for cut in [10, 40, 44, 45, 1001] {
            let t = dir.path().join(format!("trunc{cut}.wav"));
            std::fs::write(&t, &bytes[..cut]).unwrap();
            let e = read_wav(&t).unwrap_err();
            assert!(e.to_string().contains(&format!("trunc{cut}.wav")), "{e}");
        }
        assert!(write_wav(&good, &Audio::mono(8000, vec![0.0]).unwrap(), 12).is_err());
    }
}
