//! Backbones build from serde configs and produce `N × output_dim`; ResNets carry torchvision's
//! state-dict names, shapes and dtypes (fixture from torchvision via
//! `scripts/fixtures/contrastive_fixtures.py`) and round-trip through safetensors; heads, EMA
//! arithmetic, the cosine momentum schedule (golden values from lightly) and freezing.

use selfsup_nn::backbones::*;
use selfsup_nn::{
    build_backbone, build_frozen, copy_prefix, cosine_momentum, ema_update, set_trainable,
    BackboneConfig, LinearClassifier, ProjectionHead,
};
use serde_json::Value;
use std::collections::BTreeMap;
use tch::nn::{self, Module, ModuleT};
use tch::{Device, Kind, Tensor};

fn out_shape(cfg: &BackboneConfig, in_ch: i64, x: &Tensor) -> (Vec<i64>, i64) {
    let vs = nn::VarStore::new(Device::Cpu);
    let b = build_backbone(&vs.root(), cfg, in_ch).unwrap();
    assert_eq!(b.output_dim(), cfg.output_dim(in_ch));
    let y = b.forward_t(x, true);
    let y2 = b.forward_t(x, false);
    assert_eq!(y.size(), y2.size());
    (y.size(), b.output_dim())
}

#[test]
fn every_backbone_produces_n_by_output_dim() {
    tch::manual_seed(0);
    let img = |c, s| Tensor::rand([3, c, s, s], (Kind::Float, Device::Cpu));
    let cases: Vec<(BackboneConfig, i64, Tensor)> = vec![
        (
            BackboneConfig::Mlp(selfsup_nn::MlpConfig {
                input_dim: 784,
                hidden: vec![32],
                output_dim: 16,
                batch_norm: true,
            }),
            1,
            img(1, 28),
        ),
        (
            BackboneConfig::ConvNet(ConvNetConfig::default()),
            1,
            img(1, 28),
        ),
        (
            BackboneConfig::ConvNet(ConvNetConfig {
                widths: vec![8, 16],
                ..Default::default()
            }),
            3,
            img(3, 32),
        ),
        (
            BackboneConfig::ResNet18(ResNetConfig { stem: Stem::Cifar }),
            3,
            img(3, 32),
        ),
        (
            BackboneConfig::ResNet34(ResNetConfig::default()),
            3,
            img(3, 32),
        ),
        (
            BackboneConfig::ResNet50(ResNetConfig::default()),
            3,
            img(3, 32),
        ),
        (
            BackboneConfig::Vit(VitConfig {
                depth: 2,
                ..VitConfig::tiny(32, 8)
            }),
            3,
            img(3, 32),
        ),
        (
            BackboneConfig::AudioCnn(ConvNetConfig {
                widths: vec![8, 16, 32],
                ..Default::default()
            }),
            1,
            Tensor::rand([3, 1, 40, 101], (Kind::Float, Device::Cpu)),
        ),
        (
            // The loader collates one-channel spectrograms as N×F×T: the audio CNN adds the channel axis.
            BackboneConfig::AudioCnn(ConvNetConfig {
                widths: vec![8, 16, 32],
                ..Default::default()
            }),
            1,
            Tensor::rand([3, 40, 101], (Kind::Float, Device::Cpu)),
        ),
        (
            BackboneConfig::Conv1d(Conv1dConfig::default()),
            1,
            Tensor::rand([3, 1, 8000], (Kind::Float, Device::Cpu)),
        ),
        (
            BackboneConfig::TransformerEncoder(TransformerConfig {
                vocab_size: 50,
                max_len: 16,
                dim: 32,
                depth: 2,
                heads: 4,
                mlp_ratio: 2.0,
            }),
            1,
            Tensor::randint(50, [3, 12], (Kind::Int64, Device::Cpu)),
        ),
    ];
    for (cfg, in_ch, x) in cases {
        let (shape, d) = out_shape(&cfg, in_ch, &x);
        assert_eq!(shape, vec![3, d], "{cfg:?}");
    }
}

#[test]
fn backbone_configs_parse_and_validate() {
    let c: BackboneConfig =
        serde_json::from_str(r#"{"kind": "resnet18", "stem": "cifar"}"#).unwrap();
    assert_eq!(
        c,
        BackboneConfig::ResNet18(ResNetConfig { stem: Stem::Cifar })
    );
    let c: BackboneConfig = toml::from_str("kind = \"conv_net\"\nwidths = [16, 32]").unwrap();
    assert_eq!(
        c,
        BackboneConfig::ConvNet(ConvNetConfig {
            widths: vec![16, 32],
            ..Default::default()
        })
    );
    let c: BackboneConfig = serde_json::from_str(r#"{"kind": "conv_net"}"#).unwrap();
    assert_eq!(c, BackboneConfig::default());
    assert!(
        serde_json::from_str::<BackboneConfig>(r#"{"kind": "conv_net", "widht": [1]}"#).is_err()
    );
    assert!(serde_json::from_str::<BackboneConfig>(r#"{"kind": "resnet101"}"#).is_err());
    let bad = BackboneConfig::ConvNet(ConvNetConfig {
        widths: vec![8, 0],
        ..Default::default()
    });
    let msg = bad.validate().unwrap_err().to_string();
    assert!(msg.contains("backbone.widths[1]"), "{msg}");
    let bad = BackboneConfig::Vit(VitConfig {
        patch_size: 5,
        ..VitConfig::tiny(32, 4)
    });
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("backbone.patch_size"));
    let vs = nn::VarStore::new(Device::Cpu);
    assert!(build_backbone(&vs.root(), &BackboneConfig::default(), 0).is_err());
}

fn torchvision(name: &str) -> BTreeMap<String, (Vec<i64>, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torchvision_resnet_state_dicts.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["models"][name]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let shape = e[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_i64().unwrap())
                .collect();
            (
                e[0].as_str().unwrap().to_string(),
                (shape, e[2].as_str().unwrap().to_string()),
            )
        })
        .filter(|(k, _)| !k.starts_with("fc."))
        .collect()
}

fn ours(depth: ResNetDepth) -> (nn::VarStore, BTreeMap<String, (Vec<i64>, String)>) {
    let vs = nn::VarStore::new(Device::Cpu);
    ResNet::new(&vs.root(), depth, &ResNetConfig::default(), 3).unwrap();
    let m = vs
        .variables()
        .into_iter()
        .map(|(k, v)| {
            let dt = if v.kind() == Kind::Int64 {
                "torch.int64"
            } else {
                "torch.float32"
            };
            (k, (v.size(), dt.to_string()))
        })
        .collect();
    (vs, m)
}

#[test]
fn resnets_have_torchvision_state_dict_names_shapes_and_dtypes() {
    for (name, depth) in [
        ("resnet18", ResNetDepth::R18),
        ("resnet34", ResNetDepth::R34),
        ("resnet50", ResNetDepth::R50),
    ] {
        let want = torchvision(name);
        let (_, got) = ours(depth);
        let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
        let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name}: missing {missing:?}, extra {extra:?}"
        );
        for (k, w) in &want {
            assert_eq!(&got[k], w, "{name} {k}");
        }
    }
}

#[test]
fn resnet18_round_trips_through_safetensors_with_torchvision_names() {
    tch::manual_seed(1);
    let (vs, _) = ours(ResNetDepth::R18);
    let dir = std::env::temp_dir().join(format!("selfsup-nn-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("resnet18.safetensors");
    vs.save(&path).unwrap();
    // The file holds exactly torchvision's names (minus fc) with the right shapes.
    let named = Tensor::read_safetensors(&path).unwrap();
    let want = torchvision("resnet18");
    assert_eq!(named.len(), want.len());
    for (k, t) in &named {
        assert_eq!(t.size(), want[k].0, "{k}");
    }
    // And loads back into a freshly initialised network.
    tch::manual_seed(2);
    let (mut vs2, _) = ours(ResNetDepth::R18);
    let k = "layer3.1.conv2.weight";
    assert!(!vs.variables()[k].equal(&vs2.variables()[k]));
    vs2.load(&path).unwrap();
    let (a, b) = (vs.variables(), vs2.variables());
    assert!(a.iter().all(|(k, v)| v.equal(&b[k])));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn heads_have_the_requested_shapes() {
    let vs = nn::VarStore::new(Device::Cpu);
    let h = ProjectionHead::new(&(vs.root() / "head"), &[16, 32, 32, 8], true, true).unwrap();
    let x = Tensor::rand([5, 16], (Kind::Float, Device::Cpu));
    assert_eq!(h.forward_t(&x, true).size(), vec![5, 8]);
    let names = vs.variables();
    assert!(
        names.contains_key("head.layers.0.weight") && !names.contains_key("head.layers.0.bias")
    );
    assert!(
        names.contains_key("head.bns.1.running_mean") && names.contains_key("head.last_bn.weight")
    );
    assert!(ProjectionHead::new(&vs.root(), &[16], false, false).is_err());
    let c = LinearClassifier::new(&(vs.root() / "probe"), 16, 10).unwrap();
    assert_eq!(c.forward(&x).size(), vec![5, 10]);
}

#[test]
fn ema_update_arithmetic_and_frozen_targets() {
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let online = (&root / "online").var_copy("w", &Tensor::from_slice(&[1.0f32, 2.0, 3.0]));
    let _buf = (&root / "online").zeros_no_train("running", &[3]);
    let target = build_frozen(&(&root / "target"), |p| {
        Ok((
            p.var_copy("w", &Tensor::zeros([3], (Kind::Float, Device::Cpu))),
            p.zeros_no_train("running", &[3]),
        ))
    })
    .unwrap();
    assert!(!target.0.requires_grad());
    assert_eq!(
        vs.trainable_variables().len(),
        1,
        "only the online weight is trainable"
    );
    assert!(vs.variables().contains_key("target.w"));
    // t ← m t + (1 − m) o, twice, checked against float64 arithmetic.
    let (mut t, o) = ([0.0f64; 3], [1.0f64, 2.0, 3.0]);
    for m in [0.9, 0.5] {
        assert_eq!(
            ema_update(&vs, "target", "online", m).unwrap(),
            1,
            "buffers are not averaged"
        );
        for i in 0..3 {
            t[i] = m * t[i] + (1.0 - m) * o[i];
            let got = vs.variables()["target.w"].double_value(&[i as i64]);
            assert!((got - t[i]).abs() < 1e-6, "{got} vs {}", t[i]);
        }
    }
    copy_prefix(&vs, "online", "target").unwrap();
    assert!(vs.variables()["target.w"].equal(&online));
    assert!(ema_update(&vs, "target", "online", 1.5).is_err());
    assert!(ema_update(&vs, "nothing", "online", 0.5).is_err());
    // Freezing switches requires_grad.
    set_trainable(&vs, "online", false);
    assert!(!vs.variables()["online.w"].requires_grad());
    set_trainable(&vs, "online", true);
    assert!(vs.variables()["online.w"].requires_grad());
}

#[test]
fn cosine_momentum_matches_lightly_golden_values() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cosine_schedule.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for c in v["cases"].as_array().unwrap() {
        let got = cosine_momentum(
            c["step"].as_u64().unwrap(),
            c["max_steps"].as_u64().unwrap(),
            c["start"].as_f64().unwrap(),
            c["end"].as_f64().unwrap(),
        );
        let want = c["value"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-12, "{c}: {got} vs {want}");
    }
    // Closed form: halfway through, the mean of start and end.
    assert!((cosine_momentum(5, 11, 0.996, 1.0) - 0.998).abs() < 1e-12);
}

#[test]
fn layers_start_from_pytorchs_default_init() {
    // torch.nn.Linear / Conv2d: weights and biases U(±1/√fan_in) (kaiming_uniform_ with a = √5);
    // a uniform on ±b has standard deviation b/√3.
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let lin = selfsup_nn::layers::linear(vs.root() / "fc", 256, 512, true);
    let conv = selfsup_nn::layers::conv2d(&(vs.root() / "conv"), 64, 128, 3, 1, 1, true);
    let check = |name: &str, t: &tch::Tensor, fan_in: f64| {
        let b = 1.0 / fan_in.sqrt();
        let max = t.abs().max().double_value(&[]);
        let std = t.std(true).double_value(&[]);
        assert!(max <= b * (1.0 + 1e-6), "{name}: max {max} > bound {b}");
        assert!(max > 0.95 * b, "{name}: max {max} far below bound {b}");
        assert!(
            (std / (b / 3f64.sqrt()) - 1.0).abs() < 0.1,
            "{name}: std {std}, bound {b}"
        );
    };
    check("linear.weight", &lin.ws, 256.0);
    check("linear.bias", lin.bs.as_ref().unwrap(), 256.0);
    check("conv.weight", &conv.ws, 64.0 * 9.0);
    check("conv.bias", conv.bs.as_ref().unwrap(), 64.0 * 9.0);
}

/// `forward_map_t`: the ConvNet's and audio CNN's map before the pool, whose spatial mean is exactly
/// `forward_t`'s feature (40×51 log-mels: 51 → 25 → 12 → 6 frames, 40 → 5 bins); `None` for an MLP.
#[test]
fn feature_maps_average_to_the_features() {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = ConvNetConfig {
        widths: vec![8, 16, 32],
        ..Default::default()
    };
    let audio = build_backbone(
        &(vs.root() / "a"),
        &BackboneConfig::AudioCnn(cfg.clone()),
        1,
    )
    .unwrap();
    let x = Tensor::randn([3, 40, 51], (Kind::Float, Device::Cpu));
    let map = audio.forward_map_t(&x, false).expect("audio_cnn has a map");
    assert_eq!(map.size(), [3, 32, 5, 6]);
    let pooled = map.mean_dim(&[2i64, 3][..], false, Kind::Float);
    assert!(pooled.allclose(&audio.forward_t(&x, false), 1e-6, 1e-6, false));
    let conv = build_backbone(&(vs.root() / "c"), &BackboneConfig::ConvNet(cfg), 1).unwrap();
    let img = Tensor::randn([2, 1, 28, 28], (Kind::Float, Device::Cpu));
    assert_eq!(
        conv.forward_map_t(&img, false).unwrap().size(),
        [2, 32, 3, 3]
    );
    let mlp = build_backbone(
        &(vs.root() / "m"),
        &BackboneConfig::Mlp(selfsup_nn::MlpConfig {
            input_dim: 4,
            hidden: vec![8],
            output_dim: 4,
            batch_norm: false,
        }),
        1,
    )
    .unwrap();
    assert!(mlp
        .forward_map_t(&Tensor::zeros([2, 4], (Kind::Float, Device::Cpu)), false)
        .is_none());
}

/// `ceil_mode`: at 28 px the floor pools of the four-block ConvNet end in a 1×1 map, the max of the
/// top-left 2×2 of the fourth block's 3×3 outputs; with `ceil_mode` every output is pooled (2×2 map,
/// its mean the feature). At 32 px the two modes are the same network (same output).
#[test]
fn ceil_mode_pools_every_output_of_a_28_px_digit() {
    let build = |ceil_mode: bool| {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = BackboneConfig::ConvNet(ConvNetConfig {
            widths: vec![4, 8, 8, 8],
            ceil_mode,
        });
        let b = build_backbone(&vs.root(), &cfg, 1).unwrap();
        (vs, b)
    };
    let x = Tensor::rand([2, 1, 28, 28], (Kind::Float, Device::Cpu));
    let (_vs_f, floor) = build(false);
    let (_vs_c, ceil) = build(true);
    assert_eq!(floor.forward_map_t(&x, false).unwrap().size(), [2, 8, 1, 1]);
    let map = ceil.forward_map_t(&x, false).unwrap();
    assert_eq!(map.size(), [2, 8, 2, 2]);
    let pooled = map.mean_dim(&[2i64, 3][..], false, Kind::Float);
    assert!(pooled.allclose(&ceil.forward_t(&x, false), 1e-6, 1e-6, false));
    assert!(!floor
        .forward_t(&x, false)
        .allclose(&ceil.forward_t(&x, false), 1e-4, 1e-4, false));
    // Even sides: the same output either way.
    let img = Tensor::rand([2, 1, 32, 32], (Kind::Float, Device::Cpu));
    assert!(floor
        .forward_t(&img, false)
        .allclose(&ceil.forward_t(&img, false), 0.0, 0.0, false));
}
