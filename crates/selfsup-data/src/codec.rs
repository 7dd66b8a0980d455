//! The one place where `selfsup-data` decodes files: images through
//! `selfsup_augment::image::convert::decode`, WAV audio through `selfsup_augment::audio::io`.
//! This crate never carries a second decoder; it only reads the bytes and names the file in errors.

use selfsup_core::{Audio, Error, ImageU8, Result};
use std::path::Path;

/// Reads and decodes an image file (jpg, png, bmp, webp, tiff) into an 8-bit planar image.
///
/// Errors: [`Error::Io`] when the file cannot be read, [`Error::Decode`] when its content is empty,
/// truncated or corrupt; both name the file.
pub fn read_image(path: &Path) -> Result<ImageU8> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.is_empty() {
        return Err(Error::decode(path, "the file is empty"));
    }
    selfsup_augment::image::convert::decode(&bytes, path)
}

/// Reads a WAV file; `mono` downmixes, `target_rate` resamples on load.
pub fn read_audio(path: &Path, mono: bool, target_rate: Option<u32>) -> Result<Audio> {
    if !mono && target_rate.is_none() {
        return selfsup_augment::audio::io::read_wav(path);
    }
    selfsup_augment::audio::io::read_wav_with(
        path,
        &selfsup_augment::audio::io::WavOptions { mono, target_rate },
    )
}

/// Reads a whole file, gunzipping it when it starts with the gzip magic bytes `1f 8b`.
pub fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| {
                Error::decode(path, format!("gzip stream is corrupt or truncated: {e}"))
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}
