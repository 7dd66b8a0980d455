//! A training run built from the library crates alone (no `selfsup-cli`): the vendored MNIST subset,
//! the main job's two-view recipe from `selfsup-augment`, the deterministic `Loader` of `selfsup-data`
//! handed straight to the `Trainer` (it is a `BatchSource`), SimCLR built through its `MethodSpec`, and
//! kNN before and after from `selfsup_train::eval`, streamed batch by batch.
//!
//! `cargo run --release -p selfsup-examples --example library_loop [epochs]`

use anyhow::Result;
use selfsup::augment::image::digit::DigitConfig;
use selfsup::data::{train_val_split, Dataset, Loader, LoaderConfig, MnistCsv, ViewPipeline};
use selfsup::nn::{BackboneConfig, InputSpec, Method, MethodSpec};
use selfsup::train::eval::{embed_source, knn_accuracy, KnnConfig};
use selfsup::train::{TrainConfig, Trainer};
use std::sync::Arc;

fn loader(ds: Arc<dyn Dataset>, pipeline: ViewPipeline, shuffle: bool) -> Result<Loader> {
    let cfg = LoaderConfig {
        batch_size: 256,
        shuffle,
        drop_last: shuffle,
        seed: 0,
        ..Default::default()
    };
    Ok(Loader::new(ds, pipeline, cfg)?)
}

fn knn(method: &dyn Method, bank: &Loader, query: &Loader) -> Result<f64> {
    let (bx, by) = embed_source(method, bank)?;
    let (qx, qy) = embed_source(method, query)?;
    Ok(knn_accuracy(&bx, &by, &qx, &qy, 10, &KnnConfig::default())?)
}

fn main() -> Result<()> {
    selfsup_examples::init_logging();
    let epochs = selfsup_examples::epochs_arg(3)?;
    let all: Arc<dyn Dataset> = Arc::new(MnistCsv::new("data/mnist5k/mnist_5k.csv.gz")?);
    let (train, val) = train_val_split(all, 0.2, 0, true)?;
    let (train, val): (Arc<dyn Dataset>, Arc<dyn Dataset>) = (Arc::new(train), Arc::new(val));

    let views = ViewPipeline::Image(DigitConfig::default().build()?);
    let train_loader = loader(train.clone(), views, true)?;
    let bank = loader(train, ViewPipeline::Identity, false)?;
    let query = loader(val, ViewPipeline::Identity, false)?;

    let method_cfg = selfsup::contrastive::MethodConfig::default(); // SimCLR
    let backbone = BackboneConfig::default(); // a small ConvNet
    let method =
        method_cfg.instantiate(&backbone, &InputSpec::image(1, 28, 28), tch::Device::Cpu, 0)?;
    let before = knn(method.as_ref(), &bank, &query)?;

    let cfg = TrainConfig {
        epochs,
        ..Default::default()
    };
    let mut trainer = Trainer::new(method, cfg, None)?;
    trainer.run(&train_loader)?;
    let after = knn(trainer.method(), &bank, &query)?;
    tracing::info!(epochs, before, after, "kNN accuracy on the held-out 20 %");
    anyhow::ensure!(
        after > before,
        "pretraining did not beat the random initialisation"
    );
    Ok(())
}
