//! The loader: epoch order, collation against the core `MultiView` API applied by hand, identical
//! batches for any thread count and prefetch depth, exact resume, shapes per sample kind, errors.

mod common;

use common::*;
use ndarray::Axis;
use selfsup_core::{Audio, ImageU8, Sample, SampleKey, Spectrogram, Tokens};
use selfsup_data::{Dataset, HostBatch, InMemory, Loader, LoaderConfig, ViewPipeline};
use std::collections::HashSet;
use std::sync::Arc;

/// `n` 3×4×5 images whose pixels encode the index; labels = index mod 3.
fn images(n: usize) -> Arc<dyn Dataset> {
    let imgs = (0..n)
        .map(|i| {
            ImageU8::new(
                3,
                4,
                5,
                (0..60).map(|p| ((i * 7 + p) % 256) as u8).collect(),
            )
            .unwrap()
        })
        .collect();
    let labels = (0..n as i64).map(|i| i % 3).collect();
    Arc::new(InMemory::from_images_u8(imgs, Some(labels)).unwrap())
}

fn cfg(batch_size: usize) -> LoaderConfig {
    LoaderConfig {
        batch_size,
        seed: 11,
        ..LoaderConfig::default()
    }
}

fn collect(loader: &Loader, epoch: u64, start: usize) -> Vec<HostBatch> {
    loader
        .epoch_from(epoch, start)
        .collect::<selfsup_data::Result<Vec<_>>>()
        .unwrap()
}

#[test]
fn an_epoch_visits_every_index_once_with_drop_last_rules() {
    let ds = images(103);
    let l = Loader::new(ds.clone(), ViewPipeline::Identity, cfg(10)).unwrap();
    assert_eq!(l.batches_per_epoch(), 10);
    let batches = collect(&l, 0, 0);
    assert_eq!(batches.len(), 10);
    assert!(batches.iter().all(|b| b.len() == 10));
    let seen: HashSet<i64> = batches.iter().flat_map(|b| b.indices.to_vec()).collect();
    assert_eq!(seen.len(), 100);

    let keep = Loader::new(
        ds.clone(),
        ViewPipeline::Identity,
        LoaderConfig {
            drop_last: false,
            ..cfg(10)
        },
    )
    .unwrap();
    assert_eq!(keep.batches_per_epoch(), 11);
    let batches = collect(&keep, 0, 0);
    assert_eq!(batches.last().unwrap().len(), 3);
    let mut all: Vec<i64> = batches.iter().flat_map(|b| b.indices.to_vec()).collect();
    all.sort_unstable();
    assert_eq!(all, (0..103).collect::<Vec<_>>());
    for (k, b) in batches.iter().enumerate() {
        assert_eq!((b.epoch, b.batch_index), (0, k));
    }
    let stats = keep.stats();
    assert_eq!((stats.samples, stats.batches, stats.skipped), (103, 11, 0));
    assert!(stats.samples_per_sec > 0.0 && stats.produce_secs > 0.0);
}

#[test]
fn shuffle_is_keyed_by_seed_and_epoch() {
    let ds = images(50);
    let l = Loader::new(ds.clone(), ViewPipeline::Identity, cfg(50)).unwrap();
    let e0 = collect(&l, 0, 0)[0].indices.to_vec();
    let e0_again = collect(&l, 0, 0)[0].indices.to_vec();
    let e1 = collect(&l, 1, 0)[0].indices.to_vec();
    assert_eq!(e0, e0_again);
    assert_ne!(e0, e1);
    let order: Vec<i64> = l.order(0).iter().map(|&i| i as i64).collect();
    assert_eq!(e0, order);
    let other_seed = Loader::new(
        ds.clone(),
        ViewPipeline::Identity,
        LoaderConfig {
            seed: 12,
            ..cfg(50)
        },
    )
    .unwrap();
    assert_ne!(collect(&other_seed, 0, 0)[0].indices.to_vec(), e0);
    let plain = Loader::new(
        ds,
        ViewPipeline::Identity,
        LoaderConfig {
            shuffle: false,
            ..cfg(50)
        },
    )
    .unwrap();
    assert_eq!(
        collect(&plain, 0, 0)[0].indices.to_vec(),
        (0..50).collect::<Vec<_>>()
    );
}

#[test]
fn batches_hold_the_views_multiview_gives_for_each_sample_key() {
    let ds = images(20);
    let l = Loader::new(ds.clone(), ViewPipeline::Image(offsets(2)), cfg(8)).unwrap();
    let mv = offsets::<selfsup_core::ImageF32>(2);
    for b in collect(&l, 3, 0) {
        assert_eq!(b.views.len(), 2);
        assert_eq!(b.views[0].shape(), &[8, 3, 4, 5]);
        for (row, &i) in b.indices.iter().enumerate() {
            let item = ds.get(i as usize).unwrap();
            assert_eq!(b.labels.as_ref().unwrap()[row], item.label.unwrap());
            let Sample::ImageU8(u) = item.sample else {
                panic!()
            };
            let expect = mv
                .generate(&u.to_f32(), SampleKey::new(11, 3, i as u64))
                .unwrap();
            for v in 0..2 {
                let got = b.views[v].index_axis(Axis(0), row);
                assert_eq!(got.iter().copied().collect::<Vec<f32>>(), expect[v].data());
            }
        }
        // the two views differ (independent offsets)
        assert_ne!(b.views[0], b.views[1]);
    }
}

#[test]
fn batches_are_identical_for_any_thread_count_and_prefetch() {
    let ds = images(64);
    let run = |threads: usize, prefetch: usize| {
        let l = Loader::new(
            ds.clone(),
            ViewPipeline::Image(offsets(2)),
            LoaderConfig {
                num_threads: threads,
                prefetch,
                ..cfg(16)
            },
        )
        .unwrap();
        collect(&l, 2, 0)
    };
    let base = run(1, 0);
    assert_eq!(base.len(), 4);
    for (t, p) in [(2, 1), (3, 2), (4, 4), (0, 2)] {
        assert_eq!(run(t, p), base, "threads {t} prefetch {p}");
    }
}

#[test]
fn a_resumed_epoch_yields_exactly_the_remaining_batches() {
    let ds = images(70);
    let l = Loader::new(ds, ViewPipeline::Image(offsets(2)), cfg(8)).unwrap();
    let full = collect(&l, 5, 0);
    assert_eq!(full.len(), 8);
    for k in [0, 1, 5, 7, 8] {
        assert_eq!(collect(&l, 5, k), full[k..].to_vec(), "start {k}");
    }
    // Interrupt after 3 batches (drop the iterator), then resume at 3.
    let mut it = l.epoch(5);
    let head: Vec<HostBatch> = (0..3).map(|_| it.next().unwrap().unwrap()).collect();
    drop(it);
    let mut resumed = head;
    resumed.extend(collect(&l, 5, 3));
    assert_eq!(resumed, full);
    let mut it = l.epoch_from(5, 9);
    let e = it.next().unwrap().unwrap_err().to_string();
    assert!(e.contains("start") && e.contains("0..=8"), "{e}");
    assert!(it.next().is_none());
}

#[test]
fn audio_spectrogram_and_token_batches_have_their_shapes() {
    let clips: Vec<Audio> = (0..6)
        .map(|i| Audio::mono(8000, vec![i as f32 * 0.1; 40]).unwrap())
        .collect();
    let ds: Arc<dyn Dataset> = Arc::new(InMemory::from_audio(clips, None).unwrap());
    let l = Loader::new(
        ds.clone(),
        ViewPipeline::Audio {
            views: offsets(2),
            features: None,
        },
        cfg(3),
    )
    .unwrap();
    let b = l.epoch(0).next().unwrap().unwrap();
    assert_eq!(b.views[0].shape(), &[3, 40]);
    assert!(b.labels.is_none());

    // Features: a 2×(T/10) "spectrogram" of frame means, checked against the same function by hand.
    let feat = |a: &Audio| {
        let frames: Vec<f32> = a
            .data()
            .chunks(10)
            .map(|c| c.iter().sum::<f32>() / 10.0)
            .collect();
        let mut data = frames.clone();
        data.extend(frames.iter().map(|v| v * 2.0));
        Spectrogram::new(1, 2, frames.len(), data)
    };
    let l = Loader::new(
        ds.clone(),
        ViewPipeline::Audio {
            views: offsets(2),
            features: Some(Box::new(feat)),
        },
        cfg(3),
    )
    .unwrap();
    let b = l.epoch(1).next().unwrap().unwrap();
    assert_eq!(b.views[1].shape(), &[3, 2, 4]);
    let i = b.indices[0] as usize;
    let Sample::Audio(a) = ds.get(i).unwrap().sample else {
        panic!()
    };
    let v1 = offsets::<Audio>(2)
        .generate(&a, SampleKey::new(11, 1, i as u64))
        .unwrap()
        .remove(1);
    let s = feat(&v1).unwrap();
    let got: Vec<f32> = b.views[1].index_axis(Axis(0), 0).iter().copied().collect();
    assert_eq!(got, s.values.data());

    let toks: Vec<Tokens> = (0..5).map(|i| Tokens { ids: vec![i; 7] }).collect();
    let ds: Arc<dyn Dataset> = Arc::new(InMemory::from_tokens(toks, None).unwrap());
    let l = Loader::new(ds, ViewPipeline::Tokens(offsets(3)), cfg(5)).unwrap();
    let b = l.epoch(0).next().unwrap().unwrap();
    assert!(b.views.is_empty());
    assert_eq!(b.tokens.len(), 3);
    assert_eq!(b.tokens[2].dim(), (5, 7));
}

#[test]
fn bad_configs_and_mismatched_samples_are_clear_errors() {
    let ds = images(10);
    let e = Loader::new(ds.clone(), ViewPipeline::Identity, cfg(11))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("loader.batch_size") && e.contains("drop_last"),
        "{e}"
    );
    let e = Loader::new(ds.clone(), ViewPipeline::Identity, cfg(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("loader.batch_size"), "{e}");
    let e = Loader::new(
        ds.clone(),
        ViewPipeline::Identity,
        LoaderConfig {
            prefetch: 1000,
            ..cfg(2)
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("loader.prefetch"), "{e}");
    let e = serde_json::from_str::<LoaderConfig>(r#"{"batch_size": 4, "shufle": false}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("shufle"), "{e}");
    let c: LoaderConfig = serde_json::from_str(r#"{"bad_files": "skip"}"#).unwrap();
    assert_eq!(c.batch_size, 256);
    assert_eq!(c.bad_files, selfsup_data::BadFilePolicy::Skip);

    // Audio pipeline on images: the error names the pipeline and the sample kind.
    let l = Loader::new(
        ds.clone(),
        ViewPipeline::Audio {
            views: offsets(1),
            features: None,
        },
        cfg(5),
    )
    .unwrap();
    let mut it = l.epoch(0);
    let e = it.next().unwrap().unwrap_err().to_string();
    assert!(e.contains("Audio") && e.contains("image"), "{e}");
    assert!(it.next().is_none());

    // Images of different sizes cannot be stacked.
    let mixed: Arc<dyn Dataset> = Arc::new(
        InMemory::from_images_u8(vec![ImageU8::zeros(1, 2, 2), ImageU8::zeros(1, 3, 3)], None)
            .unwrap(),
    );
    let l = Loader::new(mixed, ViewPipeline::Identity, cfg(2)).unwrap();
    let e = l.epoch(0).next().unwrap().unwrap_err().to_string();
    assert!(e.contains("shape") && e.contains("[1, 3, 3]"), "{e}");
}

#[test]
fn a_panicking_pipeline_is_reported_not_dropped() {
    let ds = images(8);
    let pipeline = ViewPipeline::Custom {
        n_views: 1,
        f: Box::new(|s, key| {
            if key.index == 5 {
                panic!("boom at 5");
            }
            Ok(vec![s])
        }),
    };
    let l = Loader::new(ds, pipeline, cfg(4)).unwrap();
    let results: Vec<_> = l.epoch(0).collect();
    assert!(results.iter().any(|r| r.is_err()), "the panic must surface");
    let e = results
        .into_iter()
        .find_map(|r| r.err())
        .unwrap()
        .to_string();
    assert!(e.contains("panicked") && e.contains("boom at 5"), "{e}");
}

#[test]
fn the_decoded_item_cache_changes_nothing_but_speed() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..12u8 {
        write_png(&dir.path().join(format!("c{}/{i}.png", i % 2)), i, 5, 4);
    }
    let ds: Arc<dyn Dataset> = Arc::new(selfsup_data::ImageFolder::new(dir.path()).unwrap());
    let plain = Loader::new(ds.clone(), ViewPipeline::Image(offsets(2)), cfg(4)).unwrap();
    let cached = Loader::new(
        ds,
        ViewPipeline::Image(offsets(2)),
        LoaderConfig {
            cache: true,
            ..cfg(4)
        },
    )
    .unwrap();
    let expect = collect(&plain, 0, 0);
    assert_eq!(collect(&cached, 0, 0), expect);
    // Every file was decoded once; the next epoch needs none of them.
    for i in 0..12u8 {
        std::fs::remove_file(dir.path().join(format!("c{}/{i}.png", i % 2))).unwrap();
    }
    assert_eq!(collect(&cached, 1, 0).len(), 3);
    assert!(plain.epoch(1).next().unwrap().is_err());
}

#[test]
fn recycled_buffers_change_nothing_in_the_batches() {
    let ds = images(64);
    let make = || Loader::new(ds.clone(), ViewPipeline::Image(offsets(2)), cfg(16)).unwrap();
    let (plain, recycling) = (make(), make());
    for epoch in 0..3 {
        let expect = collect(&plain, epoch, 0);
        let mut got = Vec::new();
        for b in recycling.epoch(epoch) {
            let b = b.unwrap();
            got.push(b.clone());
            // Scribble over the buffer before handing it back: reuse must overwrite every element.
            let mut b = b;
            for v in &mut b.views {
                v.fill(f32::NAN);
            }
            recycling.recycle(b);
        }
        assert_eq!(got, expect, "epoch {epoch}");
    }
}

#[test]
fn dropping_an_epoch_early_cancels_the_batches_not_started() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let processed = Arc::new(AtomicUsize::new(0));
    let counter = processed.clone();
    let pipeline = ViewPipeline::Custom {
        n_views: 1,
        f: Box::new(move |s, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(vec![s])
        }),
    };
    let l = Loader::new(
        images(400),
        pipeline,
        LoaderConfig {
            prefetch: 2,
            ..cfg(4)
        },
    )
    .unwrap();
    let mut it = l.epoch(0);
    it.next().unwrap().unwrap();
    drop(it);
    // Batch 0 plus at most `prefetch` batches in flight were prepared, out of 100.
    let after_drop = processed.load(Ordering::SeqCst);
    assert!((4..=12).contains(&after_drop), "{after_drop}");
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(
        processed.load(Ordering::SeqCst),
        after_drop,
        "work continued after drop"
    );
}

#[test]
fn the_cache_stays_within_its_byte_budget_and_serves_the_rest_uncached() {
    use selfsup_data::Cached;
    // 10 images of 3×4×5 = 60 bytes; a budget of 250 bytes holds 4 of them.
    let ds = images(10);
    let cached = Cached::with_budget(ds.clone(), 250);
    for i in 0..10 {
        assert_eq!(cached.get(i).unwrap().sample, ds.get(i).unwrap().sample);
    }
    assert_eq!(cached.cached(), 4);
    assert_eq!(cached.bytes(), 240);
    for i in 0..10 {
        assert_eq!(cached.get(i).unwrap().sample, ds.get(i).unwrap().sample);
    }
    assert_eq!(cached.cached(), 4);
    let e = Loader::new(
        ds,
        ViewPipeline::Identity,
        LoaderConfig {
            cache: true,
            cache_max_mib: 0,
            ..cfg(2)
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("loader.cache_max_mib"), "{e}");
}

/// A pretext pipeline: view = the image, target = a class drawn from the sample's key (index-keyed,
/// so it must not depend on the thread count) or a dense token target.
fn pretext(dense: bool) -> ViewPipeline {
    ViewPipeline::Pretext {
        n_views: 1,
        f: Box::new(move |s: Sample, key: SampleKey| {
            let class = key.rng().below(4) as i64;
            let target = if dense {
                selfsup_core::Target::Dense(Sample::Tokens(Tokens {
                    ids: vec![key.index as i64, -100, class],
                }))
            } else {
                selfsup_core::Target::Class(class)
            };
            Ok((vec![s], target))
        }),
    }
}

#[test]
fn pretext_targets_are_collated_per_sample_and_independent_of_threads() {
    use selfsup_core::Targets;
    let ds = images(24);
    for dense in [false, true] {
        let mut runs = Vec::new();
        for threads in [1, 3] {
            let c = LoaderConfig {
                num_threads: threads,
                ..cfg(8)
            };
            let l = Loader::new(ds.clone(), pretext(dense), c).unwrap();
            runs.push(collect(&l, 2, 0));
        }
        assert_eq!(runs[0], runs[1], "dense = {dense}");
        for b in &runs[0] {
            let expect: Vec<i64> = b
                .indices
                .iter()
                .map(|&i| SampleKey::new(11, 2, i as u64).rng().below(4) as i64)
                .collect();
            match (&b.targets, dense) {
                (Some(Targets::Classes(t)), false) => {
                    assert_eq!(t.shape(), &[8]);
                    assert_eq!(t.iter().copied().collect::<Vec<_>>(), expect);
                }
                (Some(Targets::Classes(t)), true) => {
                    assert_eq!(t.shape(), &[8, 3]);
                    for (r, (&i, &c)) in b.indices.iter().zip(&expect).enumerate() {
                        assert_eq!(t[[r, 0]], i);
                        assert_eq!(t[[r, 1]], -100);
                        assert_eq!(t[[r, 2]], c);
                    }
                }
                other => panic!("unexpected targets {other:?}"),
            }
        }
    }
    // Non-pretext pipelines carry no targets.
    let l = Loader::new(ds, ViewPipeline::Identity, cfg(8)).unwrap();
    assert!(collect(&l, 0, 0).iter().all(|b| b.targets.is_none()));
}
