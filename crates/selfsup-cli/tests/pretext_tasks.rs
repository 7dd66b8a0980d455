//! Issue 12 through the `selfsup` binary: `pretrain --dataset fsdd --method cpc` runs and logs its
//! pretext accuracy; `preview --method <task>` writes a PNG of what the model is asked to solve with
//! one caption per row; bad input (images too small for the grid, clips too short for the segments
//! or the prediction steps, an unknown task) fails before training, naming the field and the limit.

mod common;
use common::selfsup;

#[test]
fn cpc_pretrains_on_fsdd() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = selfsup(
        &[
            "pretrain",
            "--dataset",
            "fsdd",
            "--method",
            "cpc",
            "--max-samples",
            "96",
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--out",
            "cpc",
        ],
        dir.path(),
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("after pretraining"), "{out}");
    let metrics = std::fs::read_to_string(dir.path().join("cpc/metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"pretext_acc\""), "{metrics}");
}

#[test]
fn preview_shows_the_pretext_task() {
    let dir = tempfile::tempdir().unwrap();
    for (args, caption) in [
        (&["--method", "rotation"][..], "rotation k = "),
        (&["--method", "jigsaw"][..], "jigsaw permutation #"),
        (
            &["--dataset", "fsdd", "--method", "masked_spectrogram"][..],
            "masked spectrogram",
        ),
        (
            &["--dataset", "fsdd", "--method", "temporal_order"][..],
            "temporal order #",
        ),
    ] {
        let png = dir.path().join("p.png");
        let _ = std::fs::remove_file(&png);
        let mut all = vec!["preview", "--n", "3", "--out", "p.png"];
        all.extend_from_slice(args);
        let (ok, out, err) = selfsup(&all, dir.path());
        assert!(ok, "{args:?}\nstdout: {out}\nstderr: {err}");
        assert_eq!(out.matches(caption).count(), 3, "{args:?}: {out}");
        let img = image::open(&png).unwrap();
        assert!(
            img.width() > 2 * img.height() / 3,
            "{args:?}: a row of images"
        );
    }
    // The same data-kind check as pretraining.
    let (ok, _, err) = selfsup(
        &["preview", "--dataset", "fsdd", "--method", "rotation"],
        dir.path(),
    );
    assert!(
        !ok && err.contains("rotation") && err.contains("images"),
        "{err}"
    );
}

#[test]
fn bad_pretext_input_fails_before_training_naming_the_field_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let cases: Vec<(Vec<String>, &[&str])> = vec![
        // Unknown task name: the allowed kinds are listed.
        (
            vec!["--method".into(), "jigsawz".into()],
            &["method", "relative_position", "cpc"],
        ),
        // MNIST's 28x28 digits are too small for a 3x3 jigsaw with gap 0.9 (1-px tiles).
        (
            vec![
                "--config".into(),
                write("jig.toml", "[method]\nkind = \"jigsaw\"\ngap = 0.9\n"),
            ],
            &["jigsaw.grid", "28x28", ">= 48"],
        ),
        // 0.05 s clips give 6 log-mel frames: too short for 3 segments of 3 frames.
        (
            vec![
                "--dataset".into(),
                "fsdd".into(),
                "--config".into(),
                write(
                    "to.toml",
                    "[augment]\nrecipe = \"contrastive\"\nclip_seconds = 0.05\n[method]\nkind = \"temporal_order\"\nsegment_frames = 3\n",
                ),
            ],
            &["temporal_order.segments", "at least 9 frames"],
        ),
        // ... and for CPC's 4 prediction steps (needs 9 frames).
        (
            vec![
                "--dataset".into(),
                "fsdd".into(),
                "--config".into(),
                write("cpc.toml", "[augment]\nrecipe = \"contrastive\"\nclip_seconds = 0.05\n[method]\nkind = \"cpc\"\n"),
            ],
            &["method.prediction_steps", "at least 9 frames"],
        ),
    ];
    for (i, (args, needles)) in cases.iter().enumerate() {
        let out_dir = format!("bad{i}");
        let mut all = vec![
            "pretrain",
            "--epochs",
            "1",
            "--max-samples",
            "64",
            "--out",
            &out_dir,
        ];
        all.extend(args.iter().map(String::as_str));
        let (ok, out, err) = selfsup(&all, dir.path());
        assert!(!ok, "{args:?} was accepted: {out}");
        for n in *needles {
            assert!(err.contains(n), "{args:?}: error lacks `{n}`: {err}");
        }
        assert!(!out.contains("before pretraining"), "{args:?}: {out}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
