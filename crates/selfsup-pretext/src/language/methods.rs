//! The language-model methods (feature `torch`): [`NextToken`] (GPT) and [`MaskedToken`] (BERT) over a
//! [`Gpt`] model, evaluation over held-out windows ([`LmEval`]) and sampling ([`NextToken::generate`]).

use super::config::{LanguageModelConfig, MaskedTokenConfig, NextTokenConfig, TokenPool};
use super::masking::{MlmMasker, IGNORE_INDEX};
use selfsup_core::Generator;
use selfsup_nn::backbones::{Gpt, GptConfig};
use selfsup_nn::{
    BackboneConfig, Batch, InputSpec, Method, MethodSpec, Result, StepInfo, StepOutput,
};
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// The mask id and first regular id of the `selfsup-data` vocabularies (`<pad>`, `<unk>`, `<mask>`).
pub const MASK_ID: i64 = 2;
/// See [`MASK_ID`].
pub const FIRST_REGULAR: i64 = 3;

fn shape_err(msg: String) -> selfsup_nn::Error {
    selfsup_core::Error::shape(msg).into()
}

/// `bits_per_char = loss / ln 2` and `ppl = exp(loss)` of a loss in nats per token (bits per char when
/// a token is a character).
pub fn lm_scalars(loss_nats: f64) -> Vec<(String, f64)> {
    vec![
        ("bits_per_char".into(), loss_nats / std::f64::consts::LN_2),
        ("ppl".into(), loss_nats.exp()),
    ]
}

/// Held-out language-model figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LmEval {
    /// Mean cross-entropy over predicted tokens, in nats per token.
    pub loss: f64,
    /// `loss / ln 2`.
    pub bits_per_char: f64,
    /// `exp(loss)`.
    pub ppl: f64,
    /// Accuracy on the masked positions (masked-token models).
    pub mlm_acc: Option<f64>,
    /// Number of predicted tokens.
    pub tokens: usize,
}

impl LmEval {
    fn new(nll_sum: f64, correct: Option<f64>, tokens: usize) -> Self {
        let loss = nll_sum / tokens.max(1) as f64;
        LmEval {
            loss,
            bits_per_char: loss / std::f64::consts::LN_2,
            ppl: loss.exp(),
            mlm_acc: correct.map(|c| c / tokens.max(1) as f64),
            tokens,
        }
    }

    /// Named metrics with a prefix (e.g. `val_`): `loss`, `bits_per_char`, `ppl`, `mlm_acc`.
    pub fn metrics(&self, prefix: &str) -> Vec<(String, f64)> {
        let mut m = vec![
            (format!("{prefix}loss"), self.loss),
            (format!("{prefix}bits_per_char"), self.bits_per_char),
            (format!("{prefix}ppl"), self.ppl),
        ];
        if let Some(a) = self.mlm_acc {
            m.push((format!("{prefix}mlm_acc"), a));
        }
        m
    }
}

fn ids_tensor(rows: &[&[i64]], device: tch::Device) -> Result<Tensor> {
    let l = rows.first().map_or(0, |r| r.len());
    if rows.iter().any(|r| r.len() != l) {
        return Err(shape_err(
            "windows of a batch must have equal lengths".into(),
        ));
    }
    let flat: Vec<i64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Ok(Tensor::from_slice(&flat)
        .reshape([rows.len() as i64, l as i64])
        .to_device(device))
}

/// Checks that targets lie in `[0, vocab)` (or are `-100` when `ignore` is allowed).
fn check_targets(y: &Tensor, vocab: i64, ignore: bool) -> Result<()> {
    if !matches!(
        y.kind(),
        Kind::Int64 | Kind::Int | Kind::Int16 | Kind::Int8 | Kind::Uint8
    ) {
        return Err(shape_err(format!(
            "targets must be integers, got {:?}",
            y.kind()
        )));
    }
    let y = if ignore {
        y.f_where_scalarother(&y.f_ne(IGNORE_INDEX)?, 0)?
    } else {
        y.shallow_clone()
    };
    if y.numel() == 0 {
        return Ok(());
    }
    let lo = y.f_min()?.f_int64_value(&[])?;
    let hi = y.f_max()?.f_int64_value(&[])?;
    if lo < 0 || hi >= vocab {
        return Err(shape_err(format!(
            "target ids must lie in [0, {vocab}){}, got ids in [{lo}, {hi}]",
            if ignore { " or be -100" } else { "" }
        )));
    }
    Ok(())
}

/// Next-token prediction (GPT): windows of `L + 1` ids, inputs the first `L`, targets the last `L`
/// (the inputs shifted by one), loss the mean cross-entropy in nats over all `N·L` targets.
#[derive(Debug)]
pub struct NextToken {
    vs: VarStore,
    model: Gpt,
    pool: TokenPool,
}

impl NextToken {
    /// Builds the causal model under `backbone` in `vs` (`cfg.causal` is forced to true).
    pub fn new(vs: VarStore, cfg: &GptConfig) -> Result<Self> {
        let cfg = GptConfig {
            causal: true,
            ..cfg.clone()
        };
        let model = Gpt::new(&(vs.root() / "backbone"), &cfg)?;
        Ok(NextToken {
            vs,
            model,
            pool: TokenPool::default(),
        })
    }

    /// The same method whose `embed` pools the final hidden states with `pool`.
    pub fn with_pool(mut self, pool: TokenPool) -> Self {
        self.pool = pool;
        self
    }

    /// The final hidden states of `N×L` ids pooled with `pool`, without gradient (`embed` uses the
    /// method's own pool).
    pub fn pooled(&self, x: &Tensor, pool: TokenPool) -> Result<Tensor> {
        self.model.check_input(x)?;
        Ok(tch::no_grad(|| {
            let h = self.model.hidden(x, false);
            match pool {
                TokenPool::Mean => h.mean_dim(1, false, Kind::Float),
                TokenPool::Last => h.select(1, -1),
            }
        }))
    }

    /// The model sizes of a backbone of width `dim`, `depth` blocks, `heads` heads, context `max_len`
    /// over `vocab_size` ids, with the method's dropout and bias.
    pub fn model_config(
        method: &NextTokenConfig,
        vocab_size: i64,
        max_len: i64,
        dim: i64,
        depth: i64,
        heads: i64,
    ) -> GptConfig {
        GptConfig {
            vocab_size,
            block_size: max_len,
            n_layer: depth,
            n_head: heads,
            n_embd: dim,
            dropout: method.dropout,
            bias: method.bias,
            causal: true,
        }
    }

    /// The model.
    pub fn model(&self) -> &Gpt {
        &self.model
    }

    /// Splits `N×(L+1)` windows into inputs `N×L` and targets `N×L` (checked).
    pub fn split(windows: &Tensor) -> Result<(Tensor, Tensor)> {
        let s = windows.size();
        if s.len() != 2 || s[1] < 2 {
            return Err(shape_err(format!(
                "next-token windows must be N×(L+1) with L >= 1, got shape {s:?}"
            )));
        }
        let l = s[1] - 1;
        Ok((windows.f_narrow(1, 0, l)?, windows.f_narrow(1, 1, l)?))
    }

    /// Mean cross-entropy (nats) of `N×(L+1)` windows, and the logits `N×L×V`.
    pub fn loss(&self, windows: &Tensor, train: bool) -> Result<(Tensor, Tensor)> {
        let (x, y) = Self::split(windows)?;
        check_targets(&y, self.model.config().vocab_size, false)?;
        let logits = self.model.f_logits(&x, train)?;
        let v = logits.size()[2];
        let loss = logits.f_reshape([-1, v])?.f_cross_entropy_loss::<Tensor>(
            &y.f_reshape([-1])?.f_to_kind(Kind::Int64)?,
            None,
            tch::Reduction::Mean,
            IGNORE_INDEX,
            0.0,
        )?;
        Ok((loss, logits))
    }

    /// Language-model figures over held-out windows (each `L + 1` ids), in batches of `batch_size`,
    /// in eval mode without gradient: the mean over every predicted token.
    pub fn evaluate_windows(&self, windows: &[&[i64]], batch_size: usize) -> Result<LmEval> {
        let device = self.vs.device();
        let mut nll = 0.0;
        let mut count = 0usize;
        tch::no_grad(|| -> Result<()> {
            for chunk in windows.chunks(batch_size.max(1)) {
                let t = ids_tensor(chunk, device)?;
                let (loss, _) = self.loss(&t, false)?;
                let n = chunk.len() * (chunk[0].len() - 1);
                nll += loss.f_double_value(&[])? * n as f64;
                count += n;
            }
            Ok(())
        })?;
        Ok(LmEval::new(nll, None, count))
    }

    /// Samples `n` new tokens after `prompt` (the continuation only is returned).
    ///
    /// Each step feeds the last `block_size` tokens, divides the last position's logits by
    /// `temperature`, keeps the `top_k` largest (when set; ties at the threshold are kept), and draws
    /// from the softmax with `Generator::from_domain("generate", [seed])`, so the output is a function
    /// of the weights, the prompt and the seed only. `temperature = 0` is greedy decoding (the first
    /// largest logit), the limit of sampling as the temperature goes to 0.
    pub fn generate(
        &self,
        prompt: &[i64],
        n: usize,
        temperature: f64,
        top_k: Option<usize>,
        seed: u64,
    ) -> Result<Vec<i64>> {
        let cfg = self.model.config();
        if prompt.is_empty() {
            return Err(selfsup_core::Error::config(
                "prompt",
                "the prompt is empty; give at least one token",
            )
            .into());
        }
        if let Some(&bad) = prompt.iter().find(|&&t| !(0..cfg.vocab_size).contains(&t)) {
            return Err(selfsup_core::Error::config(
                "prompt",
                format!(
                    "token id {bad} is outside the vocabulary [0, {})",
                    cfg.vocab_size
                ),
            )
            .into());
        }
        if !(temperature >= 0.0 && temperature.is_finite()) {
            return Err(selfsup_core::Error::config(
                "temperature",
                format!("must be a finite number >= 0, got {temperature}"),
            )
            .into());
        }
        if top_k == Some(0) {
            return Err(selfsup_core::Error::config("top_k", "must be >= 1 when set").into());
        }
        let mut rng = Generator::from_domain("generate", &[seed]);
        let mut seq = prompt.to_vec();
        let device = self.vs.device();
        tch::no_grad(|| -> Result<()> {
            for _ in 0..n {
                let start = seq.len().saturating_sub(cfg.block_size as usize);
                let ctx = ids_tensor(&[&seq[start..]], device)?;
                let logits: Vec<f64> = Vec::<f64>::try_from(
                    self.model
                        .logits(&ctx, false)
                        .select(1, -1)
                        .reshape([-1])
                        .to_kind(Kind::Double)
                        .to_device(tch::Device::Cpu),
                )?;
                seq.push(sample_next(&logits, temperature, top_k, &mut rng));
            }
            Ok(())
        })?;
        Ok(seq[prompt.len()..].to_vec())
    }
}

/// One draw from `logits` (see [`NextToken::generate`]).
fn sample_next(logits: &[f64], temperature: f64, top_k: Option<usize>, rng: &mut Generator) -> i64 {
    let argmax = || {
        let mut best = 0;
        for (i, &z) in logits.iter().enumerate() {
            if z > logits[best] {
                best = i;
            }
        }
        best as i64
    };
    if temperature == 0.0 {
        return argmax();
    }
    let mut z: Vec<f64> = logits.iter().map(|&l| l / temperature).collect();
    if let Some(k) = top_k {
        if k < z.len() {
            let mut sorted = z.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            let thr = sorted[k - 1];
            for v in z.iter_mut() {
                if *v < thr {
                    *v = f64::NEG_INFINITY;
                }
            }
        }
    }
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = z.iter().map(|&v| (v - m).exp()).collect();
    let total: f64 = w.iter().sum();
    let u = rng.next_f64() * total;
    let mut acc = 0.0;
    for (i, &wi) in w.iter().enumerate() {
        acc += wi;
        if u < acc && wi > 0.0 {
            return i as i64;
        }
    }
    argmax()
}

impl Method for NextToken {
    fn name(&self) -> &str {
        "gpt"
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }
    /// `views[0]`: `N×(L+1)` token windows.
    fn step(&mut self, batch: &Batch, _info: &StepInfo) -> Result<StepOutput> {
        let w = batch
            .views
            .first()
            .ok_or_else(|| shape_err("next-token step needs one token view".into()))?;
        let (loss, _) = self.loss(w, true)?;
        let scalars = lm_scalars(loss.f_double_value(&[])?);
        Ok(StepOutput::new(loss, scalars))
    }
    /// The final hidden states of `N×L` ids, mean-pooled or the last position's
    /// ([`NextTokenConfig::pool`]).
    fn embed(&self, x: &Tensor) -> Result<Tensor> {
        self.pooled(x, self.pool)
    }
    fn embed_dim(&self) -> i64 {
        self.model.config().n_embd
    }
    /// `val_loss` (nats/token), `val_bits_per_char`, `val_ppl` of `N×(L+1)` windows in `views[0]`, and
    /// `val_tokens` (the number of predicted tokens, the weight of this batch in a mean over batches:
    /// [`evaluate_held_out`]).
    fn evaluate(&mut self, batch: &Batch) -> Result<Vec<(String, f64)>> {
        let w = batch
            .views
            .first()
            .ok_or_else(|| shape_err("next-token evaluation needs one token view".into()))?;
        let (loss, _) = tch::no_grad(|| self.loss(w, false))?;
        let n = NextToken::split(w)?.1.numel();
        let mut m = LmEval::new(loss.f_double_value(&[])? * n as f64, None, n).metrics("val_");
        m.push(("val_tokens".into(), n as f64));
        Ok(m)
    }
}

/// Masked-token prediction (BERT): `N×L` corrupted ids in, cross-entropy on the selected positions only
/// (targets `-100` elsewhere, from the [`MlmMasker`] in the loader), and the accuracy there.
#[derive(Debug)]
pub struct MaskedToken {
    vs: VarStore,
    model: Gpt,
    masker: MlmMasker,
}

impl MaskedToken {
    /// Builds the bidirectional model under `backbone` in `vs` (`model.causal` is forced to false);
    /// `cfg.mask` is used to corrupt evaluation windows.
    pub fn new(vs: VarStore, model: &GptConfig, cfg: &MaskedTokenConfig) -> Result<Self> {
        cfg.validate()?;
        let model_cfg = GptConfig {
            causal: false,
            ..model.clone()
        };
        let masker = MlmMasker::new(cfg.mask.clone(), model.vocab_size, MASK_ID, FIRST_REGULAR)?;
        let model = Gpt::new(&(vs.root() / "backbone"), &model_cfg)?;
        Ok(MaskedToken { vs, model, masker })
    }

    /// The model.
    pub fn model(&self) -> &Gpt {
        &self.model
    }

    /// The masker (what the loader pipeline should use).
    pub fn masker(&self) -> &MlmMasker {
        &self.masker
    }

    /// `(loss, correct predictions, selected positions)` of corrupted ids `x` against `targets`
    /// (`-100` = not predicted); the loss is 0 (with a gradient path) when nothing is selected.
    pub fn loss(&self, x: &Tensor, targets: &Tensor, train: bool) -> Result<(Tensor, f64, f64)> {
        if x.size() != targets.size() {
            return Err(shape_err(format!(
                "masked ids {:?} and targets {:?} must have the same shape",
                x.size(),
                targets.size()
            )));
        }
        check_targets(targets, self.model.config().vocab_size, true)?;
        let logits = self.model.f_logits(x, train)?;
        let v = logits.size()[2];
        let flat = logits.f_reshape([-1, v])?;
        let y = targets.f_reshape([-1])?.f_to_kind(Kind::Int64)?;
        let sel = y.f_ne(IGNORE_INDEX)?;
        let count = sel.f_sum(Kind::Double)?.f_double_value(&[])?;
        if count == 0.0 {
            return Ok((flat.f_sum(Kind::Float)?.f_mul_scalar(0.0)?, 0.0, 0.0));
        }
        let loss =
            flat.f_cross_entropy_loss::<Tensor>(&y, None, tch::Reduction::Mean, IGNORE_INDEX, 0.0)?;
        let correct = flat
            .f_argmax(-1, false)?
            .f_eq_tensor(&y)?
            .f_logical_and(&sel)?
            .f_sum(Kind::Double)?
            .f_double_value(&[])?;
        Ok((loss, correct, count))
    }

    /// Figures over held-out windows: window `i` is corrupted with
    /// `Generator::from_domain("mlm_eval", [i])` (the same positions at every evaluation), loss and
    /// accuracy are over the selected positions of all windows.
    pub fn evaluate_windows(&self, windows: &[&[i64]], batch_size: usize) -> Result<LmEval> {
        let device = self.vs.device();
        let (mut nll, mut correct, mut count) = (0.0, 0.0, 0.0);
        tch::no_grad(|| -> Result<()> {
            let mut base = 0u64;
            for chunk in windows.chunks(batch_size.max(1)) {
                let mut xs = Vec::with_capacity(chunk.len());
                let mut ys = Vec::with_capacity(chunk.len());
                for (j, w) in chunk.iter().enumerate() {
                    let mut g = Generator::from_domain("mlm_eval", &[base + j as u64]);
                    let (x, y) = self.masker.apply(w, &mut g)?;
                    xs.push(x);
                    ys.push(y);
                }
                base += chunk.len() as u64;
                let xr: Vec<&[i64]> = xs.iter().map(Vec::as_slice).collect();
                let yr: Vec<&[i64]> = ys.iter().map(Vec::as_slice).collect();
                let (loss, c, k) =
                    self.loss(&ids_tensor(&xr, device)?, &ids_tensor(&yr, device)?, false)?;
                nll += loss.f_double_value(&[])? * k;
                correct += c;
                count += k;
            }
            Ok(())
        })?;
        Ok(LmEval::new(nll, Some(correct), count as usize))
    }
}

impl Method for MaskedToken {
    fn name(&self) -> &str {
        "bert"
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }
    /// `views[0]`: corrupted ids `N×L`; targets: `batch.targets` (`N×L`, `-100` = not predicted), or
    /// `views[1]` when the loader delivered them as a second token view.
    fn step(&mut self, batch: &Batch, _info: &StepInfo) -> Result<StepOutput> {
        let x = batch.views.first().ok_or_else(|| {
            shape_err("masked-token step needs the corrupted ids as view 0".into())
        })?;
        let y = batch
            .targets
            .as_ref()
            .or(batch.views.get(1))
            .ok_or_else(|| {
                shape_err("masked-token step needs targets (batch targets or view 1)".into())
            })?;
        let (loss, correct, count) = self.loss(x, y, true)?;
        let mut scalars = lm_scalars(loss.f_double_value(&[])?);
        scalars.push((
            "mlm_acc".into(),
            if count > 0.0 { correct / count } else { 0.0 },
        ));
        Ok(StepOutput::new(loss, scalars))
    }
    /// The mean over positions of the hidden states of `N×L` ids.
    fn embed(&self, x: &Tensor) -> Result<Tensor> {
        self.model.check_input(x)?;
        Ok(tch::no_grad(|| self.model.features(x, false)))
    }
    fn embed_dim(&self) -> i64 {
        self.model.config().n_embd
    }
    /// `val_loss`, `val_bits_per_char`, `val_ppl` and `val_mlm_acc` over the selected positions of
    /// one corrupted batch (targets as for [`Method::step`]), and `val_tokens` (the number of selected
    /// positions, the weight of this batch in a mean over batches: [`evaluate_held_out`]).
    fn evaluate(&mut self, batch: &Batch) -> Result<Vec<(String, f64)>> {
        let x = batch.views.first().ok_or_else(|| {
            shape_err("masked-token evaluation needs the corrupted ids as view 0".into())
        })?;
        let y = batch
            .targets
            .as_ref()
            .or(batch.views.get(1))
            .ok_or_else(|| {
                shape_err("masked-token evaluation needs targets (batch targets or view 1)".into())
            })?;
        let (loss, correct, count) = tch::no_grad(|| self.loss(x, y, false))?;
        let mut m = LmEval::new(
            loss.f_double_value(&[])? * count,
            Some(correct),
            count as usize,
        )
        .metrics("val_");
        m.push(("val_tokens".into(), count));
        Ok(m)
    }
}

/// Held-out language-model figures of a `gpt` or `bert` method over every batch of `loader` (epoch 0,
/// in order; build it with [`super::eval_loader`]): the loss is the mean over all predicted tokens
/// (each batch weighted by its `val_tokens`), so it does not depend on the batch size; the MLM accuracy
/// likewise over all selected positions. Runs in eval mode (no dropout) without gradients.
pub fn evaluate_held_out(method: &mut dyn Method, loader: &selfsup_data::Loader) -> Result<LmEval> {
    let device = method.var_store().device();
    let (mut nll, mut correct, mut tokens) = (0.0, 0.0, 0.0);
    let mut has_acc = false;
    for hb in loader.epoch(0) {
        let b = selfsup_nn::host_to_device(&hb?, device)?;
        let m = method.evaluate(&b)?;
        let get = |k: &str| m.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        let (Some(loss), Some(n)) = (get("val_loss"), get("val_tokens")) else {
            return Err(shape_err(format!(
                "the method `{}` does not report val_loss and val_tokens: not a language model",
                method.name()
            )));
        };
        nll += loss * n;
        tokens += n;
        if let Some(a) = get("val_mlm_acc") {
            correct += a * n;
            has_acc = true;
        }
    }
    if tokens == 0.0 {
        return Err(selfsup_core::Error::config(
            "data",
            "the held-out text gave no predicted token (too short for one window, or nothing masked)",
        )
        .into());
    }
    Ok(LmEval::new(
        nll,
        has_acc.then_some(correct),
        tokens as usize,
    ))
}

/// The model of a language-model method: sizes from a `transformer_encoder` backbone (`dim`, `depth`,
/// `heads`, `max_len` = the context; `mlp_ratio` must be 4), the vocabulary from the input (else the
/// backbone's `vocab_size`). A next-token sample is `L + 1` ids (`L <= max_len`), a masked-token
/// sample `L <= max_len` ids.
pub fn model_config(
    method: &LanguageModelConfig,
    backbone: &BackboneConfig,
    input: &InputSpec,
) -> Result<GptConfig> {
    let BackboneConfig::TransformerEncoder(t) = backbone else {
        return Err(selfsup_core::Error::config(
            "backbone.kind",
            "language models (gpt, bert) take their sizes from `transformer_encoder` (dim, depth, heads, max_len)",
        )
        .into());
    };
    if (t.mlp_ratio - 4.0).abs() > 1e-12 {
        return Err(selfsup_core::Error::config(
            "backbone.mlp_ratio",
            format!(
                "the GPT/BERT model has an MLP of width 4·dim; got {}",
                t.mlp_ratio
            ),
        )
        .into());
    }
    let spec = method.family_spec();
    let (dropout, bias, causal) = (spec.dropout(), spec.bias(), spec.causal());
    // A causal sample is the window plus its next token.
    let extra = i64::from(causal);
    if let Some(&len) = input.shape.first() {
        if input.shape.len() != 1 || len - extra > t.max_len || len - extra < 1 {
            return Err(selfsup_core::Error::config(
                "backbone.max_len",
                format!(
                    "{} samples of shape {:?} need a context of {} tokens (gpt reads L+1-token windows), max_len is {}",
                    method.name(),
                    input.shape,
                    len - extra,
                    t.max_len
                ),
            )
            .into());
        }
    }
    let cfg = GptConfig {
        vocab_size: input.vocab_size.unwrap_or(t.vocab_size),
        block_size: t.max_len,
        n_layer: t.depth,
        n_head: t.heads,
        n_embd: t.dim,
        dropout,
        bias,
        causal,
    };
    cfg.validate()?;
    Ok(cfg)
}

impl MethodSpec for LanguageModelConfig {
    fn name(&self) -> &'static str {
        LanguageModelConfig::name(self)
    }
    fn validate(&self) -> selfsup_core::Result<()> {
        LanguageModelConfig::validate(self)
    }
    fn build(
        &self,
        vs: VarStore,
        backbone: &BackboneConfig,
        input: &InputSpec,
    ) -> Result<Box<dyn Method>> {
        let cfg = model_config(self, backbone, input)?;
        self.family_spec().build_model(vs, &cfg)
    }
}
