//! CPC (feature `torch`): on standardised log-mel spectrograms of the vendored FSDD clips the InfoNCE
//! loss falls from its chance value `ln N` within a few dozen steps and the future-latent accuracy
//! beats chance `1/N`; a clip too short for the prediction steps, a wrong input shape and a batch
//! without negatives are clear errors.
#![cfg(feature = "torch")]
#![allow(clippy::print_stderr)] // the tests report the figures they measure

use selfsup_augment::audio::{LogMelConfig, PadOrCrop};
use selfsup_core::{Sample, SampleKey, Spectrogram, Transform};
use selfsup_data::{Dataset, Fsdd, FsddSplit};
use selfsup_nn::{BackboneConfig, Batch, InputSpec, MethodSpec, StepInfo};
use selfsup_pretext::{pretext_generator, CpcConfig, PretextConfig};
use tch::nn::OptimizerConfig;
use tch::{Device, Tensor};

const N_FREQ: usize = 40;

/// The first `n` training clips as the CLI prepares them: the first 0.5 s (zero-padded), 40-bin
/// log-mel at 8 kHz (51 frames), standardised per clip.
fn spectrograms(n: usize) -> Vec<Spectrogram> {
    let ds = Fsdd::new(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/fsdd/recordings"),
        FsddSplit::Train,
    )
    .unwrap();
    let lm = LogMelConfig::for_rate(8000, N_FREQ).build().unwrap();
    let crop = PadOrCrop::new(4000).unwrap();
    // Spread over the digits: FSDD's files are sorted by digit.
    let step = ds.len() / n;
    (0..n)
        .map(|i| {
            let Sample::Audio(a) = ds.get(i * step).unwrap().sample else {
                panic!("FSDD gave a non-audio sample")
            };
            let a = crop.apply(a, &mut SampleKey::new(0, 0, 0).rng()).unwrap();
            let s = lm.compute(&a.downmix()).unwrap();
            let d = s.values.data();
            let m = d.iter().sum::<f32>() / d.len() as f32;
            let sd = (d.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / d.len() as f32)
                .sqrt()
                .max(1e-5);
            let (c, f, t) = s.values.dims();
            Spectrogram::new(c, f, t, d.iter().map(|v| (v - m) / sd).collect()).unwrap()
        })
        .collect()
}

fn batch(specs: &[Spectrogram]) -> Batch {
    let g = pretext_generator(&PretextConfig::Cpc(CpcConfig::default())).unwrap();
    let xs: Vec<Tensor> = specs
        .iter()
        .map(|s| {
            let (views, _) = g
                .generate_keyed(&Sample::Spectrogram(s.clone()), SampleKey::new(0, 0, 0))
                .unwrap();
            let Sample::Spectrogram(v) = &views[0] else {
                panic!("cpc view is not a spectrogram")
            };
            let (c, f, t) = v.values.dims();
            Tensor::from_slice(v.values.data()).reshape([c as i64, f as i64, t as i64])
        })
        .collect();
    Batch {
        views: vec![Tensor::stack(&xs, 0)],
        labels: None,
        targets: None,
        indices: None,
    }
}

fn info(step: u64) -> StepInfo {
    StepInfo {
        step,
        total_steps: 32,
        epoch: 0,
        total_epochs: 1,
    }
}

#[test]
fn cpc_loss_falls_on_fsdd() {
    const N: usize = 32;
    let specs = spectrograms(4 * N);
    let t = specs[0].n_frames() as i64;
    assert_eq!((specs[0].n_freq(), t), (N_FREQ, 51));
    // A small model keeps the test fast; the preset's sizes are the defaults.
    let cfg = PretextConfig::Cpc(CpcConfig {
        widths: vec![64, 64],
        context_dim: 64,
        ..Default::default()
    });
    let input = InputSpec {
        shape: vec![N_FREQ as i64, t],
        vocab_size: None,
    };
    let mut m = cfg
        .instantiate(&BackboneConfig::default(), &input, Device::Cpu, 0)
        .unwrap();
    assert_eq!(m.name(), "cpc");
    let mut opt = tch::nn::Adam::default().build(m.var_store(), 1e-3).unwrap();
    let batches: Vec<Batch> = specs.chunks(N).map(batch).collect();
    let (mut losses, mut accs) = (Vec::new(), Vec::new());
    for step in 0..32u64 {
        let out = m.step(&batches[step as usize % 4], &info(step)).unwrap();
        opt.backward_step(&out.loss);
        losses.push(out.loss.double_value(&[]));
        accs.push(out.scalars[0].1);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (first, last) = (mean(&losses[..4]), mean(&losses[28..]));
    let acc = mean(&accs[28..]);
    eprintln!(
        "cpc loss {first:.3} -> {last:.3} (ln N = {:.3}), acc {acc:.3}",
        (N as f64).ln()
    );
    // At initialisation the scores carry no information: the loss is about ln N.
    assert!((first - (N as f64).ln()).abs() < 0.5, "{first}");
    assert!(last < first - 0.5, "loss did not fall: {first} -> {last}");
    assert!(acc > 4.0 / N as f64, "accuracy {acc} not above 4x chance");
    let e = m.embed(&batches[0].views[0]).unwrap();
    assert_eq!(e.size(), [N as i64, m.embed_dim()]);
    // 3-D and 4-D inputs embed alike.
    let e4 = m
        .embed(&batches[0].views[0].squeeze_dim(1))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(e.allclose(&e4, 1e-6, 1e-6, false));
}

#[test]
fn cpc_bad_input_is_a_clear_error() {
    let cfg = CpcConfig::default();
    let input = |shape: Vec<i64>| InputSpec {
        shape,
        vocab_size: None,
    };
    let pc = PretextConfig::Cpc(cfg.clone());
    let bb = BackboneConfig::default();
    // Too short for 4 steps ahead: needs 9 frames (5 latents after the stride-2 convolution).
    let e = pc
        .instantiate(&bb, &input(vec![40, 8]), Device::Cpu, 0)
        .err()
        .expect("8 frames must be refused")
        .to_string();
    assert!(
        e.contains("method.prediction_steps") && e.contains("at least 9 frames"),
        "{e}"
    );
    assert!(pc
        .instantiate(&bb, &input(vec![40, 9]), Device::Cpu, 0)
        .is_ok());
    // The generator refuses a short clip the same way, before any model sees it.
    let g = pretext_generator(&pc).unwrap();
    let short = Sample::Spectrogram(Spectrogram::new(1, 40, 8, vec![0.0; 320]).unwrap());
    let e = g
        .generate_keyed(&short, SampleKey::new(0, 0, 0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("method.prediction_steps"), "{e}");
    // Images are not spectrograms.
    let img = Sample::Image(selfsup_core::ImageF32::zeros(1, 28, 28));
    let e = g
        .generate_keyed(&img, SampleKey::new(0, 0, 0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("spectrogram"), "{e}");
    let e = pc
        .instantiate(&bb, &input(vec![40]), Device::Cpu, 0)
        .err()
        .expect("1-D input must be refused")
        .to_string();
    assert!(e.contains("input.shape"), "{e}");
    // Config ranges name the field.
    let bad = CpcConfig {
        prediction_steps: 0,
        ..Default::default()
    };
    let e = PretextConfig::Cpc(bad).validate().unwrap_err().to_string();
    assert!(
        e.contains("method.prediction_steps") && e.contains("[1, 32]"),
        "{e}"
    );
    // A batch of one sequence has no negatives; a wrong bin count is named.
    let mut m = pc
        .instantiate(&bb, &input(vec![40, 20]), Device::Cpu, 0)
        .unwrap();
    let one = Batch {
        views: vec![Tensor::zeros([1, 40, 20], (tch::Kind::Float, Device::Cpu))],
        labels: None,
        targets: None,
        indices: None,
    };
    let e = m.step(&one, &info(0)).unwrap_err().to_string();
    assert!(e.contains("at least 2 sequences"), "{e}");
    let e = m
        .embed(&Tensor::zeros([2, 30, 20], (tch::Kind::Float, Device::Cpu)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("40 frequency bins"), "{e}");
}

/// Every choice of negatives trains (the loss falls from its chance value, the accuracy over the
/// loss's own candidates rises above chance), and every embedding has the width `embed_dim` says.
#[test]
fn cpc_negatives_and_embeddings() {
    use selfsup_pretext::cpc::{CpcEmbedding, CpcNegatives};
    const N: usize = 16;
    let specs = spectrograms(N);
    let b = batch(&specs);
    let input = InputSpec {
        shape: vec![N_FREQ as i64, 51],
        vocab_size: None,
    };
    // 51 frames -> 26 latents; offset k has 26 - k candidates per sequence.
    for (negatives, embedding, width) in [
        (CpcNegatives::Sequence, CpcEmbedding::Latent, 48),
        (CpcNegatives::All, CpcEmbedding::Both, 48 + 32),
        (CpcNegatives::Batch, CpcEmbedding::Context, 32),
    ] {
        tch::manual_seed(0);
        let cfg = PretextConfig::Cpc(CpcConfig {
            widths: vec![48, 48],
            context_dim: 32,
            negatives,
            embedding,
            ..Default::default()
        });
        let mut m = cfg
            .instantiate(&BackboneConfig::default(), &input, Device::Cpu, 0)
            .unwrap();
        let mut opt = tch::nn::Adam::default().build(m.var_store(), 2e-3).unwrap();
        let first = m.step(&b, &info(0)).unwrap();
        let l0 = first.loss.double_value(&[]);
        opt.backward_step(&first.loss);
        let mut last = (l0, 0.0);
        for s in 1..25 {
            let out = m.step(&b, &info(s)).unwrap();
            last = (out.loss.double_value(&[]), out.scalars[0].1);
            opt.backward_step(&out.loss);
        }
        let candidates = match negatives {
            CpcNegatives::Batch => N as f64,
            CpcNegatives::Sequence => 22.0, // the fewest, at k = 4
            CpcNegatives::All => (N * 22) as f64,
        };
        eprintln!(
            "{negatives:?}: loss {l0:.3} -> {:.3} (ln candidates ≈ {:.3}), acc {:.3}",
            last.0,
            candidates.ln(),
            last.1
        );
        assert!(last.0 < l0 - 0.3, "{negatives:?}: {l0} -> {}", last.0);
        assert!(
            last.1 > 2.0 / candidates,
            "{negatives:?}: accuracy {}",
            last.1
        );
        let e = m.embed(&b.views[0]).unwrap();
        assert_eq!(e.size(), [N as i64, width]);
        assert_eq!(m.embed_dim(), width);
    }
}

/// `encoder = "backbone"`: CPC trains the run's `audio_cnn` (parameters under `backbone.`), the
/// InfoNCE loss falls and the future accuracy beats chance; `embedding = "latent"` is exactly the
/// backbone's global-pooled feature; too few time columns for the prediction steps, or a backbone
/// without a feature map, are errors naming the field.
#[test]
fn cpc_with_the_backbone_as_encoder() {
    use selfsup_nn::backbones::ConvNetConfig;
    use selfsup_pretext::cpc::{CpcEmbedding, CpcEncoder};
    const N: usize = 16;
    let specs = spectrograms(N);
    let b = batch(&specs);
    let input = InputSpec {
        shape: vec![N_FREQ as i64, 51],
        vocab_size: None,
    };
    // Two stages: 40×51 -> 10×12 feature map, 12 latents.
    let audio = BackboneConfig::AudioCnn(ConvNetConfig {
        widths: vec![16, 32],
        ..Default::default()
    });
    let cfg = CpcConfig {
        encoder: CpcEncoder::Backbone,
        embedding: CpcEmbedding::Latent,
        prediction_steps: 2,
        context_dim: 32,
        ..Default::default()
    };
    tch::manual_seed(0);
    let mut m = PretextConfig::Cpc(cfg.clone())
        .instantiate(&audio, &input, Device::Cpu, 0)
        .unwrap();
    assert_eq!(m.encoder_prefix(), "backbone");
    let names: Vec<String> = m.var_store().variables().into_keys().collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("backbone.blocks.0.conv")),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("encoder.")),
        "{names:?}"
    );
    // The latent embedding is the backbone's own pooled feature.
    let mut vs = tch::nn::VarStore::new(Device::Cpu);
    let net = selfsup_nn::build_backbone(&(vs.root() / "backbone"), &audio, 1).unwrap();
    vs.copy(m.var_store()).unwrap();
    let e = m.embed(&b.views[0]).unwrap();
    let want = tch::no_grad(|| net.forward_t(&b.views[0], false));
    assert_eq!(e.size(), [N as i64, 32]);
    assert_eq!(m.embed_dim(), 32);
    assert!(e.allclose(&want, 1e-5, 1e-5, false));
    let mut opt = tch::nn::Adam::default().build(m.var_store(), 2e-3).unwrap();
    let first = m.step(&b, &info(0)).unwrap();
    let l0 = first.loss.double_value(&[]);
    opt.backward_step(&first.loss);
    let mut last = (l0, 0.0);
    for s in 1..25 {
        let out = m.step(&b, &info(s)).unwrap();
        last = (out.loss.double_value(&[]), out.scalars[0].1);
        opt.backward_step(&out.loss);
    }
    eprintln!(
        "backbone encoder: loss {l0:.3} -> {:.3} (ln N = {:.3}), acc {:.3}",
        last.0,
        (N as f64).ln(),
        last.1
    );
    assert!((l0 - (N as f64).ln()).abs() < 0.5, "{l0}");
    assert!(last.0 < l0 - 0.3, "{l0} -> {}", last.0);
    assert!(last.1 > 2.0 / N as f64, "accuracy {}", last.1);
    // The embedding changed with training (the backbone is what CPC trains).
    assert!(!m
        .embed(&b.views[0])
        .unwrap()
        .allclose(&e, 1e-4, 1e-4, false));
    // 12 latents cannot serve 12 prediction steps.
    let e = PretextConfig::Cpc(CpcConfig {
        prediction_steps: 12,
        ..cfg.clone()
    })
    .instantiate(&audio, &input, Device::Cpu, 0)
    .err()
    .expect("12 steps ahead of 12 latents must be refused")
    .to_string();
    assert!(
        e.contains("method.prediction_steps") && e.contains("12 time steps"),
        "{e}"
    );
    let mlp = BackboneConfig::Mlp(selfsup_nn::MlpConfig {
        input_dim: 40 * 51,
        hidden: vec![32],
        output_dim: 32,
        batch_norm: false,
    });
    let e = PretextConfig::Cpc(cfg)
        .instantiate(&mlp, &input, Device::Cpu, 0)
        .err()
        .expect("an MLP has no feature map")
        .to_string();
    assert!(e.contains("method.encoder"), "{e}");
}
