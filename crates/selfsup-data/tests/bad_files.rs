//! Generated folders with empty, truncated and corrupt image and WAV files: every bad file is an
//! error naming it (policy `fail`) or a counted, reported skip (policy `skip`); never a panic, never a
//! silent drop.

mod common;

use common::*;
use selfsup_data::{
    AudioFolder, BadFilePolicy, Dataset, Error, ImageFolder, Loader, LoaderConfig, ViewPipeline,
};
use std::path::Path;
use std::sync::Arc;

/// A class folder whose sorted files are: 2 bad, 3 good, 1 bad, 2 good (8 files, 3 bad).
fn image_tree(root: &Path) -> Vec<&'static str> {
    write_bytes(&root.join("c/a_empty.png"), b"");
    let mut jpeg = Vec::new();
    rgb_pixels(9, 16, 16)
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    write_bytes(&root.join("c/b_truncated.jpg"), &jpeg[..jpeg.len() / 2]);
    write_png(&root.join("c/c_good.png"), 1, 6, 5);
    write_png(&root.join("c/d_good.png"), 2, 6, 5);
    write_png(&root.join("c/e_good.png"), 3, 6, 5);
    let garbage: Vec<u8> = (0..500u32).map(|i| (i * 37 % 251) as u8).collect();
    write_bytes(&root.join("c/f_corrupt.png"), &garbage);
    write_png(&root.join("c/g_good.png"), 4, 6, 5);
    write_png(&root.join("c/h_good.png"), 5, 6, 5);
    vec!["a_empty.png", "b_truncated.jpg", "f_corrupt.png"]
}

fn audio_tree(root: &Path) -> Vec<&'static str> {
    write_wav(&root.join("k/a_good.wav"), 8000, &[1000; 32]);
    write_bytes(&root.join("k/b_empty.wav"), b"");
    write_wav(&root.join("k/c_full.wav"), 8000, &[2000; 64]);
    let full = std::fs::read(root.join("k/c_full.wav")).unwrap();
    write_bytes(&root.join("k/d_truncated.wav"), &full[..30]);
    write_bytes(
        &root.join("k/e_corrupt.wav"),
        b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk",
    );
    write_wav(&root.join("k/f_good.wav"), 8000, &[3000; 32]);
    vec!["b_empty.wav", "d_truncated.wav", "e_corrupt.wav"]
}

fn cfg(policy: BadFilePolicy) -> LoaderConfig {
    LoaderConfig {
        batch_size: 2,
        shuffle: false,
        drop_last: false,
        bad_files: policy,
        ..LoaderConfig::default()
    }
}

fn check_direct_errors(ds: &dyn Dataset, bad: &[&str]) {
    for i in 0..ds.len() {
        let path = ds.source(i).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        match ds.get(i) {
            Ok(_) => assert!(!bad.contains(&name), "{name} should fail"),
            Err(e) => {
                assert!(bad.contains(&name), "{name} should decode: {e}");
                assert!(
                    matches!(e, Error::Decode { .. } | Error::Io { .. }),
                    "{name}: {e:?}"
                );
                assert!(e.to_string().contains(name), "{e}");
            }
        }
    }
}

#[test]
fn bad_images_fail_with_the_file_named_or_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let bad = image_tree(dir.path());
    let ds: Arc<dyn Dataset> = Arc::new(ImageFolder::new(dir.path()).unwrap());
    check_direct_errors(&*ds, &bad);

    let l = Loader::new(ds.clone(), ViewPipeline::Identity, cfg(BadFilePolicy::Fail)).unwrap();
    let mut it = l.epoch(0);
    let e = it.next().unwrap().unwrap_err().to_string();
    assert!(
        e.contains("a_empty.png"),
        "first bad file in batch order: {e}"
    );
    assert!(it.next().is_none(), "an error ends the epoch");

    let l = Loader::new(ds.clone(), ViewPipeline::Identity, cfg(BadFilePolicy::Skip)).unwrap();
    for epoch in 0..2 {
        let batches: Vec<_> = l.epoch(epoch).map(|b| b.unwrap()).collect();
        // batch 0 (both bad) is refilled with the next good samples of the order (c_good,
        // d_good), so the epoch keeps its 4 batches; batch 2 holds e_good + f_corrupt → one sample.
        let numbers: Vec<usize> = batches.iter().map(|b| b.batch_index).collect();
        assert_eq!(numbers, [0, 1, 2, 3]);
        let sizes: Vec<usize> = batches.iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [2, 2, 1, 2]);
        assert_eq!(batches.len(), l.batches_per_epoch());
        assert_eq!(batches.iter().map(|b| b.skipped).sum::<usize>(), 3);
        let idx: Vec<i64> = batches.iter().flat_map(|b| b.indices.to_vec()).collect();
        assert_eq!(idx, [2, 3, 2, 3, 4, 6, 7]);
        assert_eq!(batches[0].views[0].shape(), &[2, 3, 5, 6]);
    }
    let st = l.stats();
    assert_eq!(st.skipped, 6);
    assert_eq!(st.samples, 14);
    for name in &bad {
        assert!(
            st.skipped_files.iter().any(|f| f.ends_with(name)),
            "{name} in {:?}",
            st.skipped_files
        );
    }
}

#[test]
fn bad_wav_files_fail_with_the_file_named_or_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let bad = audio_tree(dir.path());
    let ds: Arc<dyn Dataset> = Arc::new(AudioFolder::new(dir.path()).unwrap());
    check_direct_errors(&*ds, &bad);

    // Different clip lengths cannot share a batch: batch size 1 keeps this about bad files.
    let one = |p| LoaderConfig {
        batch_size: 1,
        ..cfg(p)
    };
    let pipeline = || ViewPipeline::Audio {
        views: offsets(1),
        features: None,
    };
    let l = Loader::new(ds.clone(), pipeline(), one(BadFilePolicy::Fail)).unwrap();
    let results: Vec<_> = l.epoch(0).collect();
    assert_eq!(results.len(), 2, "one good batch, then the error");
    let e = results[1].as_ref().unwrap_err().to_string();
    assert!(e.contains("b_empty.wav"), "{e}");

    let l = Loader::new(ds, pipeline(), one(BadFilePolicy::Skip)).unwrap();
    let batches: Vec<_> = l.epoch(0).map(|b| b.unwrap()).collect();
    let idx: Vec<i64> = batches.iter().flat_map(|b| b.indices.to_vec()).collect();
    // Each batch of one bad file is refilled with the next good file of the order.
    assert_eq!(idx, [0, 2, 2, 5, 5, 5]);
    let st = l.stats();
    assert_eq!(st.skipped, 3);
    assert_eq!(st.skipped_files.len(), 3);
}
