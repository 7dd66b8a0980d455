//! Issue 11 through the binary: `--method ae|dae|sparse_ae|vae|mae` brings its preset (flags still
//! override it), an auto-encoder run writes its pictures to the run folder at every evaluation, and
//! wrong geometry (a patch size that does not divide the image, a VAE whose MLP expects another sample
//! size) is a config error naming the field before anything is evaluated or trained.

use std::path::Path;

mod common;
use common::{get, resolved, selfsup};

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[12..16], b"IHDR", "{}", path.display());
    (
        u32::from_be_bytes([b[16], b[17], b[18], b[19]]),
        u32::from_be_bytes([b[20], b[21], b[22], b[23]]),
    )
}

#[test]
fn autoencoder_methods_bring_their_presets_and_flags_override_them() {
    let dir = tempfile::tempdir().unwrap();
    let mae = resolved(&["--method", "mae"], dir.path());
    assert_eq!(get(&mae, "method.norm_pix_loss").as_bool(), Some(true));
    assert_eq!(get(&mae, "train.optimizer.kind").as_str(), Some("adamw"));
    assert_eq!(
        get(&mae, "train.optimizer.weight_decay").as_float(),
        Some(0.05)
    );
    assert_eq!(
        get(&mae, "train.optimizer.betas").as_array().unwrap()[1].as_float(),
        Some(0.95)
    );
    assert!(
        get(&mae, "train.schedule.warmup_epochs")
            .as_float()
            .unwrap()
            > 0.0
    );

    let vae = resolved(
        &["--method", "vae", "--lr", "0.01", "--epochs", "3"],
        dir.path(),
    );
    assert_eq!(get(&vae, "backbone.kind").as_str(), Some("mlp"));
    assert_eq!(get(&vae, "backbone.input_dim").as_integer(), Some(784));
    assert_eq!(get(&vae, "backbone.output_dim").as_integer(), Some(400));
    assert_eq!(
        get(&vae, "train.optimizer.lr").as_float(),
        Some(0.01),
        "--lr overrides"
    );
    assert_eq!(
        get(&vae, "train.epochs").as_integer(),
        Some(3),
        "--epochs overrides"
    );

    let ae = resolved(&["--method", "ae", "--backbone", "conv_net"], dir.path());
    assert_eq!(
        get(&ae, "backbone.kind").as_str(),
        Some("conv_net"),
        "--backbone overrides"
    );

    assert_eq!(get(&mae, "method.patch_size").as_integer(), Some(7));
    assert_eq!(get(&mae, "method.pool").as_str(), Some("mean"));
    // 7 divides only the 28-px digits: other images keep the default 4-px patches.
    let cifar = resolved(&["--dataset", "cifar", "--method", "mae"], dir.path());
    assert_eq!(get(&cifar, "method.patch_size").as_integer(), Some(4));

    // Audio-MAE: full-band patches (all 40 mel bands) of 3 frames.
    let audio = resolved(&["--dataset", "fsdd", "--method", "mae"], dir.path());
    assert_eq!(get(&audio, "method.mask_ratio").as_float(), Some(0.75));
    assert_eq!(get(&audio, "method.patch_size").as_integer(), Some(40));
    assert_eq!(get(&audio, "method.patch_width").as_integer(), Some(3));
    assert_eq!(get(&audio, "method.norm_pix_loss").as_bool(), Some(true));
    let audio_vae = resolved(&["--dataset", "fsdd", "--method", "vae"], dir.path());
    assert_eq!(
        get(&audio_vae, "backbone.input_dim").as_integer(),
        Some(40 * 51)
    );
    assert_eq!(get(&audio_vae, "method.recon_loss").as_str(), Some("mse"));

    // Other families are untouched by the presets.
    let simclr = resolved(&["--method", "simclr"], dir.path());
    assert_eq!(get(&simclr, "backbone.kind").as_str(), Some("conv_net"));
}

#[test]
fn autoencoder_runs_write_pictures_to_the_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        "pretrain",
        "--max-samples",
        "80",
        "--epochs",
        "1",
        "--batch-size",
        "16",
    ];
    // MNIST digits, a denoising AE: clean | corrupted | reconstruction, 8 rows of 28×28 cells.
    let mut args = base.to_vec();
    args.extend_from_slice(&["--method", "dae", "--out", "img"]);
    let (ok, out, err) = selfsup(&args, dir.path());
    assert!(ok, "stdout: {out}\nstderr: {err}");
    let pics = dir.path().join("img").join("pictures");
    let cell = |n: u32| n * 28 + (n + 1) * 2;
    assert_eq!(png_size(&pics.join("final_recon.png")), (cell(3), cell(8)));
    let per_epoch: Vec<_> = std::fs::read_dir(&pics)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("epoch_") && n.ends_with("_recon.png"))
        .collect();
    assert_eq!(
        per_epoch.len(),
        1,
        "one evaluation during training: {per_epoch:?}"
    );

    // FSDD, a VAE: spectrogram pairs of 4 clips, prior samples and an interpolation strip.
    let mut args = base.to_vec();
    args.extend_from_slice(&["--dataset", "fsdd", "--method", "vae", "--out", "audio"]);
    let (ok, out, err) = selfsup(&args, dir.path());
    assert!(ok, "stdout: {out}\nstderr: {err}");
    let pics = dir.path().join("audio").join("pictures");
    // 8 panels of 40 mel bands with 2-pixel gaps, 51 frames wide.
    assert_eq!(
        png_size(&pics.join("final_spectrograms.png")),
        (51, 8 * 40 + 7 * 2)
    );
    assert!(pics.join("final_samples.png").exists());
    assert!(pics.join("final_interpolation.png").exists());
}

#[test]
fn wrong_geometry_is_a_config_error_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // 28 is not divisible by 5.
        (
            "[method]\nkind = \"mae\"\npatch_size = 5\n",
            "method.patch_size",
        ),
        // A VAE whose MLP reads 100 values, on 784-pixel digits.
        (
            "[method]\nkind = \"vae\"\n[backbone]\nkind = \"mlp\"\ninput_dim = 100\n",
            "backbone.input_dim",
        ),
    ];
    for (i, (text, field)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&p, format!("out_dir = \"bad{i}\"\n{text}")).unwrap();
        let (ok, out, err) = selfsup(&["pretrain", "--config", p.to_str().unwrap()], dir.path());
        assert!(!ok, "{text} was accepted");
        assert!(
            err.contains(field),
            "{text}: error does not name `{field}`: {err}"
        );
        assert!(
            !out.contains("before pretraining"),
            "{text}: evaluated first: {out}"
        );
        assert!(!dir
            .path()
            .join(format!("bad{i}"))
            .join("checkpoints")
            .exists());
    }
    // The default 4-pixel MAE on FSDD's 51 log-mel frames names the patch width.
    let p = dir.path().join("bad_audio.toml");
    std::fs::write(
        &p,
        "out_dir = \"bad_audio\"\n[data]\nkind = \"fsdd\"\n[augment]\nrecipe = \"contrastive\"\n[method]\nkind = \"mae\"\n",
    )
    .unwrap();
    let (ok, _, err) = selfsup(&["pretrain", "--config", p.to_str().unwrap()], dir.path());
    assert!(
        !ok && err.contains("method.patch_size") && err.contains("51"),
        "{err}"
    );
}
