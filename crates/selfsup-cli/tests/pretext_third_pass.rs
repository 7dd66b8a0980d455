//! Issue 12, third pass, through the binary: `--dataset fsdd --method cpc` trains the run's
//! `audio_cnn` as CPC's frame encoder (`encoder = "backbone"`, evaluated on the backbone's pooled
//! feature, 2 steps ahead, the clip's other times as negatives), a backbone without a feature map keeps CPC's own encoder,
//! `--method temporal_order` on audio gets its fifth-pass preset (two segments), and the new
//! settings' bad values (`frame_norm`, `boundary_gap`, `encoder`) are clear errors naming the field
//! before training starts.

mod common;
use common::{get, resolved, selfsup};

#[test]
fn cpc_on_audio_trains_the_backbone() {
    let dir = tempfile::tempdir().unwrap();
    let cpc = resolved(&["--dataset", "fsdd", "--method", "cpc"], dir.path());
    assert_eq!(get(&cpc, "method.encoder").as_str(), Some("backbone"));
    assert_eq!(get(&cpc, "method.embedding").as_str(), Some("latent"));
    assert_eq!(get(&cpc, "method.prediction_steps").as_integer(), Some(2));
    assert_eq!(get(&cpc, "method.negatives").as_str(), Some("sequence"));
    assert_eq!(get(&cpc, "backbone.kind").as_str(), Some("audio_cnn"));
    // A waveform backbone has no feature map: CPC keeps its own encoder and defaults.
    let own = resolved(
        &[
            "--dataset",
            "fsdd",
            "--method",
            "cpc",
            "--backbone",
            "conv1d",
        ],
        dir.path(),
    );
    assert_eq!(get(&own, "method.encoder").as_str(), Some("own"));
    assert_eq!(get(&own, "method.prediction_steps").as_integer(), Some(4));
    // Temporal order's audio preset (fifth pass): the voiced span's two halves, swapped or not, in
    // one assembled view with the boundary blanked, no per-frame normalisation, lr 5e-4, 5 epochs.
    let to = resolved(
        &["--dataset", "fsdd", "--method", "temporal_order"],
        dir.path(),
    );
    assert_eq!(get(&to, "method.segments").as_integer(), Some(2));
    assert_eq!(get(&to, "method.n_permutations").as_integer(), Some(2));
    assert_eq!(get(&to, "method.assemble_views").as_bool(), Some(true));
    assert_eq!(get(&to, "method.voiced_only").as_bool(), Some(true));
    assert_eq!(get(&to, "method.frame_norm").as_str(), Some("none"));
    assert_eq!(get(&to, "method.boundary_gap").as_integer(), Some(4));
    assert_eq!(get(&to, "train.optimizer.lr").as_float(), Some(5e-4));
    assert_eq!(get(&to, "train.epochs").as_integer(), Some(5));
    // A config file is taken as written: the generator's own defaults.
    let cfg = dir.path().join("to.toml");
    std::fs::write(
        &cfg,
        "[data]\nkind = \"fsdd\"\n[method]\nkind = \"temporal_order\"\n",
    )
    .unwrap();
    let own = resolved(&["--config", cfg.to_str().unwrap()], dir.path());
    assert_eq!(get(&own, "method.segments").as_integer(), Some(3));
    assert_eq!(get(&own, "method.boundary_gap").as_integer(), Some(0));
}

#[test]
fn bad_third_pass_settings_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (table, needles) in [
        (
            "[method]\nkind = \"temporal_order\"\nboundary_gap = 2",
            &["temporal_order.boundary_gap", "assemble_views"][..],
        ),
        (
            "[method]\nkind = \"temporal_order\"\nassemble_views = true\nframe_norm = \"loudness\"",
            &["expected one of `none`, `mean`, `standardize`"][..],
        ),
        (
            "[method]\nkind = \"cpc\"\nencoder = \"gru\"",
            &["unknown variant `gru`, expected `own` or `backbone`"][..],
        ),
        (
            "[method]\nkind = \"cpc\"\nencoder = \"backbone\"\nprediction_steps = 6\n[backbone]\nkind = \"audio_cnn\"\nwidths = [32, 64, 128]",
            &["method.prediction_steps", "6 time steps"][..],
        ),
    ] {
        let cfg = dir.path().join("bad.toml");
        std::fs::write(&cfg, format!("[data]\nkind = \"fsdd\"\n{table}\n")).unwrap();
        let (ok, out, err) = selfsup(
            &[
                "pretrain",
                "--config",
                cfg.to_str().unwrap(),
                "--epochs",
                "1",
                "--max-samples",
                "64",
                "--out",
                "bad",
            ],
            dir.path(),
        );
        assert!(!ok, "{table}: accepted");
        for n in needles {
            assert!(err.contains(n), "{table}: error lacks `{n}`: {err}");
        }
        assert!(!out.contains("before pretraining"), "{table}: {out}");
        assert!(!err.contains("panicked") && !err.contains("libtorch"), "{err}");
    }
}
