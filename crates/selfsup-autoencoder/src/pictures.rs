//! Pictures a person looks at: what an auto-encoder makes of a few inputs, written as PNG files (the
//! CLI calls [`write_pictures`] at every evaluation and puts them in the run folder).
//!
//! `views` is a batch as the loader gives it: `views[0]` is the model's input (the corrupted copy for
//! `dae`), the last view the clean sample. The first [`PICTURE_ROWS`] samples are drawn; images go
//! through `selfsup_augment::image::preview::save_grid` (one row per sample, 2-pixel grey gaps, values
//! clamped to `[0, 1]`), `[F,T]` spectrograms through `selfsup_augment::audio::preview` (panels
//! stacked top to bottom, each scaled to its own range).
//!
//! | model | `{tag}_recon.png` (images) / `{tag}_spectrograms.png` (audio) | more |
//! | --- | --- | --- |
//! | `ae`, `sparse_ae` | input, reconstruction | |
//! | `dae` | clean, corrupted, reconstruction | |
//! | `vae` | input, reconstruction (from μ) | `{tag}_samples.png` (prior draws), `{tag}_interpolation.png` (μ of sample 0 → μ of sample 1) |
//! | `mae` | masked input, reconstruction (visible patches pasted), original | |
//!
//! Random draws (the MAE's mask, the VAE's prior samples) come from a keyed host generator
//! (`selfsup_core::Generator` of `seed`), copied into tensors: the pictures of one run are comparable
//! from one evaluation to the next, whatever ran before, and libtorch's global generator is neither
//! reseeded nor advanced (the caller's own draws are not disturbed).

use crate::{Autoencoder, Mae, Vae};
use selfsup_augment::audio::preview::save_spectrograms;
use selfsup_augment::image::preview::save_grid;
use selfsup_core::{Error, ImageF32, Spectrogram};
use selfsup_nn::{Method, Result};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// Samples drawn per picture (rows of the image grids; spectrogram pictures draw half as many).
pub const PICTURE_ROWS: i64 = 8;
/// Points of the VAE's interpolation strip (both ends included).
pub const INTERPOLATION_STEPS: i64 = 10;
/// Gap between grid cells, in pixels.
pub const PAD: usize = 2;

fn host(t: &Tensor) -> Result<Vec<f32>> {
    let t = t
        .to_device(tch::Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous();
    Ok(Vec::<f32>::try_from(t.flatten(0, -1))
        .map_err(|e| Error::Other(format!("pictures: {e}")))?)
}

/// `N×C×H×W` (or `N×H×W`) → one `ImageF32` per sample.
fn images(t: &Tensor) -> Result<Vec<ImageF32>> {
    let t = if t.dim() == 3 {
        t.unsqueeze(1)
    } else {
        t.shallow_clone()
    };
    let s = t.size();
    if s.len() != 4 {
        return Err(Error::shape(format!("pictures need N×C×H×W images, got {s:?}")).into());
    }
    let (c, h, w) = (s[1] as usize, s[2] as usize, s[3] as usize);
    let data = host(&t)?;
    Ok(data
        .chunks(c * h * w)
        .map(|d| ImageF32::new(c, h, w, d.to_vec()))
        .collect::<selfsup_core::Result<_>>()?)
}

/// `N×F×T` → one spectrogram per sample.
fn spectrograms(t: &Tensor) -> Result<Vec<Spectrogram>> {
    let s = t.size();
    if s.len() != 3 {
        return Err(Error::shape(format!("pictures need N×F×T spectrograms, got {s:?}")).into());
    }
    let (f, n) = (s[1] as usize, s[2] as usize);
    let data = host(t)?;
    Ok(data
        .chunks(f * n)
        .map(|d| Spectrogram::new(1, f, n, d.to_vec()))
        .collect::<selfsup_core::Result<_>>()?)
}

/// Writes one picture of `columns` (each `N×shape`): an image grid with one row per sample, or for
/// spectrograms (`N×F×T`) the panels of each sample stacked, sample after sample.
fn write_columns(path: &Path, columns: &[Tensor], audio: bool) -> Result<()> {
    if audio {
        let cols: Vec<Vec<Spectrogram>> =
            columns.iter().map(spectrograms).collect::<Result<_>>()?;
        let n = cols.iter().map(Vec::len).min().unwrap_or(0);
        let stacked: Vec<Spectrogram> = (0..n)
            .flat_map(|i| cols.iter().map(move |c| c[i].clone()))
            .collect();
        save_spectrograms(path, &stacked)?;
    } else {
        let cols: Vec<Vec<ImageF32>> = columns.iter().map(images).collect::<Result<_>>()?;
        let n = cols.iter().map(Vec::len).min().unwrap_or(0);
        let rows: Vec<Vec<ImageF32>> = (0..n)
            .map(|i| cols.iter().map(|c| c[i].clone()).collect())
            .collect();
        save_grid(path, &rows, PAD)?;
    }
    Ok(())
}

/// A `shape[0] × shape[1]` float tensor on `device` of draws from `rng`: standard normal when `normal`,
/// else uniform in `[0, 1)`.
fn host_draws(
    rng: &mut selfsup_core::Generator,
    shape: [i64; 2],
    normal: bool,
    device: tch::Device,
) -> Tensor {
    let n = (shape[0].max(0) * shape[1].max(0)) as usize;
    let v: Vec<f32> = (0..n)
        .map(|_| {
            if normal {
                rng.normal() as f32
            } else {
                rng.uniform_f32(0.0, 1.0)
            }
        })
        .collect();
    Tensor::from_slice(&v)
        .view([shape[0].max(0), shape[1].max(0)])
        .to_device(device)
}

/// Writes the pictures of `method` for the batch `views` into `dir` (created if missing), file names
/// starting with `tag` (e.g. `epoch_003`); returns the paths written. Methods that are not
/// auto-encoders of this crate write nothing (an empty list). See the module documentation.
pub fn write_pictures(
    method: &dyn Method,
    views: &[Tensor],
    dir: &Path,
    tag: &str,
    seed: i64,
) -> Result<Vec<PathBuf>> {
    let Some(any) = method.as_any() else {
        return Ok(Vec::new());
    };
    let (Some(first), Some(last)) = (views.first(), views.last()) else {
        return Err(Error::shape("pictures need at least one view").into());
    };
    let audio = first.dim() == 3;
    let rows = if audio {
        PICTURE_ROWS / 2
    } else {
        PICTURE_ROWS
    };
    let n = first.size()[0].min(rows);
    if n < 1 {
        return Err(Error::shape("pictures need a batch of at least one sample").into());
    }
    let input = first.narrow(0, 0, n);
    let clean = last.narrow(0, 0, n);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let main = dir.join(format!(
        "{tag}_{}.png",
        if audio { "spectrograms" } else { "recon" }
    ));
    let mut written = Vec::new();
    if let Some(m) = any.downcast_ref::<Mae>() {
        let mut rng = selfsup_core::Generator::from_domain("pictures/mae_mask", &[seed as u64]);
        let noise = host_draws(&mut rng, [n, m.num_patches()], false, clean.device());
        let (masked, recon, original) = m.reconstruct_masked_with_noise(&clean, &noise)?;
        write_columns(&main, &[masked, recon, original], audio)?;
        written.push(main);
    } else if let Some(v) = any.downcast_ref::<Vae>() {
        let recon = v.reconstruct(&input)?;
        write_columns(&main, &[input.shallow_clone(), recon], audio)?;
        written.push(main);
        let mut rng = selfsup_core::Generator::from_domain("pictures/vae_prior", &[seed as u64]);
        let z = host_draws(&mut rng, [2 * rows, v.latent_dim()], true, input.device());
        let samples = v.decode(&z)?;
        let path = dir.join(format!("{tag}_samples.png"));
        if audio {
            write_columns(&path, &[samples], true)?;
        } else {
            // Two rows of `rows` draws.
            let grid = images(&samples)?;
            let rows: Vec<Vec<ImageF32>> = grid.chunks(rows as usize).map(<[_]>::to_vec).collect();
            save_grid(&path, &rows, PAD)?;
        }
        written.push(path);
        if n >= 2 {
            let strip = v.interpolate(&input.get(0), &input.get(1), INTERPOLATION_STEPS)?;
            let path = dir.join(format!("{tag}_interpolation.png"));
            if audio {
                write_columns(&path, &[strip], true)?;
            } else {
                save_grid(&path, &[images(&strip)?], PAD)?;
            }
            written.push(path);
        }
    } else if let Some(a) = any.downcast_ref::<Autoencoder>() {
        let recon = a.reconstruct(&input)?;
        let columns = if views.len() > 1 {
            vec![clean, input, recon]
        } else {
            vec![input, recon]
        };
        write_columns(&main, &columns, audio)?;
        written.push(main);
    }
    Ok(written)
}
