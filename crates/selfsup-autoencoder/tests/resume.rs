//! Exact resume through the trainer for every auto-encoder kind: a run stopped mid-epoch (with a
//! checkpoint, as Ctrl-C does) and resumed in a fresh process replays the uninterrupted run's losses,
//! logged scalars (`recon`, `kl`, `sparsity`) and final weights bit for bit. The VAE's ε and the MAE's
//! masking noise come from libtorch's generator, which the trainer reseeds from `(seed, step)`; the
//! DAE's corruption comes from the loader, keyed by `(seed, epoch, index)`.

use selfsup_autoencoder::{
    view_pipeline, AeConfig, AutoencoderConfig, DaeConfig, MaeConfig, SparseAeConfig, VaeConfig,
};
use selfsup_core::Sample;
use selfsup_data::{Dataset, InMemory, Loader, LoaderConfig, MnistCsv};
use selfsup_nn::{BackboneConfig, Method, MlpConfig};
use selfsup_train::{OptimizerKind, Outcome, ProgressMode, TrainConfig, Trainer};
use std::sync::Arc;
use tch::nn::VarStore;
use tch::Device;

/// 48 digits of the vendored MNIST subset (a stride through the class-sorted CSV).
fn digits() -> Arc<dyn Dataset> {
    let ds = MnistCsv::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/mnist5k/mnist_5k.csv.gz"
    ))
    .expect("vendored MNIST subset");
    let samples: Vec<Sample> = (0..48)
        .map(|i| ds.get((i * 101 + 3) % 5000).unwrap().sample)
        .collect();
    Arc::new(InMemory::new(samples, None).unwrap())
}

fn models() -> Vec<(AutoencoderConfig, BackboneConfig)> {
    let mlp = BackboneConfig::Mlp(MlpConfig {
        input_dim: 784,
        hidden: vec![32],
        output_dim: 8,
        batch_norm: false,
    });
    let mae = MaeConfig {
        embed_dim: 16,
        depth: 1,
        num_heads: 2,
        decoder_embed_dim: 16,
        decoder_depth: 1,
        decoder_num_heads: 2,
        patch_size: 7,
        ..Default::default()
    };
    vec![
        (AutoencoderConfig::Ae(AeConfig::default()), mlp.clone()),
        (AutoencoderConfig::Dae(DaeConfig::default()), mlp.clone()),
        (
            AutoencoderConfig::SparseAe(SparseAeConfig::default()),
            mlp.clone(),
        ),
        (AutoencoderConfig::Vae(VaeConfig::default()), mlp.clone()),
        (AutoencoderConfig::Mae(mae), BackboneConfig::default()),
    ]
}

fn build(cfg: &AutoencoderConfig, backbone: &BackboneConfig, seed: i64) -> Box<dyn Method> {
    tch::manual_seed(seed);
    cfg.build_in(VarStore::new(Device::Cpu), backbone, &[1, 28, 28])
        .unwrap()
}

fn weights(m: &dyn Method) -> Vec<(String, Vec<f32>)> {
    let mut v: Vec<_> = m
        .var_store()
        .variables()
        .into_iter()
        .map(|(n, t)| (n, Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn every_autoencoder_resumes_exactly() {
    let data = digits();
    for (cfg, backbone) in models() {
        let kind = cfg.name();
        let loader = Loader::new(
            data.clone(),
            view_pipeline(&cfg).unwrap(),
            LoaderConfig {
                batch_size: 12,
                shuffle: true,
                drop_last: true,
                num_threads: 2,
                seed: 5,
                ..Default::default()
            },
        )
        .unwrap();
        let mut tc = TrainConfig {
            epochs: 2, // 4 batches per epoch, 8 steps
            seed: 7,
            log_every: 1,
            progress: ProgressMode::Off,
            ..Default::default()
        };
        tc.optimizer.kind = OptimizerKind::Adamw;
        tc.optimizer.weight_decay = 0.05;
        tc.optimizer.betas = [0.9, 0.95];
        tc.schedule.warmup_epochs = 1.0;

        let mut full = Trainer::new(build(&cfg, &backbone, 1), tc.clone(), None).unwrap();
        assert_eq!(full.run(&loader).unwrap(), Outcome::Finished);
        let expected = full.history().to_vec();
        assert_eq!(expected.len(), 8, "{kind}");
        let names: Vec<&str> = expected[0]
            .scalars
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert!(names.contains(&"recon"), "{kind}: {names:?}");

        let dir = tempfile::tempdir().unwrap();
        let mut a = Trainer::new(build(&cfg, &backbone, 1), tc.clone(), Some(dir.path()))
            .unwrap()
            .stop_at_step(3);
        let out = a.run(&loader).unwrap();
        assert!(
            matches!(
                out,
                Outcome::Interrupted {
                    step: 3,
                    checkpoint: Some(_)
                }
            ),
            "{kind}: {out:?}"
        );
        let mut got = a.history().to_vec();
        drop(a);
        // A fresh process: other initial weights, so everything must come from the checkpoint.
        let mut b = Trainer::new(build(&cfg, &backbone, 99), tc.clone(), Some(dir.path())).unwrap();
        assert!(b.resume().unwrap(), "{kind}");
        assert_eq!(b.step(), 3, "{kind}");
        assert_eq!(b.run(&loader).unwrap(), Outcome::Finished, "{kind}");
        got.extend(b.history().iter().cloned());
        assert_eq!(got, expected, "{kind}: the resumed run differs");
        assert_eq!(
            weights(b.method()),
            weights(full.method()),
            "{kind}: final weights differ"
        );
    }
}
