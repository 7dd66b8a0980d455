//! A method of your own, trained by the library: `AlignUniform` implements `selfsup::nn::Method`
//! (Wang & Isola, 2020: pull the two views of a sample together on the unit sphere and spread all
//! samples over it, `L = E‖z₀ − z₁‖² + ½(log E e^{−t‖zᵢ − zⱼ‖²}|view 0 + |view 1)`), on a backbone
//! from `selfsup::nn::build_backbone`. The vendored MNIST subset goes through the main job's
//! two-view recipe and the deterministic `Loader` straight into `selfsup::train::Trainer`, with the
//! online linear probe fed by the features the step returns (`StepOutput::with_features`). kNN
//! accuracy on the held-out 20 % before and after; the program fails if training does not beat the
//! random initialisation.
//!
//! `cargo run --release -p selfsup-examples --example custom_method [epochs]`

use anyhow::Result;
use selfsup::augment::image::digit::DigitConfig;
use selfsup::data::{train_val_split, Dataset, Loader, LoaderConfig, MnistCsv, ViewPipeline};
use selfsup::nn::{build_backbone, Backbone, BackboneConfig, Batch, Method, StepInfo, StepOutput};
use selfsup::train::eval::{embed_source, knn_accuracy, KnnConfig};
use selfsup::train::{TrainConfig, Trainer};
use std::sync::Arc;
use tch::nn::{self, Module, VarStore};
use tch::{Kind, Tensor};

/// The user's method: encoder + linear projection to the unit sphere, alignment + uniformity loss.
struct AlignUniform {
    vs: VarStore,
    backbone: Box<dyn Backbone>,
    head: nn::Linear,
    /// The uniformity temperature `t` (2 in the paper).
    t: f64,
}

impl AlignUniform {
    fn new(vs: VarStore, backbone: &BackboneConfig, in_channels: i64, dim: i64) -> Result<Self> {
        // Variables under `backbone.*` are what `Method::encoder_prefix` names (and `export` writes).
        let b = build_backbone(&(vs.root() / "backbone"), backbone, in_channels)?;
        let head = nn::linear(
            vs.root() / "projection_head",
            b.output_dim(),
            dim,
            Default::default(),
        );
        Ok(AlignUniform {
            vs,
            backbone: b,
            head,
            t: 2.0,
        })
    }

    /// Backbone features and unit-norm projections, in training mode.
    fn forward(&self, x: &Tensor) -> (Tensor, Tensor) {
        let h = self.backbone.forward_t(x, true);
        let z = self.head.forward(&h);
        let n = z
            .norm_scalaropt_dim(2.0, [1i64].as_slice(), true)
            .clamp_min(1e-12);
        (h, z / n)
    }

    fn uniformity(&self, z: &Tensor) -> Tensor {
        (z.pdist(2.0).square() * -self.t)
            .exp()
            .mean(Kind::Float)
            .log()
    }
}

impl Method for AlignUniform {
    fn name(&self) -> &str {
        "align_uniform"
    }

    fn var_store(&self) -> &VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn step(&mut self, batch: &Batch, _info: &StepInfo) -> selfsup::nn::Result<StepOutput> {
        let (h0, z0) = self.forward(&batch.views[0]);
        let (_, z1) = self.forward(&batch.views[1]);
        let align = (&z0 - &z1)
            .square()
            .sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
        let align = align.mean(Kind::Float);
        let uniform = (self.uniformity(&z0) + self.uniformity(&z1)) * 0.5;
        let scalars = vec![
            ("align".to_string(), align.double_value(&[])),
            ("uniform".to_string(), uniform.double_value(&[])),
        ];
        // Returning the step's encoder features spares the online probe a second forward pass.
        Ok(StepOutput::new(align + uniform, scalars).with_features(&h0))
    }

    fn embed(&self, x: &Tensor) -> selfsup::nn::Result<Tensor> {
        Ok(tch::no_grad(|| self.backbone.forward_t(x, false)))
    }

    fn embed_dim(&self) -> i64 {
        self.backbone.output_dim()
    }
}

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
    let train_loader = loader(
        train.clone(),
        ViewPipeline::Image(DigitConfig::default().build()?),
        true,
    )?;
    let bank = loader(train, ViewPipeline::Identity, false)?;
    let query = loader(val, ViewPipeline::Identity, false)?;

    // Initial weights are a function of the seed.
    tch::manual_seed(0);
    let method = AlignUniform::new(
        VarStore::new(tch::Device::Cpu),
        &BackboneConfig::default(),
        1,
        128,
    )?;
    let before = knn(&method, &bank, &query)?;

    let cfg = TrainConfig {
        epochs,
        ..Default::default()
    };
    let mut trainer = Trainer::new(Box::new(method), cfg, None)?.with_online_probe(10, 1e-2)?;
    trainer.run(&train_loader)?;
    let probe = trainer
        .epoch_scalar_means()
        .into_iter()
        .find(|(k, _)| k == "online_probe_acc")
        .map(|(_, v)| v);
    let after = knn(trainer.method(), &bank, &query)?;
    tracing::info!(
        epochs,
        before,
        after,
        ?probe,
        "kNN accuracy on the held-out 20 % (online probe: last epoch's training batches)"
    );
    anyhow::ensure!(
        after > before,
        "training did not beat the random initialisation"
    );
    Ok(())
}
