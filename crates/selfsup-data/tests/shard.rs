//! Data-parallel sharding of the loader (`Loader::with_shard`): W ranks with batch B see, per
//! step, exactly the samples and the (keyed, random) views one loader with batch W·B sees, in rank
//! order; resume (`epoch_from`) stays exact per rank; bad settings name the field.

mod common;

use common::*;
use ndarray::{concatenate, Axis};
use selfsup_core::ImageU8;
use selfsup_data::{Dataset, HostBatch, InMemory, Loader, LoaderConfig, ViewPipeline};
use std::sync::Arc;

fn images(n: usize) -> Arc<dyn Dataset> {
    let imgs = (0..n)
        .map(|i| {
            ImageU8::new(
                1,
                3,
                4,
                (0..12).map(|p| ((i * 13 + p * 5) % 256) as u8).collect(),
            )
            .unwrap()
        })
        .collect();
    Arc::new(InMemory::from_images_u8(imgs, Some((0..n as i64).collect())).unwrap())
}

fn loader(n: usize, batch: usize, shard: Option<(usize, usize)>) -> Loader {
    let cfg = LoaderConfig {
        batch_size: batch,
        seed: 5,
        prefetch: 1,
        ..LoaderConfig::default()
    };
    let l = Loader::new(images(n), ViewPipeline::Image(offsets(2)), cfg).unwrap();
    match shard {
        Some((w, r)) => l.with_shard(w, r).unwrap(),
        None => l,
    }
}

fn epoch(l: &Loader, e: u64, start: usize) -> Vec<HostBatch> {
    l.epoch_from(e, start)
        .collect::<selfsup_data::Result<Vec<_>>>()
        .unwrap()
}

fn check_world(world: usize) {
    let (n, b) = (47, 3);
    let single = loader(n, world * b, None);
    let ranks: Vec<Loader> = (0..world).map(|r| loader(n, b, Some((world, r)))).collect();
    for l in &ranks {
        assert_eq!(l.batches_per_epoch(), n / (world * b));
    }
    for e in 0..2 {
        let want = epoch(&single, e, 0);
        let got: Vec<Vec<HostBatch>> = ranks.iter().map(|l| epoch(l, e, 0)).collect();
        assert_eq!(want.len(), single.batches_per_epoch());
        for (k, w) in want.iter().enumerate() {
            let idx: Vec<_> = got.iter().map(|g| g[k].indices.view()).collect();
            assert_eq!(
                concatenate(Axis(0), &idx).unwrap(),
                w.indices,
                "epoch {e} batch {k}"
            );
            let lab: Vec<_> = got
                .iter()
                .map(|g| g[k].labels.as_ref().unwrap().view())
                .collect();
            assert_eq!(
                &concatenate(Axis(0), &lab).unwrap(),
                w.labels.as_ref().unwrap()
            );
            for v in 0..2 {
                let views: Vec<_> = got.iter().map(|g| g[k].views[v].view()).collect();
                // Bit-identical views: the augmentation keys do not depend on the rank.
                assert_eq!(concatenate(Axis(0), &views).unwrap(), w.views[v]);
            }
        }
    }
    // The two views differ (the pipeline is random), so the comparison above sees the keys.
    let b0 = &epoch(&ranks[0], 0, 0)[0];
    assert_ne!(b0.views[0], b0.views[1]);
    // Resume inside an epoch replays this rank's tail exactly.
    let full = epoch(&ranks[world - 1], 1, 0);
    let tail = epoch(&ranks[world - 1], 1, 2);
    assert_eq!(tail.len(), full.len() - 2);
    for (a, b) in tail.iter().zip(&full[2..]) {
        assert_eq!(a.indices, b.indices);
        assert_eq!(a.views[0], b.views[0]);
    }
}

#[test]
fn two_ranks_see_what_one_loader_with_twice_the_batch_sees() {
    check_world(2);
}

#[test]
fn three_ranks_see_what_one_loader_with_three_times_the_batch_sees() {
    check_world(3);
}

#[test]
fn bad_shards_name_the_field() {
    let cfg = LoaderConfig {
        batch_size: 10,
        ..LoaderConfig::default()
    };
    let l = Loader::new(images(25), ViewPipeline::Identity, cfg.clone()).unwrap();
    let e = l.with_shard(3, 0).unwrap_err().to_string();
    assert!(e.contains("loader.batch_size") && e.contains("3×10"), "{e}");
    let l = Loader::new(images(25), ViewPipeline::Identity, cfg.clone()).unwrap();
    let e = l.with_shard(2, 2).unwrap_err().to_string();
    assert!(e.contains("rank"), "{e}");
    let keep = LoaderConfig {
        drop_last: false,
        ..cfg
    };
    let l = Loader::new(images(25), ViewPipeline::Identity, keep).unwrap();
    let e = l.with_shard(2, 1).unwrap_err().to_string();
    assert!(e.contains("loader.drop_last"), "{e}");
}
