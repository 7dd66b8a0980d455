//! Datasets on the vendored data (checked against `fixtures/reference.json`, written by
//! `fixtures/make_fixtures.py` with Python's own CSV, gzip and WAV readers) and on generated files
//! whose expected content is known by construction.

mod common;

use common::*;
use selfsup_core::Sample;
use selfsup_data::text::{TextConfig, TextMode, MASK, PAD};
use selfsup_data::{
    train_val_split, AudioFolder, Cached, Cifar, CifarKind, Dataset, Fsdd, FsddSplit, ImageFolder,
    InMemory, MnistCsv, MnistIdx, TextTokens, TokenizerKind,
};
use std::io::Write;
use std::sync::Arc;

fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ints(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

fn image_u8(s: Sample) -> selfsup_core::ImageU8 {
    match s {
        Sample::ImageU8(i) => i,
        other => panic!("expected an 8-bit image, got {other:?}"),
    }
}

#[test]
fn mnist_csv_matches_the_python_reference() {
    let r = &reference()["mnist5k"];
    let ds = MnistCsv::new(repo_root().join("data/mnist5k/mnist_5k.csv.gz")).unwrap();
    assert_eq!(ds.len() as i64, r["rows"].as_i64().unwrap());
    let mut counts = vec![0i64; 10];
    for i in 0..ds.len() {
        counts[ds.label(i).unwrap().unwrap() as usize] += 1;
    }
    assert_eq!(counts, ints(&r["label_counts"]));
    let picks = ints(&r["picks"]);
    let labels = ints(&r["pick_labels"]);
    let sums = ints(&r["pick_pixel_sums"]);
    for (k, &p) in picks.iter().enumerate() {
        let item = ds.get(p as usize).unwrap();
        assert_eq!(item.label, Some(labels[k]));
        let img = image_u8(item.sample);
        assert_eq!(img.dims(), (1, 28, 28));
        let sum: i64 = img.data().iter().map(|&v| i64::from(v)).sum();
        assert_eq!(sum, sums[k], "row {p}");
    }
    let img = image_u8(ds.get(0).unwrap().sample);
    let line: Vec<i64> = img.data()[14 * 28..15 * 28]
        .iter()
        .map(|&v| i64::from(v))
        .collect();
    assert_eq!(line, ints(&r["row0_line14"]));
    assert_eq!(ds.classes().unwrap().len(), 10);
    assert!(ds.get(5000).is_err());
}

#[test]
fn mnist_csv_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let row = |label: &str, px: &str| {
        let mut v = vec![px.to_string(); 784];
        v.push(label.to_string());
        v.join(",")
    };
    let cases = [
        ("short.csv", "1,2,3\n".to_string(), "line 1"),
        (
            "nan.csv",
            format!("{}\n{}\n", row("1", "0"), row("1", "x")),
            "line 2",
        ),
        ("pixel.csv", format!("{}\n", row("1", "300")), "0..=255"),
        ("label.csv", format!("{}\n", row("12", "0")), "label"),
        ("empty.csv", String::new(), "no data rows"),
    ];
    for (name, text, needle) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let e = MnistCsv::new(&p).unwrap_err().to_string();
        assert!(e.contains(name) && e.contains(needle), "{name}: {e}");
    }
    // A header row is skipped; label-first layout.
    let p = dir.path().join("header.csv");
    let mut v = vec!["7".to_string()];
    v.extend((0..784).map(|i| (i % 256).to_string()));
    std::fs::write(&p, format!("label,pixels...\n{}\n", v.join(","))).unwrap();
    let ds = MnistCsv::label_first(&p).unwrap();
    assert_eq!(ds.len(), 1);
    let item = ds.get(0).unwrap();
    assert_eq!(item.label, Some(7));
    assert_eq!(image_u8(item.sample).data()[300], (300 % 256) as u8);
}

fn idx_bytes(magic_dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8, 0, 8, magic_dims.len() as u8];
    for d in magic_dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(payload);
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn mnist_idx_reads_plain_and_gzip_and_rejects_truncation() {
    let dir = tempfile::tempdir().unwrap();
    // 3 images of 2×3; pixel value = 10·image + position.
    let px: Vec<u8> = (0..3u8)
        .flat_map(|i| (0..6u8).map(move |p| 10 * i + p))
        .collect();
    let images = idx_bytes(&[3, 2, 3], &px);
    let labels = idx_bytes(&[3], &[4, 0, 9]);
    std::fs::write(dir.path().join("train-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(dir.path().join("train-labels-idx1-ubyte.gz"), gzip(&labels)).unwrap();
    let ds = MnistIdx::from_dir(dir.path(), true).unwrap();
    assert_eq!(ds.len(), 3);
    let item = ds.get(2).unwrap();
    assert_eq!(item.label, Some(9));
    let img = image_u8(item.sample);
    assert_eq!(img.dims(), (1, 2, 3));
    assert_eq!(img.data(), &[20, 21, 22, 23, 24, 25]);

    let bad = dir.path().join("short-images");
    std::fs::write(&bad, &images[..images.len() - 1]).unwrap();
    let e = MnistIdx::new(&bad, dir.path().join("train-labels-idx1-ubyte.gz"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("short-images") && e.contains("truncated"), "{e}");
    let e = MnistIdx::new(
        dir.path().join("train-labels-idx1-ubyte.gz"),
        dir.path().join("train-labels-idx1-ubyte.gz"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("magic"), "{e}");
    let e = MnistIdx::from_dir(dir.path(), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("t10k-images-idx3-ubyte"), "{e}");
}

fn cifar_record(label_bytes: &[u8], k: u8) -> Vec<u8> {
    let mut r = label_bytes.to_vec();
    // red plane = k, green plane = position mod 256, blue plane = 255 - k
    r.extend(std::iter::repeat_n(k, 1024));
    r.extend((0..1024u32).map(|i| (i % 256) as u8));
    r.extend(std::iter::repeat_n(255 - k, 1024));
    r
}

#[test]
fn cifar_binary_records_map_to_planar_images() {
    let dir = tempfile::tempdir().unwrap();
    let mut b1 = cifar_record(&[3], 10);
    b1.extend(cifar_record(&[7], 20));
    std::fs::write(dir.path().join("test_batch.bin"), &b1).unwrap();
    let ds = Cifar::from_dir(dir.path(), CifarKind::Cifar10, false).unwrap();
    assert_eq!(ds.len(), 2);
    assert_eq!(ds.classes().unwrap()[3], "cat");
    let item = ds.get(1).unwrap();
    assert_eq!(item.label, Some(7));
    let img = image_u8(item.sample);
    assert_eq!(img.dims(), (3, 32, 32));
    assert_eq!(img.get(0, 5, 5), 20);
    assert_eq!(img.get(1, 1, 3), (32 + 3) as u8);
    assert_eq!(img.get(2, 31, 31), 235);

    std::fs::write(
        dir.path().join("batches.meta.txt"),
        "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n",
    )
    .unwrap();
    let named = Cifar::from_dir(dir.path(), CifarKind::Cifar10, false).unwrap();
    assert_eq!(named.classes().unwrap()[7], "h");

    let c100 = cifar_record(&[2, 57], 1);
    std::fs::write(dir.path().join("train.bin"), &c100).unwrap();
    let fine = Cifar::from_dir(dir.path(), CifarKind::Cifar100Fine, true).unwrap();
    let coarse = Cifar::from_dir(dir.path(), CifarKind::Cifar100Coarse, true).unwrap();
    assert_eq!(fine.get(0).unwrap().label, Some(57));
    assert_eq!(coarse.get(0).unwrap().label, Some(2));

    std::fs::write(dir.path().join("data_batch_1.bin"), &b1[..5000]).unwrap();
    let e = Cifar::from_dir(dir.path(), CifarKind::Cifar10, true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("data_batch_1.bin") && e.contains("3073"), "{e}");
    // A CIFAR-10 label byte above 9 is caught.
    std::fs::write(dir.path().join("test_batch.bin"), cifar_record(&[12], 0)).unwrap();
    let e = Cifar::from_dir(dir.path(), CifarKind::Cifar10, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("label 12"), "{e}");
}

#[test]
fn image_folder_follows_torchvision_class_rules_and_decodes_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_png(&root.join("dog/b.png"), 1, 4, 3);
    write_png(&root.join("dog/sub/a.PNG"), 2, 4, 3);
    write_png(&root.join("cat/z.png"), 3, 4, 3);
    write_jpeg(&root.join("cat/y.jpg"), 4, 8, 8);
    write_bytes(&root.join("cat/notes.txt"), b"not an image");
    write_png(&root.join("cat/.hidden.png"), 5, 4, 3);
    write_png(&root.join(".git/x.png"), 6, 4, 3);
    let ds = ImageFolder::new(root).unwrap();
    assert_eq!(
        ds.classes().unwrap(),
        &["cat".to_string(), "dog".to_string()]
    );
    let names: Vec<String> = ds
        .files()
        .iter()
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        ["cat/y.jpg", "cat/z.png", "dog/b.png", "dog/sub/a.PNG"]
    );
    let labels: Vec<_> = (0..4).map(|i| ds.label(i).unwrap().unwrap()).collect();
    assert_eq!(labels, [0, 0, 1, 1]);
    // PNG is lossless: the pixels written come back, planar.
    let img = image_u8(ds.get(1).unwrap().sample);
    assert_eq!(img.dims(), (3, 3, 4));
    let expect = rgb_pixels(3, 4, 3);
    for y in 0..3 {
        for x in 0..4 {
            let p = expect.get_pixel(x, y);
            for c in 0..3 {
                assert_eq!(img.get(c, y as usize, x as usize), p[c]);
            }
        }
    }
    assert_eq!(ds.source(3).unwrap(), root.join("dog/sub/a.PNG"));
    assert!(ds.get(4).is_err());

    let flat = ImageFolder::flat(root).unwrap();
    assert_eq!(flat.len(), 4);
    assert_eq!(flat.label(0).unwrap(), None);
    assert!(flat.classes().is_none());

    std::fs::create_dir_all(root.join("empty_class")).unwrap();
    let e = ImageFolder::new(root).unwrap_err().to_string();
    assert!(e.contains("empty_class"), "{e}");
    let e = ImageFolder::new(root.join("missing"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing"), "{e}");
}

#[test]
fn audio_folder_labels_from_folders_and_from_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_wav(&root.join("yes/a.wav"), 16000, &[0, 16384, -16384, 32767]);
    write_wav(&root.join("no/b.WAV"), 16000, &[100; 10]);
    let ds = AudioFolder::new(root).unwrap();
    assert_eq!(
        ds.classes().unwrap(),
        &["no".to_string(), "yes".to_string()]
    );
    let item = ds.get(1).unwrap();
    assert_eq!(item.label, Some(1));
    let Sample::Audio(a) = item.sample else {
        panic!("audio expected")
    };
    assert_eq!(a.sample_rate(), 16000);
    assert_eq!(a.data(), &[0.0, 0.5, -0.5, 32767.0 / 32768.0]);

    let flat = tempfile::tempdir().unwrap();
    write_wav(&flat.path().join("dog_1.wav"), 8000, &[1; 4]);
    write_wav(&flat.path().join("cat_2.wav"), 8000, &[2; 4]);
    write_wav(&flat.path().join("dog_3.wav"), 8000, &[3; 4]);
    let by_name = AudioFolder::with_pattern(flat.path(), "{label}_{n}").unwrap();
    assert_eq!(
        by_name.classes().unwrap(),
        &["cat".to_string(), "dog".to_string()]
    );
    let labels: Vec<_> = (0..3).map(|i| by_name.label(i).unwrap().unwrap()).collect();
    assert_eq!(labels, [0, 1, 1]);
    write_wav(&flat.path().join("nounderscore.wav"), 8000, &[3; 4]);
    let e = AudioFolder::with_pattern(flat.path(), "{label}_{n}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("nounderscore.wav"), "{e}");
}

#[test]
fn fsdd_official_split_and_clips_match_python() {
    let r = &reference()["fsdd"];
    let rec = repo_root().join("data/fsdd/recordings");
    let train = Fsdd::new(&rec, FsddSplit::Train).unwrap();
    let test = Fsdd::new(&rec, FsddSplit::Test).unwrap();
    let all = Fsdd::new(&rec, FsddSplit::All).unwrap();
    assert_eq!(train.len() as i64, r["n_train"].as_i64().unwrap());
    assert_eq!(test.len() as i64, r["n_test"].as_i64().unwrap());
    assert_eq!(all.len() as i64, r["n_all"].as_i64().unwrap());
    let mut counts = vec![0i64; 10];
    for i in 0..test.len() {
        counts[test.label(i).unwrap().unwrap() as usize] += 1;
    }
    assert_eq!(counts, ints(&r["test_label_counts"]));
    assert_eq!(test.classes().unwrap().len(), 10);
    for (name, clip) in r["clips"].as_object().unwrap() {
        let i = all
            .files()
            .iter()
            .position(|p| p.file_name().unwrap() == name.as_str())
            .unwrap();
        let item = all.get(i).unwrap();
        assert_eq!(
            item.label,
            Some(name[..1].parse::<i64>().unwrap()),
            "{name}"
        );
        let Sample::Audio(a) = item.sample else {
            panic!("audio expected")
        };
        assert_eq!(
            i64::from(a.sample_rate()),
            clip["sample_rate"].as_i64().unwrap()
        );
        assert_eq!(a.frames() as i64, clip["frames"].as_i64().unwrap());
        for (k, v) in clip["first"].as_array().unwrap().iter().enumerate() {
            assert!((f64::from(a.data()[k]) - v.as_f64().unwrap()).abs() < 1e-7);
        }
        let sum: f64 = a.data().iter().map(|&v| f64::from(v)).sum();
        assert!(
            (sum - clip["sum"].as_f64().unwrap()).abs() < 1e-4,
            "{name}: {sum}"
        );
    }
    let speaker = all.speaker(0).unwrap();
    assert_eq!(speaker, "george");
}

#[test]
fn in_memory_checks_labels_and_classes() {
    let imgs = vec![selfsup_core::ImageU8::zeros(1, 2, 2); 3];
    assert!(InMemory::from_images_u8(imgs.clone(), Some(vec![0, 1])).is_err());
    let e = InMemory::from_images_u8(imgs.clone(), Some(vec![0, 1, 5]))
        .unwrap()
        .with_classes(vec!["a".into(), "b".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("classes"), "{e}");
    let ds = InMemory::from_images_u8(imgs, Some(vec![0, 1, 1]))
        .unwrap()
        .with_classes(vec!["a".into(), "b".into()])
        .unwrap();
    assert_eq!(ds.get(2).unwrap().label, Some(1));
    assert_eq!(selfsup_data::label_map(ds.classes().unwrap())["b"], 1);
    let arr =
        ndarray::Array4::from_shape_fn((2, 1, 2, 2), |(n, _, y, x)| (n * 10 + y * 2 + x) as u8);
    let ds = InMemory::from_array_u8(&arr, None).unwrap();
    assert_eq!(
        image_u8(ds.get(1).unwrap().sample).data(),
        &[10, 11, 12, 13]
    );
}

#[test]
fn text_tokens_byte_and_whitespace_tokenizers() {
    let cfg = TextConfig {
        seq_len: 4,
        ..TextConfig::default()
    };
    let ds = TextTokens::from_texts(&["abcdefghij".to_string()], &cfg).unwrap();
    assert_eq!(ds.len(), 2); // 10 bytes → two windows of 4, the last 2 bytes dropped
    let Sample::Tokens(t) = ds.get(1).unwrap().sample else {
        panic!()
    };
    assert_eq!(t.ids, vec![3 + 101, 3 + 102, 3 + 103, 3 + 104]);
    assert_eq!(ds.vocab().decode(&t.ids), "efgh");
    assert_eq!(ds.vocab().len(), 259);

    let cfg = TextConfig {
        tokenizer: TokenizerKind::Whitespace,
        mode: TextMode::Lines,
        seq_len: 5,
        min_count: 2,
        ..TextConfig::default()
    };
    let text = "the cat sat\n\nthe dog sat on the mat\nzebra".to_string();
    let ds = TextTokens::from_texts(&[text], &cfg).unwrap();
    // counts: the 3, sat 2, others 1 → vocab = specials, "the", "sat"
    let v = ds.vocab();
    assert_eq!(v.len(), 5);
    assert_eq!(v.token(3), Some("the"));
    assert_eq!(v.token(4), Some("sat"));
    assert_eq!(v.token(MASK), Some("<mask>"));
    assert_eq!(ds.len(), 3);
    let Sample::Tokens(t) = ds.get(0).unwrap().sample else {
        panic!()
    };
    assert_eq!(t.ids, vec![3, 1, 4, PAD, PAD]);
    let Sample::Tokens(t) = ds.get(1).unwrap().sample else {
        panic!()
    };
    assert_eq!(t.ids, vec![3, 1, 4, 1, 3]); // truncated to 5

    let e = TextTokens::from_texts(
        &["ab".to_string()],
        &TextConfig {
            seq_len: 0,
            ..TextConfig::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("seq_len"), "{e}");
    let e = serde_json::from_str::<TextConfig>(r#"{"seq_len": 4, "typo": 1}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("typo"), "{e}");
}

#[test]
fn splits_are_seeded_disjoint_and_stratified_exactly() {
    let ds: Arc<dyn Dataset> =
        Arc::new(MnistCsv::new(repo_root().join("data/mnist5k/mnist_5k.csv.gz")).unwrap());
    let (tr, va) = train_val_split(ds.clone(), 0.1, 3, true).unwrap();
    assert_eq!((tr.len(), va.len()), (4500, 500));
    let mut per_class = [0usize; 10];
    for i in 0..va.len() {
        per_class[va.label(i).unwrap().unwrap() as usize] += 1;
    }
    assert_eq!(per_class, [50; 10]);
    let mut all: Vec<usize> = tr.indices().iter().chain(va.indices()).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..5000).collect::<Vec<_>>());
    let (_, va2) = train_val_split(ds.clone(), 0.1, 3, true).unwrap();
    assert_eq!(va.indices(), va2.indices());
    let (_, va3) = train_val_split(ds.clone(), 0.1, 4, true).unwrap();
    assert_ne!(va.indices(), va3.indices());
    let (tr4, va4) = train_val_split(ds.clone(), 0.25, 3, false).unwrap();
    assert_eq!((tr4.len(), va4.len()), (3750, 1250));
    assert_eq!(va4.get(0).unwrap(), ds.get(va4.indices()[0]).unwrap());
    let e = train_val_split(ds.clone(), 1.5, 0, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("val_fraction"), "{e}");
    let unlabeled: Arc<dyn Dataset> = Arc::new(
        InMemory::from_images_u8(vec![selfsup_core::ImageU8::zeros(1, 1, 1); 4], None).unwrap(),
    );
    let e = train_val_split(unlabeled, 0.5, 0, true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("stratified"), "{e}");
}

#[test]
fn cached_dataset_returns_the_same_items() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a/1.png"), 1, 3, 3);
    write_png(&dir.path().join("a/2.png"), 2, 3, 3);
    let inner: Arc<dyn Dataset> = Arc::new(ImageFolder::new(dir.path()).unwrap());
    let cached = Cached::new(inner.clone());
    assert_eq!(cached.cached(), 0);
    let first = cached.get(1).unwrap();
    assert_eq!(first, inner.get(1).unwrap());
    assert_eq!(cached.cached(), 1);
    // Once cached, the file is not read again.
    std::fs::remove_file(dir.path().join("a/2.png")).unwrap();
    assert!(inner.get(1).is_err());
    assert_eq!(cached.get(1).unwrap(), first);
}
