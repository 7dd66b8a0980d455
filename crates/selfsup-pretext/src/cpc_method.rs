//! [`CpcMethod`] (feature `torch`): contrastive predictive coding over spectrograms, a [`Method`]
//! the trainer drives like any other. The torch-free half (config, generator, frame arithmetic) is
//! [`crate::cpc`].
//!
//! - Encoder `encoder.blocks.{i}.conv`: `Conv1d → ReLU` blocks over time with the `C·F` bins of an
//!   `N×C×F×T` (or `N×F×T`) spectrogram as input channels: latents `z`, `N×T'×D`.
//! - Context network `encoder.context`: a one-layer GRU (batch first, PyTorch's `nn.GRU` names
//!   `weight_ih_l0`, ...) over `z`: contexts `c`, `N×T'×H`.
//! - Predictors `predictors.{k-1}`: `Linear(H, D, bias = false)` for `k = 1..=K`, `W_k c_t`.
//! - Loss: `selfsup_contrastive::losses::CpcLoss` (InfoNCE), with the negatives of `method.negatives`
//!   (the batch's other sequences at the same time, the sequence's other times, or both).
//!   The step logs `pretext_acc`: how often the true future latent scores highest among the batch's,
//!   averaged over offsets and times.
//! - Embedding (`embed`, what kNN and the probes see, `method.embedding`): the contexts `c_t`
//!   averaged over time, `N×H` (default), the latents `z_t` averaged over time, or both concatenated;
//!   `selfsup export` writes everything under `encoder` (convolutions and GRU).
//! - With `encoder = "backbone"` the latents are the run's backbone's feature map (`backbone.*`)
//!   averaged over frequency, `N×T'×D`; `embedding = "latent"` is then exactly the backbone's
//!   global-pooled feature, what every other method's encoder hands to the evaluation, and `selfsup
//!   export` writes the backbone.

use crate::cpc::{CpcConfig, CpcEmbedding, CpcEncoder, CpcNegatives};
use selfsup_contrastive::losses::{self, CpcLoss};
use selfsup_core::Error;
use selfsup_nn::{
    build_backbone, Backbone, BackboneConfig, Batch, Method, Result, StepInfo, StepOutput,
};
use tch::nn::{self, Module, VarStore, RNN};
use tch::{Kind, Tensor};

/// A CPC model; see the module docs.
#[derive(Debug)]
pub struct CpcMethod {
    cfg: CpcConfig,
    vs: VarStore,
    convs: Vec<nn::Conv1D>,
    backbone: Option<Box<dyn Backbone>>,
    gru: nn::GRU,
    predictors: Vec<nn::Linear>,
    in_channels: i64,
}

fn err(msg: String) -> selfsup_nn::Error {
    Error::shape(msg).into()
}

impl CpcMethod {
    /// Builds the model for samples of `input_shape` (`[F, T]` or `[C, F, T]` spectrograms) under a
    /// fresh `vs` (`backbone` is the encoder with `encoder = "backbone"`); a clip too short for
    /// `prediction_steps` is an error naming the limit.
    pub fn new(
        vs: VarStore,
        cfg: &CpcConfig,
        backbone: &BackboneConfig,
        input_shape: &[i64],
    ) -> Result<Self> {
        cfg.validate()?;
        let (channels, bins, frames) = match *input_shape {
            [f, t] => (1, f, t),
            [c, f, t] => (c, c * f, t),
            _ => {
                return Err(Error::config(
                    "input.shape",
                    format!("cpc needs [F, T] or [C, F, T] spectrograms, got {input_shape:?}"),
                )
                .into())
            }
        };
        if bins < 1 || frames < 1 {
            return Err(Error::config(
                "input.shape",
                format!("must be positive, got {input_shape:?}"),
            )
            .into());
        }
        let root = vs.root();
        if cfg.encoder == CpcEncoder::Backbone {
            return Self::with_backbone(vs, cfg, backbone, [channels, bins / channels, frames]);
        }
        cfg.check_frames(frames as usize)?;
        let enc = &root / "encoder";
        let k = cfg.kernel as i64;
        let mut c_in = bins;
        let mut convs = Vec::with_capacity(cfg.widths.len());
        for (i, &w) in cfg.widths.iter().enumerate() {
            let s = if i == 0 { cfg.stride as i64 } else { 1 };
            convs.push(selfsup_nn::layers::conv1d(
                &(&enc / "blocks" / i / "conv"),
                c_in,
                w as i64,
                k,
                s,
                k / 2,
                true,
            ));
            c_in = w as i64;
        }
        let h = cfg.context_dim as i64;
        let gru = nn::gru(&enc / "context", c_in, h, Default::default());
        let pp = &root / "predictors";
        let predictors = (0..cfg.prediction_steps)
            .map(|i| selfsup_nn::layers::linear(&pp / i, h, c_in, false))
            .collect();
        Ok(CpcMethod {
            cfg: cfg.clone(),
            vs,
            convs,
            backbone: None,
            gru,
            predictors,
            in_channels: bins,
        })
    }

    /// The model with the run's backbone as the frame encoder (`encoder = "backbone"`).
    fn with_backbone(
        vs: VarStore,
        cfg: &CpcConfig,
        backbone: &BackboneConfig,
        [c, f, t]: [i64; 3],
    ) -> Result<Self> {
        backbone.check_input(&[c, f, t])?;
        let root = vs.root();
        let net = build_backbone(&(&root / "backbone"), backbone, c)?;
        // Latents per clip: the time columns of the feature map (probed in eval mode, no state).
        let map = tch::no_grad(|| {
            net.forward_map_t(&Tensor::zeros([1, c, f, t], (Kind::Float, vs.device())), false)
                .map(|m| m.size())
        })
        .ok_or_else(|| {
            selfsup_nn::Error::from(Error::config(
                "method.encoder",
                "cpc with encoder = \"backbone\" needs a backbone with a feature map (audio_cnn or conv_net)",
            ))
        })?;
        let steps = map[3];
        if steps <= cfg.prediction_steps as i64 {
            return Err(Error::config(
                "method.prediction_steps",
                format!(
                    "cpc: the backbone's feature map of a clip of {t} frames has {steps} time steps, and predicting {} steps ahead needs at least {} (lower method.prediction_steps or lengthen the clip)",
                    cfg.prediction_steps,
                    cfg.prediction_steps + 1
                ),
            )
            .into());
        }
        let d = net.output_dim();
        let h = cfg.context_dim as i64;
        let gru = nn::gru(&root / "context", d, h, Default::default());
        let pp = &root / "predictors";
        let predictors = (0..cfg.prediction_steps)
            .map(|i| selfsup_nn::layers::linear(&pp / i, h, d, false))
            .collect();
        Ok(CpcMethod {
            cfg: cfg.clone(),
            vs,
            convs: Vec::new(),
            backbone: Some(net),
            gru,
            predictors,
            in_channels: c * f,
        })
    }

    /// Latents `z` (`N×T'×D`) and contexts `c` (`N×T'×H`) of a spectrogram batch (`train`: the
    /// backbone's batch norm in training mode).
    pub fn encode(&self, x: &Tensor, train: bool) -> Result<(Tensor, Tensor)> {
        if let Some(net) = &self.backbone {
            let x4 = if x.dim() == 3 {
                x.unsqueeze(1)
            } else {
                x.shallow_clone()
            };
            let map = net
                .forward_map_t(&x4.to_kind(Kind::Float), train)
                .ok_or_else(|| err("cpc: the backbone has no feature map".into()))?;
            // N×D×F'×T' -> N×D×T' -> N×T'×D
            let z = map
                .mean_dim(2, false, Kind::Float)
                .transpose(1, 2)
                .contiguous();
            let (c, _) = self.gru.seq(&z);
            return Ok((z, c));
        }
        let s = x.size();
        let x = match s.len() {
            3 => x.shallow_clone(),
            4 => x.f_reshape([s[0], s[1] * s[2], s[3]])?,
            _ => {
                return Err(err(format!(
                    "cpc: expected N×F×T or N×C×F×T spectrograms, got {s:?}"
                )))
            }
        };
        let xs = x.size();
        if xs[1] != self.in_channels {
            return Err(err(format!(
                "cpc: the model was built for {} frequency bins, got {}",
                self.in_channels, xs[1]
            )));
        }
        self.cfg.check_frames(xs[2] as usize)?;
        let mut h = x.to_kind(Kind::Float);
        for conv in &self.convs {
            h = conv.forward(&h).relu();
        }
        let z = h.transpose(1, 2).contiguous(); // N×T'×D
        let (c, _) = self.gru.seq(&z);
        Ok((z, c))
    }

    /// The InfoNCE loss and the accuracy of the true future among the batch's.
    fn objective(&self, batch: &Batch, train: bool) -> Result<(Tensor, f64)> {
        let x = batch.views.first().ok_or_else(|| {
            err("cpc needs one view (the spectrogram), the batch has none".into())
        })?;
        if x.size()[0] < 2 {
            return Err(err(
                "cpc needs at least 2 sequences per batch (the others are the negatives)".into(),
            ));
        }
        let (z, c) = self.encode(x, train)?;
        let preds: Vec<Tensor> = self.predictors.iter().map(|p| p.forward(&c)).collect();
        let negatives = match self.cfg.negatives {
            CpcNegatives::Batch => losses::CpcNegatives::Batch,
            CpcNegatives::Sequence => losses::CpcNegatives::Sequence,
            CpcNegatives::All => losses::CpcNegatives::All,
        };
        let loss = CpcLoss.forward_with(&z, &preds, negatives)?;
        let acc = tch::no_grad(|| {
            let (n, t, d) = (z.size()[0], z.size()[1], z.size()[2]);
            let mut hits = 0.0;
            let mut total = 0.0;
            for (i, p) in preds.iter().enumerate() {
                let k = i as i64 + 1;
                let steps = t - k;
                let pk = p.narrow(1, 0, steps); // N×steps×D
                let zk = z.narrow(1, k, steps);
                // The argmax over the loss's candidates against the positive's index.
                let (best, target) = match negatives {
                    losses::CpcNegatives::Batch => (
                        pk.transpose(0, 1)
                            .bmm(&zk.transpose(0, 1).transpose(1, 2))
                            .argmax(2, false), // steps×N, among sequences
                        Tensor::arange(n, (Kind::Int64, z.device())).unsqueeze(0),
                    ),
                    losses::CpcNegatives::Sequence => (
                        pk.bmm(&zk.transpose(1, 2)).argmax(2, false), // N×steps, among times
                        Tensor::arange(steps, (Kind::Int64, z.device())).unsqueeze(0),
                    ),
                    losses::CpcNegatives::All => (
                        pk.reshape([n * steps, d])
                            .matmul(&zk.reshape([n * steps, d]).tr())
                            .argmax(1, false),
                        Tensor::arange(n * steps, (Kind::Int64, z.device())),
                    ),
                };
                hits += best
                    .eq_tensor(&target)
                    .to_kind(Kind::Float)
                    .sum(Kind::Float)
                    .double_value(&[]);
                total += (steps * n) as f64;
            }
            hits / total.max(1.0)
        });
        Ok((loss, acc))
    }
}

impl Method for CpcMethod {
    fn name(&self) -> &str {
        "cpc"
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn step(&mut self, batch: &Batch, _info: &StepInfo) -> Result<StepOutput> {
        let (loss, acc) = self.objective(batch, true)?;
        Ok(StepOutput::new(loss, vec![("pretext_acc".into(), acc)]))
    }

    fn evaluate(&mut self, batch: &Batch) -> Result<Vec<(String, f64)>> {
        let (loss, acc) = tch::no_grad(|| self.objective(batch, false))?;
        Ok(vec![
            ("val_loss".into(), loss.double_value(&[])),
            ("pretext_acc".into(), acc),
        ])
    }

    fn embed(&self, x: &Tensor) -> Result<Tensor> {
        tch::no_grad(|| {
            if let (Some(net), CpcEmbedding::Latent) = (&self.backbone, self.cfg.embedding) {
                // The backbone's own global-pooled feature (= the latents' mean over time and
                // frequency), exactly what the other methods' encoders are evaluated on.
                let x4 = if x.dim() == 3 {
                    x.unsqueeze(1)
                } else {
                    x.shallow_clone()
                };
                return Ok(net.forward_t(&x4.to_kind(Kind::Float), false));
            }
            let (z, c) = self.encode(x, false)?;
            let mean = |t: &Tensor| t.mean_dim(1, false, Kind::Float);
            Ok(match self.cfg.embedding {
                CpcEmbedding::Context => mean(&c),
                CpcEmbedding::Latent => mean(&z),
                CpcEmbedding::Both => Tensor::cat(&[mean(&z), mean(&c)], 1),
            })
        })
    }

    fn embed_dim(&self) -> i64 {
        let latent = match &self.backbone {
            Some(net) => net.output_dim(),
            None => self.cfg.widths.last().copied().unwrap_or(0) as i64,
        };
        let context = self.cfg.context_dim as i64;
        match self.cfg.embedding {
            CpcEmbedding::Context => context,
            CpcEmbedding::Latent => latent,
            CpcEmbedding::Both => latent + context,
        }
    }

    fn encoder_prefix(&self) -> &str {
        if self.backbone.is_some() {
            "backbone"
        } else {
            "encoder"
        }
    }
}
