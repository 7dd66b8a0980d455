//! Pretext methods (feature `torch`): a tiny ConvNet with the rotation head trained a few dozen
//! steps on the vendored MNIST subset beats chance on held-out images; the other heads take their
//! generators' batches and train without shape errors; missing targets are errors, not panics.
#![cfg(feature = "torch")]
#![allow(clippy::print_stderr)] // the tests report the figures they measure

use selfsup_core::{Sample, SampleKey};
use selfsup_data::{Dataset, MnistCsv};
use selfsup_nn::backbones::ConvNetConfig;
use selfsup_nn::{BackboneConfig, Batch, Method, StepInfo};
use selfsup_pretext::methods::PretextMethod;
use selfsup_pretext::{pretext_generator, PretextConfig, Target};
use tch::nn::{OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

fn mnist() -> MnistCsv {
    MnistCsv::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/mnist5k/mnist_5k.csv.gz"
    ))
    .unwrap()
}

fn to_tensor(s: &Sample) -> Tensor {
    match s {
        Sample::Image(img) => {
            let (c, h, w) = img.dims();
            Tensor::from_slice(img.data()).reshape([c as i64, h as i64, w as i64])
        }
        Sample::Spectrogram(sp) => {
            let (c, h, w) = sp.values.dims();
            Tensor::from_slice(sp.values.data()).reshape([c as i64, h as i64, w as i64])
        }
        Sample::Tokens(t) => Tensor::from_slice(&t.ids),
        _ => panic!("unexpected view"),
    }
}

/// Collates generator outputs as the loader will: views stacked per view, targets stacked.
fn batch(cfg: &PretextConfig, samples: &[Sample], epoch: u64, first: u64) -> Batch {
    let g = pretext_generator(cfg).unwrap();
    let mut views: Vec<Vec<Tensor>> = (0..g.n_views()).map(|_| Vec::new()).collect();
    let mut targets = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let (vs, t) = g
            .generate_keyed(s, SampleKey::new(0, epoch, first + i as u64))
            .unwrap();
        for (v, x) in vs.iter().enumerate() {
            views[v].push(to_tensor(x));
        }
        targets.push(match t {
            Target::Class(k) => Tensor::from(k),
            Target::Dense(d) => to_tensor(&d),
        });
    }
    Batch {
        views: views.iter().map(|v| Tensor::stack(v, 0)).collect(),
        labels: None,
        targets: Some(Tensor::stack(&targets, 0)),
        indices: None,
    }
}

fn tiny() -> BackboneConfig {
    BackboneConfig::ConvNet(ConvNetConfig {
        widths: vec![16, 32],
        ..Default::default()
    })
}

fn info(step: u64) -> StepInfo {
    StepInfo {
        step,
        total_steps: 40,
        epoch: 0,
        total_epochs: 1,
    }
}

fn images(ds: &MnistCsv, range: std::ops::Range<usize>) -> Vec<Sample> {
    range.map(|i| ds.get(i).unwrap().sample).collect()
}

const STEPS: usize = 60;

/// The full path: `pretext_pipeline` in a real `Loader` (4 threads), `host_to_device`, a method built
/// through `MethodSpec::instantiate`; the held-out split is scored with `predict` and `evaluate`.
#[test]
fn rotation_head_beats_chance_on_mnist() {
    use selfsup_data::{Loader, LoaderConfig, Subset};
    use selfsup_nn::{host_to_device, InputSpec, MethodSpec};
    use std::sync::Arc;
    let ds: Arc<dyn Dataset> = Arc::new(mnist());
    let split = |r: std::ops::Range<usize>| -> Arc<dyn Dataset> {
        Arc::new(Subset::new(ds.clone(), r.collect()).unwrap())
    };
    let cfg = PretextConfig::from_kind("rotation").unwrap();
    let loader = |d: Arc<dyn Dataset>, batch_size: usize| {
        let pipe = selfsup_pretext::pretext_pipeline(&cfg, None).unwrap();
        let c = LoaderConfig {
            batch_size,
            num_threads: 4,
            seed: 5,
            ..Default::default()
        };
        Loader::new(d, pipe, c).unwrap()
    };
    let train = loader(split(0..4000), 64);
    let held = loader(split(4000..4512), 512);
    let backbone = BackboneConfig::ConvNet(ConvNetConfig {
        widths: vec![16, 32, 64],
        ..Default::default()
    });
    let mut m = cfg
        .instantiate(&backbone, &InputSpec::image(1, 28, 28), Device::Cpu, 0)
        .unwrap();
    assert_eq!(cfg.min_views(), 1);
    let mut opt = tch::nn::Adam::default().build(m.var_store(), 3e-3).unwrap();
    let mut accs = Vec::new();
    for (step, hb) in train.epoch_from(0, 0).take(STEPS).enumerate() {
        let b = host_to_device(&hb.unwrap(), Device::Cpu).unwrap();
        assert_eq!(b.targets.as_ref().unwrap().kind(), Kind::Int64);
        let out = m.step(&b, &info(step as u64)).unwrap();
        opt.backward_step(&out.loss);
        accs.push(out.scalars[0].1);
    }
    assert_eq!(accs.len(), STEPS);
    let hb = held.epoch_from(0, 0).next().unwrap().unwrap();
    let b = host_to_device(&hb, Device::Cpu).unwrap();
    let metrics = m.evaluate(&b).unwrap();
    let acc = metrics.iter().find(|(k, _)| k == "pretext_acc").unwrap().1;
    eprintln!(
        "rotation: train pretext_acc first {:.3} last {:.3}; held-out {metrics:?} (chance 0.25)",
        accs[0],
        accs[STEPS - 1]
    );
    // Chance is 0.25 with a standard deviation of 0.019 over 512 held-out images; 0.40 is 8 of them.
    // (Measured 0.57-0.74: the other test of this file draws from libtorch's global generator at the
    // same time, so initial weights vary between runs.)
    assert!(acc > 0.40, "held-out rotation accuracy {acc}");
}

#[test]
fn every_head_trains_on_its_generators_batches() {
    tch::manual_seed(1);
    let ds = mnist();
    let imgs = images(&ds, 0..16);
    let mut g = selfsup_core::Generator::seed_from_u64(3);
    let rgb: Vec<Sample> = (0..16)
        .map(|_| {
            let d = (0..3 * 32 * 32).map(|_| g.next_f64() as f32).collect();
            Sample::Image(selfsup_core::ImageF32::new(3, 32, 32, d).unwrap())
        })
        .collect();
    let specs: Vec<Sample> = (0..16)
        .map(|_| {
            let d = (0..16 * 30).map(|_| g.normal() as f32).collect();
            Sample::Spectrogram(selfsup_core::Spectrogram::new(1, 16, 30, d).unwrap())
        })
        .collect();
    let cases: Vec<(&str, &str, &[Sample], Vec<i64>)> = vec![
        (
            "rotation",
            "kind = \"rotation\"\nall_four = true",
            &imgs,
            vec![1, 28, 28],
        ),
        ("jigsaw", "kind = \"jigsaw\"", &imgs, vec![1, 28, 28]),
        (
            "jigsaw",
            "kind = \"jigsaw\"\nassemble_views = true\nnormalize_tiles = false",
            &imgs,
            vec![1, 28, 28],
        ),
        (
            "relative_position",
            "kind = \"relative_position\"",
            &rgb,
            vec![3, 32, 32],
        ),
        (
            "relative_position",
            "kind = \"relative_position\"\nwhole_image_stats = true",
            &rgb,
            vec![3, 32, 32],
        ),
        (
            "colorization",
            "kind = \"colorization\"",
            &rgb,
            vec![3, 32, 32],
        ),
        (
            "colorization",
            "kind = \"colorization\"\nmode = \"classification\"",
            &rgb,
            vec![3, 32, 32],
        ),
        (
            "inpainting",
            "kind = \"inpainting\"\nregion = \"blockwise\"",
            &imgs,
            vec![1, 28, 28],
        ),
        (
            "masked_spectrogram",
            "kind = \"masked_spectrogram\"",
            &specs,
            vec![16, 30],
        ),
        (
            "masked_spectrogram",
            "kind = \"masked_spectrogram\"\ndecoder = \"mlp\"",
            &specs,
            vec![16, 30],
        ),
        (
            "temporal_order",
            "kind = \"temporal_order\"",
            &specs,
            vec![16, 30],
        ),
        (
            "temporal_order",
            "kind = \"temporal_order\"\nassemble_views = true",
            &specs,
            vec![16, 30],
        ),
    ];
    for (kind, text, samples, shape) in cases {
        let cfg: PretextConfig = toml::from_str(text).unwrap();
        let mut m = PretextMethod::new(VarStore::new(Device::Cpu), &cfg, &tiny(), &shape).unwrap();
        assert_eq!(m.name(), kind);
        let mut opt = tch::nn::Adam::default().build(m.var_store(), 1e-3).unwrap();
        let b = batch(&cfg, samples, 0, 0);
        let first = m.step(&b, &info(0)).unwrap();
        let l0 = first.loss.double_value(&[]);
        assert!(l0.is_finite(), "{kind}: loss {l0}");
        opt.backward_step(&first.loss);
        for s in 1..5 {
            let out = m.step(&b, &info(s)).unwrap();
            opt.backward_step(&out.loss);
        }
        let l5 = m.step(&b, &info(5)).unwrap().loss.double_value(&[]);
        assert!(
            l5 < l0,
            "{kind}: loss did not fall on a repeated batch ({l0} -> {l5})"
        );
        let x = b.views[0].shallow_clone();
        let x = if kind == "colorization" {
            Tensor::stack(&samples.iter().map(to_tensor).collect::<Vec<_>>(), 0)
        } else {
            x
        };
        assert_eq!(m.embed(&x).unwrap().size(), [16, 32], "{kind}");
        // A batch without targets is an error, not a panic.
        let no_t = Batch {
            views: b.views.iter().map(|v| v.shallow_clone()).collect(),
            labels: None,
            targets: None,
            indices: None,
        };
        assert!(m.step(&no_t, &info(0)).is_err());
    }
}

/// Masked spectrogram modelling's conv decoder: predictions at the spectrogram's size from the
/// backbone's feature map, and a loss that reads the masked cells only.
#[test]
fn masked_spectrogram_conv_decoder_fits_the_shape_and_scores_masked_cells_only() {
    tch::manual_seed(2);
    let mut g = selfsup_core::Generator::seed_from_u64(5);
    // 16×30 spectrograms: the tiny ConvNet's map is 32×4×7, the decoder goes 8×15 → 16×30.
    let specs: Vec<Sample> = (0..8)
        .map(|_| {
            let d = (0..16 * 30).map(|_| g.normal() as f32).collect();
            Sample::Spectrogram(selfsup_core::Spectrogram::new(1, 16, 30, d).unwrap())
        })
        .collect();
    let cfg: PretextConfig =
        toml::from_str("kind = \"masked_spectrogram\"\ndecoder_widths = [16, 8]").unwrap();
    let mut m = PretextMethod::new(VarStore::new(Device::Cpu), &cfg, &tiny(), &[16, 30]).unwrap();
    let names: Vec<String> = m.var_store().variables().into_keys().collect();
    assert!(
        names.iter().any(|n| n == "decoder.blocks.1.conv.weight")
            && names.iter().any(|n| n == "decoder.out.weight")
            && !names.iter().any(|n| n.starts_with("decoder.fc")),
        "not the conv decoder: {names:?}"
    );
    let b = batch(&cfg, &specs, 0, 0);
    let pred = m.decode(&b.views[0], false).unwrap();
    assert_eq!(pred.size(), [8, 1, 16, 30]);
    let t = b.targets.as_ref().unwrap(); // N×2×16×30: values, mask
    let mask = t.narrow(1, 1, 1);
    let frac = mask.mean(Kind::Float).double_value(&[]);
    assert!((0.2..0.8).contains(&frac), "masked fraction {frac}");
    let loss_of = |m: &mut PretextMethod, targets: Tensor| {
        let b2 = Batch {
            views: b.views.iter().map(|v| v.shallow_clone()).collect(),
            labels: None,
            targets: Some(targets),
            indices: None,
        };
        m.step(&b2, &info(0)).unwrap().loss.double_value(&[])
    };
    let base = loss_of(&mut m, t.copy());
    // Changing the values of the visible cells leaves the loss as it is ...
    let visible = mask.eq(0.0).to_kind(Kind::Float);
    let changed = t.copy();
    let _ = changed.narrow(1, 0, 1).g_add_(&(&visible * 100.0));
    let same = loss_of(&mut m, changed);
    assert!(
        (same - base).abs() < 1e-6 * base.abs().max(1.0),
        "{base} vs {same}"
    );
    // ... and changing the masked ones does not.
    let changed = t.copy();
    let _ = changed.narrow(1, 0, 1).g_add_(&(&mask * 100.0));
    let moved = loss_of(&mut m, changed);
    assert!(moved > base + 1.0, "{base} vs {moved}");
}

/// Conv decoder or assembled temporal order on a backbone without a feature map: a clear error
/// naming the field.
#[test]
fn map_heads_on_an_mlp_backbone_name_the_field() {
    let mlp = BackboneConfig::Mlp(selfsup_nn::MlpConfig {
        input_dim: 16 * 30,
        hidden: vec![32],
        output_dim: 32,
        batch_norm: false,
    });
    for (text, field) in [
        (
            "kind = \"masked_spectrogram\"\ndecoder = \"conv\"",
            "method.decoder",
        ),
        (
            "kind = \"temporal_order\"\nassemble_views = true",
            "method.assemble_views",
        ),
    ] {
        let cfg: PretextConfig = toml::from_str(text).unwrap();
        let e = PretextMethod::new(VarStore::new(Device::Cpu), &cfg, &mlp, &[16, 30])
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{e}");
    }
    // `auto` falls back to the MLP decoder there.
    let cfg: PretextConfig = toml::from_str("kind = \"masked_spectrogram\"").unwrap();
    assert!(PretextMethod::new(VarStore::new(Device::Cpu), &cfg, &mlp, &[16, 30]).is_ok());
}

/// `normalize_frames`: with `mean` every frame of the result has mean 0 over its bins and channels,
/// with `standardize` also a (biased) standard deviation of 1, a constant frame becomes 0; `none`
/// leaves the input as it is.
#[test]
fn frame_norm_zeroes_each_frames_mean() {
    use selfsup_pretext::audio::FrameNorm;
    use selfsup_pretext::methods::normalize_frames;
    tch::manual_seed(3);
    // N×C×F×T with a per-frame offset and scale, and one constant (silent) frame.
    let x = Tensor::randn([2, 2, 8, 5], (Kind::Float, Device::Cpu)) * 3.0
        + Tensor::arange(5, (Kind::Float, Device::Cpu)).view([1, 1, 1, 5]) * 7.0;
    let _ = x.narrow(3, 4, 1).fill_(-4.0);
    let mean = |t: &Tensor| t.mean_dim(&[1i64, 2][..], false, Kind::Float);
    let m = normalize_frames(&x, FrameNorm::Mean);
    assert!(mean(&m).abs().max().double_value(&[]) < 1e-5);
    assert!(mean(&x).abs().max().double_value(&[]) > 1.0); // the input's were not
                                                           // The mean removal keeps the spectral shape: frame-wise differences are unchanged.
    let dx = x.narrow(2, 1, 7) - x.narrow(2, 0, 7);
    let dm = m.narrow(2, 1, 7) - m.narrow(2, 0, 7);
    assert!(dx.allclose(&dm, 1e-4, 1e-4, false));
    let s = normalize_frames(&x, FrameNorm::Standardize);
    assert!(mean(&s).abs().max().double_value(&[]) < 1e-5);
    let sd = mean(&s.square()).sqrt();
    let sd_voiced = sd.narrow(1, 0, 4);
    assert!((sd_voiced - 1.0).abs().max().double_value(&[]) < 1e-3);
    assert!(s.narrow(3, 4, 1).abs().max().double_value(&[]) < 1e-6);
    // 3-D N×F×T batches: per frame over F.
    let x3 = x.select(1, 0);
    let m3 = normalize_frames(&x3, FrameNorm::Mean);
    assert!(
        m3.mean_dim(1, false, Kind::Float)
            .abs()
            .max()
            .double_value(&[])
            < 1e-5
    );
    assert!(normalize_frames(&x, FrameNorm::None).equal(&x));
}

/// Temporal order with `frame_norm = "mean"`: the encoder the evaluation reads (`embed`) and the
/// task's input are blind to a per-frame gain (an added constant per log-mel frame); without it
/// they are not.
#[test]
fn temporal_order_frame_norm_makes_embed_and_task_blind_to_loudness() {
    let audio = BackboneConfig::AudioCnn(ConvNetConfig {
        widths: vec![8, 16],
        ..Default::default()
    });
    tch::manual_seed(5);
    let x = Tensor::randn([4, 1, 16, 30], (Kind::Float, Device::Cpu));
    let gain = Tensor::randn([4, 1, 1, 30], (Kind::Float, Device::Cpu)) * 2.0;
    let loud = &x + &gain;
    for (norm, blind) in [("mean", true), ("standardize", true), ("none", false)] {
        let cfg: PretextConfig = toml::from_str(&format!(
            "kind = \"temporal_order\"\nassemble_views = true\nframe_norm = \"{norm}\""
        ))
        .unwrap();
        let m = PretextMethod::new(VarStore::new(Device::Cpu), &cfg, &audio, &[16, 30]).unwrap();
        let (a, b) = (m.embed(&x).unwrap(), m.embed(&loud).unwrap());
        assert_eq!(a.allclose(&b, 1e-4, 1e-4, false), blind, "embed, {norm}");
        let batch = |v: &Tensor| Batch {
            views: vec![v.shallow_clone()],
            labels: None,
            targets: Some(Tensor::from_slice(&[0i64, 1, 2, 3])),
            indices: None,
        };
        let (pa, pb) = (
            m.predict(&batch(&x)).unwrap(),
            m.predict(&batch(&loud)).unwrap(),
        );
        if blind {
            assert!(pa.equal(&pb), "task input, {norm}");
        }
    }
}

/// Copies of the backbone's batch-norm running statistics (`running_mean` / `running_var`), by name.
fn bn_stats(m: &PretextMethod) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = m
        .var_store()
        .variables()
        .into_iter()
        .filter(|(k, _)| k.contains("running_"))
        .map(|(k, t)| (k, t.detach().copy())) // a snapshot, not the live buffer
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Relative position with `whole_image_stats`: after a step, its backward pass and
/// `after_optimizer_step`, the running statistics are those of the whole images alone — the same
/// for two batches of the same images with different patches, and moved from the initial ones;
/// without the option the patches set them (they differ).
#[test]
fn whole_image_stats_take_batch_norm_statistics_from_the_whole_images_only() {
    let ds = mnist();
    let imgs = images(&ds, 0..32);
    let stats_after_step = |text: &str, epoch: u64| {
        let cfg: PretextConfig = toml::from_str(text).unwrap();
        tch::manual_seed(7);
        let mut m =
            PretextMethod::new(VarStore::new(Device::Cpu), &cfg, &tiny(), &[1, 28, 28]).unwrap();
        let init = bn_stats(&m);
        let b = batch(&cfg, &imgs, epoch, 0);
        let loss = m.step(&b, &info(0)).unwrap().loss;
        assert!(loss.double_value(&[]).is_finite());
        loss.backward();
        m.after_optimizer_step(&info(0)).unwrap();
        (init, bn_stats(&m))
    };
    let same = |a: &[(String, Tensor)], b: &[(String, Tensor)]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|((ka, ta), (kb, tb))| ka == kb && ta.allclose(tb, 1e-6, 1e-7, false))
    };
    let on = "kind = \"relative_position\"\ngap = 0.0\nwhole_image_stats = true";
    let (init, e0) = stats_after_step(on, 0);
    let (_, e1) = stats_after_step(on, 1);
    assert!(!init.is_empty());
    assert!(
        same(&e0, &e1),
        "whole-image statistics depend on the patches"
    );
    assert!(!same(&init, &e0), "the running statistics did not move");
    let off = "kind = \"relative_position\"\ngap = 0.0";
    let (_, p0) = stats_after_step(off, 0);
    let (_, p1) = stats_after_step(off, 1);
    assert!(
        !same(&p0, &p1),
        "the control: patch statistics should differ"
    );
    assert!(!same(&p0, &e0));
}
