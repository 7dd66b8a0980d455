//! Issue 12, the audio pretext tasks through the binary: `--dataset fsdd --method masked_spectrogram`
//! brings the audio preset (75% of the patches masked) and the conv decoder (`decoder = "auto"`),
//! a config file is taken as written, and the new settings' bad values are clear errors naming the
//! field before training starts.

mod common;
use common::{get, resolved, selfsup};

#[test]
fn masked_spectrogram_on_audio_brings_its_preset() {
    let dir = tempfile::tempdir().unwrap();
    let msm = resolved(
        &["--dataset", "fsdd", "--method", "masked_spectrogram"],
        dir.path(),
    );
    assert_eq!(get(&msm, "method.mask_ratio").as_float(), Some(0.75));
    assert_eq!(get(&msm, "method.decoder").as_str(), Some("auto"));
    assert_eq!(
        get(&msm, "method.decoder_widths")
            .as_array()
            .map(|a| a.len()),
        Some(3)
    );
    // A config file is not a preset.
    let cfg = dir.path().join("msm.toml");
    std::fs::write(
        &cfg,
        "[data]\nkind = \"fsdd\"\n[method]\nkind = \"masked_spectrogram\"\n",
    )
    .unwrap();
    let msm = resolved(&["--config", cfg.to_str().unwrap()], dir.path());
    assert_eq!(get(&msm, "method.mask_ratio").as_float(), Some(0.5));
}

#[test]
fn bad_audio_pretext_settings_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (table, field) in [
        (
            "kind = \"temporal_order\"\nvoiced_only = true",
            "temporal_order.voiced_only",
        ),
        (
            "kind = \"temporal_order\"\nassemble_views = true\nvoiced_only = true\nvoiced_threshold = 1.5",
            "temporal_order.voiced_threshold",
        ),
        (
            "kind = \"masked_spectrogram\"\ndecoder_widths = []",
            "method.decoder_widths",
        ),
        (
            "kind = \"cpc\"\nnegatives = \"others\"",
            "expected one of `batch`, `sequence`, `all`",
        ),
    ] {
        let cfg = dir.path().join("bad.toml");
        std::fs::write(&cfg, format!("[data]\nkind = \"fsdd\"\n[method]\n{table}\n")).unwrap();
        let (ok, _out, err) = selfsup(
            &["pretrain", "--config", cfg.to_str().unwrap(), "--print-config"],
            dir.path(),
        );
        assert!(!ok, "{table}: accepted");
        assert!(err.contains(field), "{table}: {err}");
        assert!(!err.contains("panicked") && !err.contains("libtorch"), "{err}");
    }
}
