//! NNCLR's nearest-neighbour lookup (Dwibedi et al., 2021): each query is replaced by the entry of
//! the support set with the highest cosine similarity (ties go to the lowest index). The loss is then
//! NT-Xent between the neighbours and the other view's predictions (see
//! [`crate::methods::nnclr`]). The returned rows are the support-set entries as stored, without gradient.

use super::{check_2d, normalize};
use selfsup_nn::Result;
use tch::Tensor;

/// For each row of `queries` (`N×D`), the row of `support` (`M×D`, `M ≥ 1`) with the highest cosine similarity.
pub fn nearest_neighbours(queries: &Tensor, support: &Tensor) -> Result<Tensor> {
    let (_, d) = check_2d("queries", queries, 1)?;
    let (_, ds) = check_2d("support set", support, 1)?;
    if d != ds {
        return Err(selfsup_core::Error::shape(format!(
            "support set has width {ds}, the queries {d}"
        ))
        .into());
    }
    let s = support.detach().to_kind(queries.kind());
    let sim = normalize(&queries.detach()).mm(&normalize(&s).tr());
    let idx = sim.argmax(1, false);
    Ok(s.index_select(0, &idx))
}
