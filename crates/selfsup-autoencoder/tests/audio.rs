//! Audio: the log-mel autoencoder's reconstruction loss falls on FSDD log-mels (vendored
//! `data/fsdd`) within a few dozen steps, and the audio DAE pipeline makes keyed `[corrupted, clean]`
//! log-mel pairs from one crop of each clip.

use selfsup_augment::audio::{LogMelConfig, LogMelFrontEnd};
use selfsup_autoencoder::{dae_audio_pipeline, AeConfig, AutoencoderConfig, DaeConfig};
use selfsup_core::{Audio, Sample, SampleKey, Spectrogram};
use selfsup_data::{Dataset, Fsdd, FsddSplit};
use selfsup_nn::backbones::ConvNetConfig;
use selfsup_nn::{BackboneConfig, Batch, InputSpec, MethodSpec, StepInfo};
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Tensor};

const LEN: usize = 4000; // 0.5 s at 8 kHz

fn fsdd() -> Fsdd {
    Fsdd::new(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/fsdd/recordings"),
        FsddSplit::Train,
    )
    .expect("vendored FSDD")
}

/// The first `LEN` samples of the (mono) clip, zero-padded.
fn fixed(a: &Audio) -> Audio {
    let mut s: Vec<f32> = a.downmix().channel(0).iter().copied().take(LEN).collect();
    s.resize(LEN, 0.0);
    Audio::mono(a.sample_rate(), s).unwrap()
}

/// Log-mel (40 bands) standardised per clip: the audio recipes' feature step
/// ([`LogMelFrontEnd`] with its per-clip standardisation).
fn logmel(a: &Audio) -> selfsup_core::Result<Spectrogram> {
    LogMelFrontEnd::new(&LogMelConfig::for_rate(a.sample_rate(), 40), true)?.compute(a)
}

fn tensor(s: &Spectrogram) -> Tensor {
    Tensor::from_slice(s.values.data()).reshape([s.n_freq() as i64, s.n_frames() as i64])
}

#[test]
fn logmel_autoencoder_recon_falls_on_fsdd() {
    let ds = fsdd();
    let n = 128;
    let specs: Vec<Tensor> = (0..n)
        .map(|i| {
            let Sample::Audio(a) = ds.get((i * 17) % ds.len()).unwrap().sample else {
                panic!("audio")
            };
            tensor(&logmel(&fixed(&a)).unwrap())
        })
        .collect();
    let x = Tensor::stack(&specs, 0);
    let shape = x.size()[1..].to_vec();
    assert_eq!(shape[0], 40);
    let backbone = BackboneConfig::AudioCnn(ConvNetConfig {
        widths: vec![8, 16],
        ..Default::default()
    });
    let input = InputSpec {
        shape: shape.clone(),
        vocab_size: None,
    };
    let cfg = AutoencoderConfig::Ae(AeConfig::default());
    let mut m = cfg.instantiate(&backbone, &input, Device::Cpu, 0).unwrap();
    let mut opt = nn::Adam::default().build(m.var_store(), 3e-3).unwrap();
    let mut recon = Vec::new();
    for step in 0..40u64 {
        let b = Batch {
            views: vec![x.narrow(0, (step as i64 * 32) % n as i64, 32)],
            labels: None,
            targets: None,
            indices: None,
        };
        let info = StepInfo {
            step,
            total_steps: 40,
            epoch: 0,
            total_epochs: 1,
        };
        let out = m.step(&b, &info).unwrap();
        opt.zero_grad();
        out.loss.backward();
        opt.step();
        recon.push(out.scalars[0].1);
    }
    let first = recon[..4].iter().sum::<f64>() / 4.0;
    let last = recon[36..].iter().sum::<f64>() / 4.0;
    assert!(last < 0.8 * first, "recon {first:.4} → {last:.4}");
    assert_eq!(
        m.reconstruct(&x.narrow(0, 0, 2)).unwrap().unwrap().size(),
        [2, 40, shape[1]]
    );
}

#[test]
fn audio_dae_pipeline_pairs_share_the_crop() {
    let ds = fsdd();
    let prepare: selfsup_core::BoxTransform<Audio> = Box::new(Fixed);
    let p =
        dae_audio_pipeline(&DaeConfig::default(), Some(prepare), Some(Box::new(logmel))).unwrap();
    let item = ds.get(3).unwrap();
    let key = SampleKey::new(1, 0, 3);
    let v = p.views(item.sample.clone(), key).unwrap();
    let (Sample::Spectrogram(noisy), Sample::Spectrogram(clean)) = (&v[0], &v[1]) else {
        panic!("spectrogram views")
    };
    let Sample::Audio(a) = &item.sample else {
        panic!("audio")
    };
    let want = logmel(&fixed(a)).unwrap();
    assert_eq!(
        clean.values.data(),
        want.values.data(),
        "clean view = features of the crop"
    );
    assert_ne!(noisy.values.data(), clean.values.data());
    let again = p.views(item.sample, key).unwrap();
    assert_eq!(again[0], v[0], "same key, same noise");
}

/// `fixed` as a transform (deterministic).
struct Fixed;

impl selfsup_core::Transform<Audio> for Fixed {
    fn name(&self) -> &str {
        "Fixed"
    }
    fn apply_ctx(
        &self,
        sample: Audio,
        _ctx: &mut selfsup_core::Ctx<'_>,
    ) -> selfsup_core::Result<Audio> {
        Ok(fixed(&sample))
    }
}
