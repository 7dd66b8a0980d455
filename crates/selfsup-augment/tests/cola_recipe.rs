//! The COLA recipe as the CLI uses it, and per-clip standardisation of log-mels:
//!
//! - `ColaConfig::fsdd()` draws exactly the views of the CLI's former hand-written audio recipe
//!   (random crop → gain −12…12 dB with p 0.8 → noise at 5…30 dB SNR with p 0.8; copied below), so the
//!   FSDD figures measured with it still describe the crate's recipe;
//! - [`standardize`] agrees with a float64 reference, and [`LogMelFrontEnd`] is log-mel then that.
#![cfg(feature = "audio")]

use selfsup_augment::audio::{
    standardize, AddGaussianSNR, AudioRecipe, ColaConfig, Gain, LogMelConfig, LogMelFrontEnd,
    RandomCrop, Standardize,
};
use selfsup_core::{
    Audio, BoxTransform, Compose, Generator, MultiView, RandomApply, SampleKey, Spectrogram,
    Transform,
};

fn clip(n: usize, seed: u64) -> Audio {
    let mut g = Generator::seed_from_u64(seed);
    let data = (0..n)
        .map(|i| 0.3 * (i as f32 * 0.07).sin() + 0.05 * g.normal() as f32)
        .collect();
    Audio::mono(8000, data).unwrap()
}

/// The CLI's audio views before they became the crate's COLA recipe (commit f64dbc1).
fn former_cli_views(len: usize) -> MultiView<Audio> {
    let view = || -> BoxTransform<Audio> {
        Box::new(
            Compose::new(vec![])
                .then(RandomCrop::new(len).unwrap())
                .then(RandomApply::new(0.8, Gain::new(-12.0, 12.0).unwrap()).unwrap())
                .then(RandomApply::new(0.8, AddGaussianSNR::new(5.0, 30.0).unwrap()).unwrap()),
        )
    };
    MultiView::new(vec![view(), view()]).unwrap()
}

#[test]
fn the_fsdd_preset_draws_the_former_cli_views() {
    let ours = ColaConfig::fsdd().build().unwrap();
    let theirs = former_cli_views(4000);
    for index in 0..40 {
        // Clips shorter and longer than the 0.5 s window.
        let a = clip(2500 + 150 * index as usize, index);
        let key = SampleKey::new(9, 1, index);
        assert_eq!(
            ours.generate(&a, key).unwrap(),
            theirs.generate(&a, key).unwrap(),
            "clip {index}"
        );
    }
}

#[test]
fn standardize_matches_a_float64_reference() {
    let mut g = Generator::seed_from_u64(5);
    let values: Vec<f32> = (0..3 * 40 * 17)
        .map(|_| -60.0 + 25.0 * g.normal() as f32)
        .collect();
    let s = Spectrogram::new(3, 40, 17, values.clone()).unwrap();
    let y = standardize(s.clone(), 1e-5).unwrap();
    let n = values.len() as f64;
    let m = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let sd = (values
        .iter()
        .map(|&v| (f64::from(v) - m).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    for (o, &v) in y.values.data().iter().zip(&values) {
        let e = (f64::from(v) - m) / sd;
        assert!((f64::from(*o) - e).abs() < 1e-4, "{o} vs {e}");
    }
    assert_eq!((y.values.channels(), y.n_freq(), y.n_frames()), (3, 40, 17));
    // As a transform: the same result, whatever the key.
    let t = Standardize::default();
    assert_eq!(t.apply(s, &mut SampleKey::new(0, 0, 1).rng()).unwrap(), y);
    // A silent clip stays finite (eps), and eps must be positive.
    let silent = Spectrogram::new(1, 4, 4, vec![-100.0; 16]).unwrap();
    assert!(standardize(silent, 1e-5)
        .unwrap()
        .values
        .data()
        .iter()
        .all(|v| *v == 0.0));
    let e = Standardize::new(0.0).unwrap_err().to_string();
    assert!(e.contains("`standardize.eps`"), "{e}");
}

#[test]
fn the_front_end_is_log_mel_then_standardisation() {
    let a = clip(4000, 1);
    let lm = LogMelConfig::for_rate(8000, 40);
    let raw = lm.build().unwrap().compute(&a).unwrap();
    let expected = standardize(raw.clone(), 1e-5).unwrap();
    assert_eq!(
        LogMelFrontEnd::new(&lm, true).unwrap().compute(&a).unwrap(),
        expected
    );
    assert_eq!(
        LogMelFrontEnd::new(&lm, false)
            .unwrap()
            .compute(&a)
            .unwrap(),
        raw
    );
    let cola = ColaConfig::fsdd();
    assert_eq!(cola.front_end().unwrap().compute(&a).unwrap(), expected);
    let recipe = AudioRecipe::Cola(cola);
    assert_eq!(recipe.front_end().unwrap().compute(&a).unwrap(), expected);
    let mean = expected.values.data().iter().sum::<f32>() / expected.values.data().len() as f32;
    assert!(mean.abs() < 1e-4, "mean {mean}");
}
