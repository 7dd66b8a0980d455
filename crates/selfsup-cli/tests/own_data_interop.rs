//! Issue 17's leftovers through the `selfsup` binary: `export --format torchscript` (loaded back
//! with `tch::CModule::load`, compared with `selfsup embed`), the TensorBoard event file of a run
//! (decoded, compared with `metrics.jsonl`), `embed` on MNIST and FSDD runs (not only folders), and
//! the auto-encoders and pretext tasks on folders of photos of mixed sizes. Each test reproduces a
//! failure of the CLI before the fix.

use std::path::Path;

mod common;
use common::{selfsup, write_config, TINY_IMAGES};

/// The tiny image run of `common::TINY_IMAGES` with every step logged.
fn tiny_images() -> String {
    TINY_IMAGES.replace("[train]\n", "[train]\nlog_every = 1\n")
}

/// The rows of `selfsup embed`'s CSV: (file, label, features).
fn read_embed_csv(path: &Path) -> Vec<(String, String, Vec<f32>)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[3..].iter().map(|v| v.parse().unwrap()).collect(),
            )
        })
        .collect()
}

#[test]
fn torchscript_export_loads_back_and_matches_embed_and_tensorboard_holds_the_metrics() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("photos");
    common::images(&root.join("a"), 'a', 6, (16, 16), true);
    common::images(&root.join("b"), 'b', 6, (16, 16), true);
    let cfg = write_config(t.path(), &tiny_images());
    let (ok, out, err) = selfsup(
        &[
            "pretrain", "--config", &cfg, "--data", "photos", "--out", "run",
        ],
        t.path(),
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    // Before: `--format` was not a flag of `selfsup export`.
    let (ok, out, err) = selfsup(
        &["export", "--run", "run", "--format", "torchscript"],
        t.path(),
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("encoder.pt") && out.contains("N×3×16×16"),
        "{out}"
    );
    let (ok, _, err) = selfsup(
        &[
            "embed",
            "--run",
            "run",
            "--out",
            "e.csv",
            "--batch-size",
            "5",
        ],
        t.path(),
    );
    assert!(ok, "{err}");
    let rows = read_embed_csv(&t.path().join("e.csv"));
    assert_eq!(rows.len(), 12);
    // The TorchScript module on the decoded files (16 px: the evaluation transform only scales to
    // [0, 1]) gives embed's features.
    let module = tch::CModule::load(t.path().join("encoder.pt")).unwrap();
    let mut pixels = Vec::new();
    for (file, _, _) in &rows {
        let img = image::open(root.join(file)).unwrap().to_rgb8();
        for c in 0..3 {
            for p in img.pixels() {
                pixels.push(p[c] as f32 / 255.0);
            }
        }
    }
    let x = tch::Tensor::from_slice(&pixels).reshape([12, 3, 16, 16]);
    let got = tch::no_grad(|| module.forward_ts(&[x])).unwrap();
    assert_eq!(got.size(), [12, 8]);
    let got = Vec::<f32>::try_from(got.reshape([-1])).unwrap();
    let want: Vec<f32> = rows.iter().flat_map(|r| r.2.clone()).collect();
    let diff = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-5, "TorchScript vs embed: max difference {diff}");
    assert!(want[..8] != want[88..], "the features are not constant");
    // An unknown format is refused naming the allowed ones.
    let (ok, _, err) = selfsup(&["export", "--run", "run", "--format", "onnx"], t.path());
    assert!(
        !ok && err.contains("--format") && err.contains("torchscript"),
        "{err}"
    );
    // TensorBoard: before, the run folder had no event file. Now every metrics.jsonl record is in
    // it, as scalars tagged `<kind>/<name>` at the record's step.
    let events =
        selfsup_train::tensorboard::read_events(&t.path().join("run/events.out.tfevents.selfsup"))
            .unwrap();
    assert_eq!(events[0].file_version.as_deref(), Some("brain.Event:2"));
    let rows = selfsup_train::metrics::read_jsonl(&t.path().join("run/metrics.jsonl")).unwrap();
    let mut want: Vec<(i64, String, f32)> = rows
        .iter()
        .flat_map(|r| {
            r.values
                .iter()
                .map(|(k, v)| (r.step as i64, format!("{}/{k}", r.kind), *v as f32))
        })
        .collect();
    let mut got: Vec<(i64, String, f32)> = events
        .iter()
        .flat_map(|e| e.scalars.iter().map(|(k, v)| (e.step, k.clone(), *v)))
        .collect();
    want.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    got.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    assert_eq!(got, want);
    for tag in [
        "train/loss",
        "train/lr",
        "eval/knn_acc",
        "eval/linear_probe_acc",
    ] {
        assert!(got.iter().any(|g| g.1 == tag), "no {tag} in {got:?}");
    }
}

#[test]
fn embed_works_on_mnist_runs() {
    let t = tempfile::tempdir().unwrap();
    let cfg = write_config(
        t.path(),
        r#"
[data]
batch_size = 32
max_samples = 120
[backbone]
kind = "conv_net"
widths = [4, 8]
[method]
kind = "simclr"
hidden_dim = 16
output_dim = 8
[train]
epochs = 1
progress = "off"
[eval]
before = false
[eval.knn]
k = 3
[eval.probe]
epochs = 2
"#,
    );
    let (ok, out, err) = selfsup(&["pretrain", "--config", &cfg, "--out", "run"], t.path());
    assert!(ok, "stdout: {out}\nstderr: {err}");
    // Before: "`selfsup embed` reads image or audio folders, and this run's data is mnist-csv".
    let (ok, out, err) = selfsup(&["embed", "--run", "run", "--out", "all.csv"], t.path());
    assert!(ok, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("120 files × 8 features"), "{out}");
    let all = read_embed_csv(&t.path().join("all.csv"));
    // The training split (about 96 of 120 at val_fraction 0.2, stratified), then the held-out split.
    assert_eq!(all.len(), 120);
    assert_eq!(all[0].0, "train/0");
    let n_train = all.iter().take_while(|r| r.0.starts_with("train/")).count();
    assert!((88..=104).contains(&n_train), "{n_train}");
    assert_eq!(all[n_train].0, "val/0");
    assert!(all[n_train..].iter().all(|r| r.0.starts_with("val/")));
    assert!(all.iter().all(|r| r.1.parse::<u8>().is_ok_and(|l| l < 10)));
    let (ok, _, err) = selfsup(
        &[
            "embed", "--run", "run", "--out", "val.csv", "--split", "val",
        ],
        t.path(),
    );
    assert!(ok, "{err}");
    let val = read_embed_csv(&t.path().join("val.csv"));
    assert_eq!(val[..], all[n_train..]);
    let (ok, _, err) = selfsup(
        &["embed", "--run", "run", "--out", "x.csv", "--split", "test"],
        t.path(),
    );
    assert!(
        !ok && err.contains("--split") && err.contains("train, val"),
        "{err}"
    );
}

#[test]
fn embed_works_on_fsdd_runs() {
    // A small FSDD folder: digits 0–2 of one speaker, takes 0–7 (takes 0–4 are FSDD's test split).
    let t = tempfile::tempdir().unwrap();
    let rec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fsdd/recordings");
    let dst = t.path().join("fsdd");
    std::fs::create_dir_all(&dst).unwrap();
    for d in 0..3 {
        for take in 0..8 {
            let f = format!("{d}_jackson_{take}.wav");
            std::fs::copy(rec.join(&f), dst.join(&f)).unwrap();
        }
    }
    let cfg = write_config(
        t.path(),
        r#"
[data]
kind = "fsdd"
batch_size = 4
[augment]
recipe = "contrastive"
[backbone]
kind = "audio_cnn"
widths = [4, 8]
[method]
kind = "simclr"
hidden_dim = 16
output_dim = 8
[train]
epochs = 1
progress = "off"
[eval]
before = false
[eval.knn]
k = 3
[eval.probe]
epochs = 2
"#,
    );
    let (ok, out, err) = selfsup(
        &[
            "pretrain", "--config", &cfg, "--data", "fsdd", "--out", "run",
        ],
        t.path(),
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    let (ok, out, err) = selfsup(&["embed", "--run", "run", "--out", "e.csv"], t.path());
    assert!(ok, "stdout: {out}\nstderr: {err}");
    let rows = read_embed_csv(&t.path().join("e.csv"));
    assert_eq!(rows.len(), 24);
    // Rows are named by split and file; the label is the digit the file name says.
    let (train, val): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.0.starts_with("train/"));
    assert_eq!((train.len(), val.len()), (9, 15));
    for (file, label, feats) in &rows {
        let name = file.rsplit('/').next().unwrap();
        assert_eq!(&name[..1], label, "{file}");
        assert_eq!(feats.len(), 8);
    }
    assert!(val.iter().all(|r| {
        let take: u32 =
            r.0.trim_end_matches(".wav")
                .rsplit('_')
                .next()
                .unwrap()
                .parse()
                .unwrap();
        take < 5
    }));
}

#[test]
fn auto_encoders_and_pretext_tasks_train_on_photos_of_mixed_sizes() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("photos");
    common::images(&root.join("a"), 'a', 6, (24, 18), true);
    common::images(&root.join("b"), 'b', 6, (20, 30), true);
    // Before: "all views in a batch need one shape" (the images went in unresized).
    for method in ["ae", "dae", "rotation"] {
        let out_dir = format!("run-{method}");
        let (ok, out, err) = selfsup(
            &[
                "pretrain",
                "--dataset",
                "image-folder",
                "--data",
                "photos",
                "--method",
                method,
                "--backbone",
                "conv_net",
                "--image-size",
                "16",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--out",
                &out_dir,
            ],
            t.path(),
        );
        assert!(ok, "{method}\nstdout: {out}\nstderr: {err}");
        assert!(out.contains("after pretraining"), "{method}: {out}");
        let saved = std::fs::read_to_string(t.path().join(&out_dir).join("config.toml")).unwrap();
        assert!(saved.contains("image_size = 16"), "{saved}");
        // The encoder was built for the run's size, not for the first photo's.
        let (_, meta) = selfsup_train::checkpoint::load_safetensors(
            &t.path().join(&out_dir).join("encoder.safetensors"),
        )
        .unwrap();
        assert_eq!(meta["input_shape"], "[3,16,16]", "{method}");
    }
}

#[test]
fn embed_works_on_cifar_runs() {
    // No CIFAR is vendored: a CIFAR-10 folder in the binary format (label byte, then 3×32×32 planes),
    // 4 images per training batch file and 6 test images; class 0 is bright on top, class 1 below.
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("cifar");
    std::fs::create_dir_all(&dir).unwrap();
    let record = |label: u8, i: usize| -> Vec<u8> {
        let mut r = vec![label];
        for c in 0..3 {
            for y in 0..32 {
                for x in 0..32 {
                    let on = (y < 16) == (label == 0);
                    r.push(if on { 200 } else { 20 } + ((x + 3 * c + i) % 17) as u8);
                }
            }
        }
        r
    };
    for b in 1..=5 {
        let bytes: Vec<u8> = (0..4)
            .flat_map(|i| record((i % 2) as u8, b * 10 + i))
            .collect();
        std::fs::write(dir.join(format!("data_batch_{b}.bin")), bytes).unwrap();
    }
    let test: Vec<u8> = (0..6)
        .flat_map(|i| record((i % 2) as u8, 100 + i))
        .collect();
    std::fs::write(dir.join("test_batch.bin"), test).unwrap();
    let cfg = write_config(
        t.path(),
        r#"
[data]
kind = "cifar"
batch_size = 4
[augment]
recipe = "simclr"
image_size = 32
[backbone]
kind = "conv_net"
widths = [4, 8]
[method]
kind = "simclr"
hidden_dim = 16
output_dim = 8
[train]
epochs = 1
progress = "off"
[eval]
before = false
[eval.knn]
k = 3
[eval.probe]
epochs = 2
"#,
    );
    let (ok, out, err) = selfsup(
        &[
            "pretrain", "--config", &cfg, "--data", "cifar", "--out", "run",
        ],
        t.path(),
    );
    assert!(ok, "stdout: {out}\nstderr: {err}");
    let (ok, out, err) = selfsup(&["embed", "--run", "run", "--out", "e.csv"], t.path());
    assert!(ok, "stdout: {out}\nstderr: {err}");
    let rows = read_embed_csv(&t.path().join("e.csv"));
    // The 20 training images, then the 6 test images, each with its label.
    assert_eq!(rows.len(), 26);
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("train/0", "0"));
    assert_eq!(
        (rows[19].0.as_str(), rows[19].1.as_str()),
        ("train/19", "1")
    );
    assert_eq!((rows[20].0.as_str(), rows[25].1.as_str()), ("val/0", "1"));
}
