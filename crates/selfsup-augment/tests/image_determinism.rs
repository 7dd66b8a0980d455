//! Determinism and edge cases for the image pipelines: keyed generators make a rayon batch equal to
//! the sequential result for any thread count, a recorded trace replays exactly, and unusual inputs
//! (1×1, grey, RGBA, smaller than the crop, zero-sized) are handled without panics.
#![cfg(feature = "image")]

use selfsup_augment::image::{
    CenterCrop, ColorJitter, GaussianBlur, ImageRecipe, MultiCropConfig, NormalizeConfig,
    RandomCrop, RandomResizedCrop, Resize, ResizeSize, SimClrConfig,
};
use selfsup_core::{generate_views, Ctx, ImageF32, SampleKey, Trace, Transform};

fn images(n: usize) -> Vec<ImageF32> {
    (0..n)
        .map(|i| {
            let data = (0..3 * 40 * 36)
                .map(|k| ((k * 31 + i * 7) % 97) as f32 / 96.0)
                .collect();
            ImageF32::new(3, 40, 36, data).unwrap()
        })
        .collect()
}

#[test]
fn rayon_batch_equals_sequential_for_1_and_2_threads() {
    let recipe = ImageRecipe::SimClr(SimClrConfig {
        input_size: 24,
        gaussian_blur: Some(0.5),
        ..Default::default()
    });
    let mv = recipe.build().unwrap();
    let imgs = images(16);
    let keys: Vec<SampleKey> = (0..16).map(|i| SampleKey::new(42, 3, i)).collect();
    let sequential: Vec<Vec<ImageF32>> = imgs
        .iter()
        .zip(&keys)
        .map(|(img, k)| mv.generate(img, *k).unwrap())
        .collect();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let par = pool.install(|| generate_views(&mv, &imgs, &keys)).unwrap();
        assert_eq!(par, sequential, "{threads} threads");
    }
    // Views differ between epochs and between the two views.
    let other_epoch = mv.generate(&imgs[0], SampleKey::new(42, 4, 0)).unwrap();
    assert_ne!(other_epoch, sequential[0]);
    assert_ne!(sequential[0][0], sequential[0][1]);
}

#[test]
fn recorded_trace_replays_the_same_view() {
    let mv = MultiCropConfig {
        input_size: 20,
        local_size: 8,
        n_local_views: 2,
        ..Default::default()
    }
    .build()
    .unwrap();
    let img = images(1).remove(0);
    let traced = mv.generate_traced(&img, SampleKey::new(1, 0, 5)).unwrap();
    for (v, (view, trace)) in traced.iter().enumerate() {
        let mut rng = SampleKey::new(999, 9, 9).rng(); // replay ignores the generator
        let again = mv
            .view(v)
            .apply_ctx(img.clone(), &mut Ctx::replaying(&mut rng, trace))
            .unwrap();
        assert_eq!(&again, view);
        assert!(trace.entries.iter().any(|e| e.name == "RandomResizedCrop"));
    }
    let _ = Trace::default();
}

#[test]
fn unusual_inputs_never_panic() {
    let simclr = SimClrConfig {
        input_size: 8,
        gaussian_blur: Some(1.0),
        normalize: None,
        ..Default::default()
    }
    .build()
    .unwrap();
    let grey_norm = SimClrConfig {
        input_size: 8,
        normalize: Some(NormalizeConfig {
            mean: vec![0.5],
            std: vec![0.25],
        }),
        ..Default::default()
    }
    .build()
    .unwrap();
    let key = SampleKey::new(0, 0, 0);
    // 1×1 RGB, 1×1 grey, grey, RGBA, smaller than the crop: all succeed with the configured size.
    for img in [
        ImageF32::new(3, 1, 1, vec![0.1, 0.5, 0.9]).unwrap(),
        ImageF32::new(1, 1, 1, vec![0.3]).unwrap(),
        ImageF32::new(1, 5, 3, vec![0.5; 15]).unwrap(),
        ImageF32::new(4, 6, 6, vec![0.7; 144]).unwrap(),
    ] {
        let views = simclr.generate(&img, key).unwrap();
        assert!(views
            .iter()
            .all(|v| v.height() == 8 && v.width() == 8 && v.channels() == img.channels()));
        assert!(views.iter().all(|v| v.data().iter().all(|x| x.is_finite())));
        if img.channels() == 1 {
            grey_norm.generate(&img, key).unwrap();
        }
    }
    // RGBA keeps its alpha plane through colour ops.
    let rgba = ImageF32::new(4, 6, 6, [vec![0.2; 108], vec![0.9; 36]].concat()).unwrap();
    let jitter = ColorJitter::new(0.8, 0.8, 0.8, 0.2).unwrap();
    let out = jitter.apply(rgba, &mut key.rng()).unwrap();
    assert!(out.plane(3).iter().all(|&a| a == 0.9));
    // ImageNet normalisation on a grey image is a clear error, not a panic.
    let e = SimClrConfig {
        input_size: 8,
        ..Default::default()
    }
    .build()
    .unwrap()
    .generate(&ImageF32::zeros(1, 4, 4), key)
    .unwrap_err();
    assert!(
        e.to_string().contains("3 means") && e.to_string().contains("1 channels"),
        "{e}"
    );
    // Zero-sized input: errors that say so, from every transform that needs pixels.
    let empty = ImageF32::zeros(3, 0, 7);
    let ts: Vec<Box<dyn Transform<ImageF32>>> = vec![
        Box::new(RandomResizedCrop::new(4).unwrap()),
        Box::new(Resize::new(ResizeSize::Exact(4, 4)).unwrap()),
        Box::new(RandomCrop::new((2, 2)).unwrap()),
    ];
    for t in &ts {
        let e = t.apply(empty.clone(), &mut key.rng()).unwrap_err();
        assert!(
            e.to_string().contains("empty") || e.to_string().contains("smaller"),
            "{}: {e}",
            t.name()
        );
    }
    assert!(simclr
        .generate(&empty, key)
        .unwrap_err()
        .to_string()
        .contains("empty"));
    // Centre crop and blur of empty images are defined (zeros / unchanged).
    assert_eq!(
        CenterCrop::new((2, 2))
            .unwrap()
            .apply(empty.clone(), &mut key.rng())
            .unwrap()
            .dims(),
        (3, 2, 2)
    );
    assert!(GaussianBlur::new(3, (1.0, 1.0))
        .unwrap()
        .apply(empty, &mut key.rng())
        .unwrap()
        .is_empty());
}

#[test]
fn every_random_transform_handles_tiny_grey_and_rgba_inputs() {
    use selfsup_augment::image::{
        ElasticTransform, RandAugment, RandomAffine, RandomErasing, RandomPerspective,
        RandomRotation, Rot90, TrivialAugmentWide,
    };
    let ts: Vec<Box<dyn Transform<ImageF32>>> = vec![
        Box::new(ElasticTransform::default()),
        Box::new(RandAugment::default()),
        Box::new(TrivialAugmentWide::default()),
        Box::new(
            RandomAffine::new(
                (-30.0, 30.0),
                Some((0.2, 0.2)),
                Some((0.8, 1.2)),
                Some((-10.0, 10.0, -5.0, 5.0)),
            )
            .unwrap(),
        ),
        Box::new(RandomPerspective::new(0.5, 1.0).unwrap()),
        Box::new(RandomRotation::new((-90.0, 90.0)).unwrap()),
        Box::new(RandomErasing::default()),
        Box::new(Rot90),
    ];
    let inputs = [
        ImageF32::new(3, 1, 1, vec![0.1, 0.5, 0.9]).unwrap(),
        ImageF32::new(1, 7, 5, vec![0.4; 35]).unwrap(),
        ImageF32::new(4, 6, 6, vec![0.7; 144]).unwrap(),
        images(1).remove(0),
        ImageF32::zeros(3, 0, 4),
    ];
    for t in &ts {
        for (i, img) in inputs.iter().enumerate() {
            for k in 0..8 {
                let out = t
                    .apply(img.clone(), &mut SampleKey::new(5, k, i as u64).rng())
                    .unwrap();
                assert_eq!(out.channels(), img.channels(), "{}", t.name());
                assert!(out.data().iter().all(|v| v.is_finite()), "{}", t.name());
            }
        }
    }
}
