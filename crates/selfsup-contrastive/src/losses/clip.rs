//! CLIP's symmetric cross-entropy (Radford et al., 2021): with normalised `a`, `b` (`N×D`) and
//! `L = â b̂ᵀ / τ`, the loss is `(CE(L, i) + CE(Lᵀ, i)) / 2` where row `i`'s class is `i`.

use super::{arange, check_pair, cross_entropy, normalize, positive_temperature};
use selfsup_nn::Result;
use tch::Tensor;

/// See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipLoss {
    /// Temperature `τ` (CLIP's initial 0.07).
    pub temperature: f64,
}

impl Default for ClipLoss {
    fn default() -> Self {
        ClipLoss { temperature: 0.07 }
    }
}

impl ClipLoss {
    /// A loss with temperature `τ > 0`.
    pub fn new(temperature: f64) -> Result<Self> {
        positive_temperature("temperature", temperature)?;
        Ok(ClipLoss { temperature })
    }

    /// The loss of paired `N×D` embeddings.
    pub fn forward(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let (n, _) = check_pair(a, b, 1)?;
        let logits = normalize(a).mm(&normalize(b).tr()) / self.temperature;
        let y = arange(n, a);
        Ok((cross_entropy(&logits, &y) + cross_entropy(&logits.tr(), &y)) * 0.5)
    }
}
