//! `selfsup generate`: sampling text from a trained next-token (GPT) run.
//!
//! `selfsup generate --run DIR --prompt "ROMEO:" --tokens 500 --temperature 0.8 --top-k 40 --seed 1`
//! reads from the run folder
//! - `vocab.json`: the vocabulary of the training file (`selfsup_data::Vocab::save`);
//! - `model.json`: the model's `selfsup_nn::backbones::GptConfig` (sizes, heads);
//! - the weights: `--checkpoint FILE`, else `checkpoints/best.safetensors`, else the newest checkpoint
//!   (`model/backbone.*` variables of a `selfsup_pretext::language::NextToken`);
//!
//! encodes the prompt (a character outside the vocabulary is an error naming it and its position), and
//! prints the prompt followed by the sampled continuation. The output is a function of the weights, the
//! prompt and the flags only (`NextToken::generate`: keyed by `--seed`; `--temperature 0` is greedy).

use anyhow::{bail, Context, Result};
use selfsup_data::Vocab;
use selfsup_nn::backbones::GptConfig;
use selfsup_nn::Method;
use selfsup_pretext::language::NextToken;
use std::path::{Path, PathBuf};
use tch::nn::VarStore;

/// Flags of `selfsup generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The run folder (vocab.json, model.json, checkpoints/).
    #[arg(long)]
    pub run: PathBuf,
    /// A checkpoint file (default: checkpoints/best.safetensors, else the newest).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// The text to continue.
    #[arg(long, default_value = "\n")]
    pub prompt: String,
    /// Tokens (characters) to sample.
    #[arg(long, default_value_t = 500)]
    pub tokens: usize,
    /// Softmax temperature (> 0; 0 = greedy decoding).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    /// Keep only the k most likely tokens at each step (0 = all).
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Seed of the sampling.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn checkpoint_of(run: &Path, given: &Option<PathBuf>) -> Result<selfsup_train::Checkpoint> {
    if let Some(p) = given {
        return Ok(selfsup_train::checkpoint::load(p)?);
    }
    let best = run.join("checkpoints").join("best.safetensors");
    if best.exists() {
        return Ok(selfsup_train::checkpoint::load(&best)?);
    }
    selfsup_train::Checkpointer::new(run.join("checkpoints"), usize::MAX)?
        .latest()?
        .with_context(|| format!("no checkpoint in {}", run.join("checkpoints").display()))
}

/// The prompt followed by `a.tokens` sampled tokens, decoded.
pub fn generate_text(a: &GenerateArgs) -> Result<String> {
    let vocab_path = a.run.join("vocab.json");
    let vocab = Vocab::load(&vocab_path).with_context(|| {
        format!(
            "{} is not a language-model run (no readable vocab.json)",
            a.run.display()
        )
    })?;
    let model_path = a.run.join("model.json");
    let cfg: GptConfig = serde_json::from_str(
        &std::fs::read_to_string(&model_path)
            .with_context(|| format!("cannot read {}", model_path.display()))?,
    )
    .with_context(|| format!("{} is not a model description", model_path.display()))?;
    if cfg.vocab_size != vocab.len() as i64 {
        bail!(
            "model.json says vocab_size {}, vocab.json has {} tokens",
            cfg.vocab_size,
            vocab.len()
        );
    }
    let prompt = vocab
        .try_encode(&a.prompt)
        .map_err(|e| anyhow::anyhow!("--prompt: {e}"))?;
    let ckpt = checkpoint_of(&a.run, &a.checkpoint)?;
    let mut m = NextToken::new(VarStore::new(tch::Device::Cpu), &cfg)?;
    ckpt.restore(m.var_store_mut(), None)?;
    let top_k = (a.top_k > 0).then_some(a.top_k);
    let out = m.generate(&prompt, a.tokens, a.temperature, top_k, a.seed)?;
    Ok(format!("{}{}", a.prompt, vocab.decode(&out)))
}

/// `selfsup generate`: prints [`generate_text`].
pub fn generate(a: &GenerateArgs) -> Result<()> {
    let text = generate_text(a)?;
    use std::io::Write;
    writeln!(std::io::stdout(), "{text}")?;
    Ok(())
}
