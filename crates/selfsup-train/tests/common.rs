//! Shared helpers of the trainer tests: a tiny method with dropout and batch norm, and a deterministic
//! in-memory batch source whose epochs can be replayed from any batch.
#![allow(dead_code, missing_docs)]

use ndarray::{ArrayD, IxDyn};
use selfsup_nn::{Batch, Method, StepInfo, StepOutput};
use selfsup_train::{BatchSource, HostBatch};
use tch::nn::{self, Module, ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

/// Regress view 1 from view 0 through a small MLP with dropout (torch randomness) and BN.
pub struct ToyMethod {
    vs: VarStore,
    fc1: nn::Linear,
    bn: nn::BatchNorm,
    fc2: nn::Linear,
    pub dropout: f64,
    pub use_bn: bool,
    pub nan_at: Option<u64>,
    /// After this step's update, the BatchNorm running variance becomes `inf` (what a huge LR does)
    /// while the training-mode loss stays finite.
    pub inf_buffers_at: Option<u64>,
    pub after_calls: u64,
    /// Return the step's features (`StepOutput::features`) for the online probe.
    pub step_features: bool,
    /// How many times `embed` ran (shared, so that a test can read it while the trainer owns the
    /// method).
    pub embed_calls: std::rc::Rc<std::cell::Cell<u64>>,
    /// The dtype of the first layer's output in the last step (bf16 under autocast).
    pub hidden_kind: std::rc::Rc<std::cell::Cell<Option<Kind>>>,
}

impl ToyMethod {
    pub fn new(init_seed: i64, dim: i64) -> Self {
        tch::manual_seed(init_seed);
        let vs = VarStore::new(Device::Cpu);
        let fc1 = nn::linear(vs.root() / "backbone" / "fc1", dim, 16, Default::default());
        let bn = nn::batch_norm1d(vs.root() / "backbone" / "bn", 16, Default::default());
        let fc2 = nn::linear(vs.root() / "head", 16, dim, Default::default());
        ToyMethod {
            vs,
            fc1,
            bn,
            fc2,
            dropout: 0.2,
            use_bn: true,
            nan_at: None,
            inf_buffers_at: None,
            after_calls: 0,
            step_features: false,
            embed_calls: Default::default(),
            hidden_kind: Default::default(),
        }
    }
}

impl Method for ToyMethod {
    fn name(&self) -> &str {
        "toy"
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }
    fn step(&mut self, batch: &Batch, info: &StepInfo) -> selfsup_nn::Result<StepOutput> {
        let h = self.fc1.forward(&batch.views[0]);
        self.hidden_kind.set(Some(h.kind()));
        let h = if self.use_bn {
            self.bn.forward_t(&h, true)
        } else {
            h
        }
        .relu();
        let features = h.shallow_clone();
        let h = h.dropout(self.dropout, true);
        let out = self.fc2.forward(&h);
        let mut loss = (out - &batch.views[1]).square().mean(Kind::Float);
        if self.nan_at == Some(info.step) {
            loss *= f64::NAN;
        }
        let v = loss.double_value(&[]);
        let out = StepOutput::new(loss, vec![("loss_copy".into(), v)]);
        Ok(if self.step_features {
            out.with_features(&features)
        } else {
            out
        })
    }
    fn after_optimizer_step(&mut self, info: &StepInfo) -> selfsup_nn::Result<()> {
        self.after_calls += 1;
        if self.inf_buffers_at == Some(info.step) {
            tch::no_grad(|| {
                let _ = self.bn.running_var.shallow_clone().fill_(f64::INFINITY);
            });
        }
        Ok(())
    }
    fn embed(&self, x: &Tensor) -> selfsup_nn::Result<Tensor> {
        let _g = tch::no_grad_guard();
        self.embed_calls.set(self.embed_calls.get() + 1);
        Ok(self.bn.forward_t(&self.fc1.forward(x), false).relu())
    }
    fn embed_dim(&self) -> i64 {
        16
    }
}

/// Torch's global generator is process-wide and the tests of one binary run on parallel threads: every
/// trainer test holds this lock so that seeding and drawing are not interleaved between tests.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn hash(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(h: u64) -> f32 {
    (h >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
}

/// `n` samples of width `dim`; view 1 is a fixed linear map of view 0 plus epoch-keyed noise; the order
/// is shuffled per epoch by a keyed hash.
pub struct ToySource {
    pub n: usize,
    pub dim: usize,
    pub batch: usize,
}

impl ToySource {
    fn sample(&self, epoch: u64, i: usize) -> (Vec<f32>, Vec<f32>) {
        let x: Vec<f32> = (0..self.dim)
            .map(|d| unit(hash((i * 1000 + d) as u64)))
            .collect();
        let y: Vec<f32> = (0..self.dim)
            .map(|d| {
                let lin: f32 = (0..self.dim)
                    .map(|e| x[e] * unit(hash((d * 77 + e) as u64 + 5_000_000)))
                    .sum();
                lin + 0.05 * unit(hash(epoch * 1_000_003 + (i * 31 + d) as u64))
            })
            .collect();
        (x, y)
    }

    fn order(&self, epoch: u64) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.n).collect();
        idx.sort_by_key(|&i| hash(epoch.wrapping_mul(0x1234_5678) ^ i as u64));
        idx
    }
}

impl BatchSource for ToySource {
    fn batches_per_epoch(&self) -> usize {
        self.n / self.batch
    }
    fn epoch_from(
        &self,
        epoch: u64,
        skip: usize,
    ) -> Box<dyn Iterator<Item = selfsup_core::Result<HostBatch>> + '_> {
        let order = self.order(epoch);
        let nb = self.batches_per_epoch();
        Box::new((skip..nb).map(move |b| {
            let idx = &order[b * self.batch..(b + 1) * self.batch];
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            for &i in idx {
                let (x, y) = self.sample(epoch, i);
                xs.extend(x);
                ys.extend(y);
            }
            let shape = IxDyn(&[self.batch, self.dim]);
            let mut b = HostBatch::from_views(
                vec![
                    ArrayD::from_shape_vec(shape.clone(), xs).unwrap(),
                    ArrayD::from_shape_vec(shape, ys).unwrap(),
                ],
                Some(idx.iter().map(|&i| (i % 3) as i64).collect()),
            );
            b.indices = idx.iter().map(|&i| i as i64).collect();
            b.epoch = epoch;
            Ok(b)
        }))
    }
}

pub fn weights(vs: &VarStore) -> Vec<(String, Vec<f32>)> {
    let mut v: Vec<_> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}
