//! TorchScript export of the encoder (`selfsup_train::export`): the traced module, saved and loaded
//! back with `tch::CModule::load`, computes what `Method::embed` computes, for the ConvNet, a ResNet and
//! the audio CNN; a trace that froze a batch-size-dependent branch is refused.

use selfsup_nn::backbones::{build_backbone, Backbone, ConvNetConfig, ResNetConfig, Stem};
use selfsup_nn::{BackboneConfig, Batch, InputSpec, Method, StepInfo, StepOutput};
use selfsup_train::export::{example_input, save_torchscript, trace_encoder};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// A backbone as a method (the export only needs `embed`); `batch_branch` makes `embed` depend on
/// the batch size, which a trace cannot follow.
struct Encoder {
    vs: VarStore,
    net: Box<dyn Backbone>,
    batch_branch: bool,
}

impl Encoder {
    fn new(cfg: &BackboneConfig, in_channels: i64) -> Self {
        tch::manual_seed(3);
        let vs = VarStore::new(Device::Cpu);
        let net = build_backbone(&(vs.root() / "backbone"), cfg, in_channels).unwrap();
        // Non-trivial BatchNorm statistics, so that eval mode (running statistics) is what is tested.
        tch::no_grad(|| {
            for (name, mut t) in vs.variables() {
                if name.ends_with("running_mean") {
                    t.copy_(&(Tensor::randn(t.size(), (Kind::Float, Device::Cpu)) * 0.1));
                } else if name.ends_with("running_var") {
                    t.copy_(&(Tensor::rand(t.size(), (Kind::Float, Device::Cpu)) + 0.5));
                }
            }
        });
        Encoder {
            vs,
            net,
            batch_branch: false,
        }
    }
}

impl Method for Encoder {
    fn name(&self) -> &str {
        "encoder"
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }
    fn step(&mut self, _: &Batch, _: &StepInfo) -> selfsup_nn::Result<StepOutput> {
        unreachable!("not trained here")
    }
    fn embed(&self, x: &Tensor) -> selfsup_nn::Result<Tensor> {
        let f = tch::no_grad(|| self.net.forward_t(x, false));
        Ok(if self.batch_branch && x.size()[0] == 2 {
            f * 2.0
        } else {
            f
        })
    }
    fn embed_dim(&self) -> i64 {
        self.net.output_dim()
    }
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    f64::try_from((a - b).abs().max()).unwrap()
}

/// Saves the encoder as TorchScript, loads it back and compares with `embed` on a fresh batch.
fn round_trip(cfg: BackboneConfig, input: InputSpec) {
    let m = Encoder::new(&cfg, input.channels());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("encoder.pt");
    save_torchscript(&m, &input, &path).unwrap();
    // Nothing but the file is left in the folder (the staging file is gone).
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["encoder.pt"]);
    let loaded = tch::CModule::load(&path).unwrap();
    let x = Tensor::rand(
        [5].iter().chain(&input.shape).copied().collect::<Vec<_>>(),
        (Kind::Float, Device::Cpu),
    );
    let want = m.embed(&x).unwrap();
    let got = tch::no_grad(|| loaded.forward_ts(&[&x])).unwrap();
    assert_eq!(got.size(), [5, m.embed_dim()]);
    assert!(max_diff(&got, &want) < 1e-5, "{}", max_diff(&got, &want));
    // The variables are trainable again after the trace (it turns requires_grad off while it runs).
    assert!(m.vs.trainable_variables().iter().all(|t| t.requires_grad()));
    // The features are not constant (a real encoder, not a zero output).
    assert!(f64::try_from(want.std(false)).unwrap() > 1e-4);
}

#[test]
fn the_traced_conv_net_matches_embed() {
    let cfg = BackboneConfig::ConvNet(ConvNetConfig {
        widths: vec![4, 8],
        ..Default::default()
    });
    round_trip(cfg, InputSpec::image(1, 28, 28));
}

#[test]
fn the_traced_resnet_matches_embed() {
    let cfg = BackboneConfig::ResNet18(ResNetConfig { stem: Stem::Cifar });
    round_trip(cfg, InputSpec::image(3, 16, 16));
}

#[test]
fn the_traced_audio_cnn_matches_embed() {
    let cfg = BackboneConfig::AudioCnn(ConvNetConfig {
        widths: vec![4, 8],
        ..Default::default()
    });
    // N×mels×frames, as the loader collates log-mel spectrograms.
    round_trip(
        cfg,
        InputSpec {
            shape: vec![40, 51],
            vocab_size: None,
        },
    );
}

#[test]
fn a_trace_that_froze_a_batch_size_branch_is_refused() {
    let cfg = BackboneConfig::ConvNet(ConvNetConfig {
        widths: vec![4],
        ..Default::default()
    });
    let input = InputSpec::image(1, 8, 8);
    let mut m = Encoder::new(&cfg, 1);
    m.batch_branch = true;
    let Err(err) = trace_encoder(&m, &example_input(&input, 2, Device::Cpu)) else {
        panic!("the trace check must fail");
    };
    let err = err.to_string();
    assert!(
        err.contains("export.torchscript") && err.contains("differs from `embed`"),
        "{err}"
    );
    // Without the branch the same trace passes.
    m.batch_branch = false;
    trace_encoder(&m, &example_input(&input, 2, Device::Cpu)).unwrap();
}
