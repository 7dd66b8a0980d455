//! Previews of what a pretext task asks the model to solve: one PNG row per sample (through
//! `selfsup-augment`'s preview grid) and one caption per row naming the target.
//!
//! Rows: the input, then the views (rotated images; shuffled tiles followed by the shuffled puzzle
//! assembled; centre and neighbour patch; `L`; the masked image or spectrogram; shuffled segments),
//! then for dense tasks the answer (the colours put back from the `ab` target, the weight plane).
//! Standardised tiles and spectrograms are rescaled to `[0, 1]` per image for display.

use crate::colorization::Colorization;
use crate::config::{pretext_generator, PretextConfig};
use crate::{jigsaw, Target};
use selfsup_core::{Error, ImageF32, Result, Sample, SampleKey};
use std::path::Path;

/// One preview row: images left to right and what the model must answer.
#[derive(Clone, Debug, PartialEq)]
pub struct PreviewRow {
    /// The input, the views, and (dense tasks) the target.
    pub images: Vec<ImageF32>,
    /// The target in words, e.g. `rotation k = 1 (90° counter-clockwise)`.
    pub caption: String,
}

fn rescale(img: &ImageF32) -> ImageF32 {
    let (lo, hi) = img
        .data()
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut out = img.clone();
    out.data_mut()
        .iter_mut()
        .for_each(|v| *v = (*v - lo) / span);
    out
}

fn as_display(s: &Sample) -> Result<ImageF32> {
    match s {
        Sample::Image(i) => Ok(i.clone()),
        Sample::ImageU8(i) => Ok(i.to_f32()),
        Sample::Spectrogram(sp) => Ok(rescale(&sp.values)),
        other => Err(Error::shape(format!(
            "cannot preview {}",
            crate::sample_kind(other)
        ))),
    }
}

fn last_plane(img: &ImageF32) -> Result<ImageF32> {
    let (c, h, w) = img.dims();
    ImageF32::new(1, h, w, img.plane(c - 1).to_vec())
}

/// The preview rows of `samples` for `cfg`, drawn with the keys `(seed, epoch 0, index i)`.
pub fn preview_rows(cfg: &PretextConfig, samples: &[Sample], seed: u64) -> Result<Vec<PreviewRow>> {
    let g = pretext_generator(cfg)?;
    let perms: Vec<Vec<usize>> = match cfg {
        PretextConfig::Jigsaw(c) => c.build()?.set().perms.clone(),
        PretextConfig::TemporalOrder(c) => c.build()?.set().perms.clone(),
        _ => Vec::new(),
    };
    let mut rows = Vec::with_capacity(samples.len());
    for (i, s) in samples.iter().enumerate() {
        let (views, target) = g.generate_keyed(s, SampleKey::new(seed, 0, i as u64))?;
        let mut images = vec![as_display(s)?];
        let shown: Vec<ImageF32> = views.iter().map(as_display).collect::<Result<_>>()?;
        let caption;
        match (cfg, &target) {
            (PretextConfig::Rotation(_), Target::Class(k)) => {
                caption = format!("rotation k = {k} ({}° counter-clockwise)", 90 * k);
                images.extend(shown);
            }
            (PretextConfig::Rotation(_), _) => {
                caption = "rotation: all four, k = 0, 1, 2, 3".into();
                images.extend(shown);
            }
            (PretextConfig::Jigsaw(c), Target::Class(k)) => {
                let perm = &perms[*k as usize];
                caption = format!("jigsaw permutation #{k} = {perm:?}");
                if c.assemble_views {
                    // One view already: the shuffled tiles on the input's canvas.
                    images.extend(shown.iter().map(rescale));
                } else {
                    let tiles: Vec<ImageF32> = shown.iter().map(rescale).collect();
                    images.push(jigsaw::assemble(&tiles, c.grid)?);
                    images.extend(tiles);
                }
            }
            (PretextConfig::RelativePosition(_), Target::Class(k)) => {
                const WHERE: [&str; 8] = [
                    "top-left",
                    "top",
                    "top-right",
                    "left",
                    "right",
                    "bottom-left",
                    "bottom",
                    "bottom-right",
                ];
                caption = format!(
                    "relative position {k}: the second patch is {} of the centre",
                    WHERE[*k as usize]
                );
                images.extend(shown);
            }
            (PretextConfig::Colorization(_), Target::Dense(Sample::Image(_))) => {
                caption = "colorization: L shown, ab to predict (right: L + true ab)".into();
                images.push(shown[0].clone());
                let (_, ab) = Colorization::split(&crate::as_image(s, "colorization")?)?;
                images.push(Colorization::reconstruct(&shown[0], &ab)?);
            }
            (PretextConfig::Inpainting(_), Target::Dense(Sample::Image(t))) => {
                caption = "inpainting: masked input, loss weights".into();
                images.extend(shown);
                images.push(rescale(&last_plane(t)?));
            }
            (PretextConfig::MaskedSpectrogram(_), Target::Dense(Sample::Spectrogram(t))) => {
                caption = "masked spectrogram: masked input, mask".into();
                images.extend(shown);
                images.push(last_plane(&t.values)?);
            }
            (PretextConfig::TemporalOrder(_), Target::Class(k)) => {
                caption = format!("temporal order #{k} = {:?}", perms[*k as usize]);
                images.extend(shown);
            }
            (PretextConfig::Cpc(c), _) => {
                let among = match c.negatives {
                    crate::cpc::CpcNegatives::Batch => "the batch's at that time",
                    crate::cpc::CpcNegatives::Sequence => "the clip's other times",
                    crate::cpc::CpcNegatives::All => "every latent of the batch",
                };
                caption = format!(
                    "cpc: from the context up to each time, pick the true latent 1..{} steps ahead among {among}",
                    c.prediction_steps
                );
                images.extend(shown);
            }
            _ => {
                caption = format!("{} target {target:?}", cfg.kind());
                images.extend(shown);
            }
        }
        rows.push(PreviewRow { images, caption });
    }
    Ok(rows)
}

/// Writes the preview grid of [`preview_rows`] to `path` (PNG) and returns the row captions.
pub fn save_preview(
    path: &Path,
    cfg: &PretextConfig,
    samples: &[Sample],
    seed: u64,
) -> Result<Vec<String>> {
    let rows = preview_rows(cfg, samples, seed)?;
    let grid: Vec<Vec<ImageF32>> = rows.iter().map(|r| r.images.clone()).collect();
    selfsup_augment::image::save_grid(path, &grid, 2)?;
    Ok(rows.into_iter().map(|r| r.caption).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_rows_show_input_views_and_captions() {
        let img = Sample::Image(
            ImageF32::new(1, 12, 12, (0..144).map(|v| v as f32 / 143.0).collect()).unwrap(),
        );
        let rows = preview_rows(
            &PretextConfig::from_kind("rotation").unwrap(),
            std::slice::from_ref(&img),
            0,
        )
        .unwrap();
        assert_eq!(rows[0].images.len(), 2);
        assert!(rows[0].caption.starts_with("rotation k = "));
        let rows = preview_rows(&PretextConfig::from_kind("jigsaw").unwrap(), &[img], 0).unwrap();
        assert_eq!(rows[0].images.len(), 11); // input, assembled puzzle, 9 tiles
        assert!(rows[0].caption.starts_with("jigsaw permutation #"));
    }
}
