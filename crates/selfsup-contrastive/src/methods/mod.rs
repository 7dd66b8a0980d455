//! The SSL methods, as [`selfsup_nn::Method`]s, and the factory the trainer calls.
//!
//! [`MethodConfig`] is a serde enum tagged by `kind` (`simclr`, `moco_v2`, `moco_v3`, `byol`,
//! `simsiam`, `barlow_twins`, `vicreg`, `nnclr`, `dino`, `swav`, `supcon`, `dcl`), each with the
//! paper's hyper-parameters as defaults; [`build_method`] validates it, seeds libtorch from the run
//! seed and builds the method on a device.
//!
//! Every method keeps all of its state in its one `VarStore`: `backbone.*` (the encoder, what
//! [`selfsup_nn::Method::encoder_prefix`] names), `projection_head.*`, `prediction_head.*`, the EMA
//! copies under `momentum.*` / `teacher.*` (non-trainable), queues under `queue.*`, DINO's `center`.
//!
//! | method | views | file |
//! | --- | --- | --- |
//! | SimCLR, SupCon, DCL(W), Barlow Twins, VICReg | 2 | [`two_view`] |
//! | MoCo v2, MoCo v3, BYOL, SimSiam | 2 | [`momentum`] |
//! | NNCLR | 2 | [`nnclr`] |
//! | DINO | ≥ 2 (first `n_global_views` global) | [`dino`] |
//! | SwAV | ≥ 2 (first `n_high_res_views` high resolution) | [`swav`] |

pub mod dino;
pub mod momentum;
pub mod nnclr;
pub mod swav;
pub mod two_view;

use selfsup_core::check;
use selfsup_nn::heads::ProjectionHead;
use selfsup_nn::{
    build_backbone, Backbone, BackboneConfig, Batch, InputSpec, Method, MethodSpec, Result,
};
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::{Device, Tensor};

pub use dino::{Dino, DinoConfig};
pub use momentum::{ByolConfig, MocoV2Config, MocoV3Config, MomentumMethod, SimSiamConfig};
pub use nnclr::{Nnclr, NnclrConfig};
pub use swav::{Swav, SwavConfig};
pub use two_view::{
    BarlowTwinsConfig, DclConfig, SimClrConfig, SupConConfig, TwoView, VicRegConfig,
};

/// Which method to train, with its hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MethodConfig {
    /// SimCLR (Chen et al., 2020).
    Simclr(SimClrConfig),
    /// MoCo v2 (Chen et al., 2020).
    MocoV2(MocoV2Config),
    /// MoCo v3 (Chen et al., 2021).
    MocoV3(MocoV3Config),
    /// BYOL (Grill et al., 2020).
    Byol(ByolConfig),
    /// SimSiam (Chen & He, 2021).
    Simsiam(SimSiamConfig),
    /// Barlow Twins (Zbontar et al., 2021).
    BarlowTwins(BarlowTwinsConfig),
    /// VICReg (Bardes et al., 2022).
    Vicreg(VicRegConfig),
    /// NNCLR (Dwibedi et al., 2021).
    Nnclr(NnclrConfig),
    /// DINO (Caron et al., 2021).
    Dino(DinoConfig),
    /// SwAV (Caron et al., 2020).
    Swav(SwavConfig),
    /// Supervised contrastive (Khosla et al., 2020); uses the batch labels when present.
    Supcon(SupConConfig),
    /// Decoupled contrastive learning, DCL / DCLW (Yeh et al., 2022).
    Dcl(DclConfig),
}

impl Default for MethodConfig {
    fn default() -> Self {
        MethodConfig::Simclr(SimClrConfig::default())
    }
}

impl MethodConfig {
    /// The method's name (`"simclr"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            MethodConfig::Simclr(_) => "simclr",
            MethodConfig::MocoV2(_) => "moco_v2",
            MethodConfig::MocoV3(_) => "moco_v3",
            MethodConfig::Byol(_) => "byol",
            MethodConfig::Simsiam(_) => "simsiam",
            MethodConfig::BarlowTwins(_) => "barlow_twins",
            MethodConfig::Vicreg(_) => "vicreg",
            MethodConfig::Nnclr(_) => "nnclr",
            MethodConfig::Dino(_) => "dino",
            MethodConfig::Swav(_) => "swav",
            MethodConfig::Supcon(_) => "supcon",
            MethodConfig::Dcl(_) => "dcl",
        }
    }

    /// How many views a batch must carry (at least).
    pub fn min_views(&self) -> usize {
        match self {
            MethodConfig::Dino(c) => c.n_global_views.max(2),
            MethodConfig::Swav(c) => c.n_high_res_views.max(2),
            _ => 2,
        }
    }

    /// Checks every hyper-parameter (messages name the field as `method.<field>`).
    pub fn validate(&self) -> selfsup_core::Result<()> {
        match self {
            MethodConfig::Simclr(c) => c.validate(),
            MethodConfig::MocoV2(c) => c.validate(),
            MethodConfig::MocoV3(c) => c.validate(),
            MethodConfig::Byol(c) => c.validate(),
            MethodConfig::Simsiam(c) => c.validate(),
            MethodConfig::BarlowTwins(c) => c.validate(),
            MethodConfig::Vicreg(c) => c.validate(),
            MethodConfig::Nnclr(c) => c.validate(),
            MethodConfig::Dino(c) => c.validate(),
            MethodConfig::Swav(c) => c.validate(),
            MethodConfig::Supcon(c) => c.validate(),
            MethodConfig::Dcl(c) => c.validate(),
        }
    }
}

impl MethodConfig {
    /// Every `kind` of this family.
    pub const KINDS: &'static [&'static str] = &[
        "simclr",
        "moco_v2",
        "moco_v3",
        "byol",
        "simsiam",
        "barlow_twins",
        "vicreg",
        "nnclr",
        "dino",
        "swav",
        "supcon",
        "dcl",
    ];
}

impl MethodSpec for MethodConfig {
    fn name(&self) -> &'static str {
        MethodConfig::name(self)
    }

    fn validate(&self) -> selfsup_core::Result<()> {
        MethodConfig::validate(self)
    }

    fn min_views(&self) -> usize {
        MethodConfig::min_views(self)
    }

    fn build(
        &self,
        vs: nn::VarStore,
        backbone: &BackboneConfig,
        input: &InputSpec,
    ) -> Result<Box<dyn Method>> {
        // The views reach the backbone as they are: it must read samples of this shape.
        backbone.check_input(&input.shape)?;
        build_in(self, vs, backbone, input.channels())
    }
}

/// Builds the configured method with the given backbone on `device`, seeding libtorch with `seed`
/// (the same as [`MethodSpec::instantiate`] with an input of `in_channels` channels).
pub fn build_method(
    cfg: &MethodConfig,
    backbone: &BackboneConfig,
    in_channels: i64,
    device: Device,
    seed: u64,
) -> Result<Box<dyn Method>> {
    // The sample shape is unknown here, so the input check of `MethodSpec::build` is not made.
    MethodSpec::validate(cfg)?;
    backbone.validate()?;
    tch::manual_seed(seed as i64);
    build_in(cfg, nn::VarStore::new(device), backbone, in_channels)
}

fn build_in(
    cfg: &MethodConfig,
    vs: nn::VarStore,
    backbone: &BackboneConfig,
    in_channels: i64,
) -> Result<Box<dyn Method>> {
    Ok(match cfg {
        MethodConfig::Simclr(c) => Box::new(TwoView::simclr(vs, c, backbone, in_channels)?),
        MethodConfig::Supcon(c) => Box::new(TwoView::supcon(vs, c, backbone, in_channels)?),
        MethodConfig::Dcl(c) => Box::new(TwoView::dcl(vs, c, backbone, in_channels)?),
        MethodConfig::BarlowTwins(c) => {
            Box::new(TwoView::barlow_twins(vs, c, backbone, in_channels)?)
        }
        MethodConfig::Vicreg(c) => Box::new(TwoView::vicreg(vs, c, backbone, in_channels)?),
        MethodConfig::MocoV2(c) => Box::new(MomentumMethod::moco_v2(vs, c, backbone, in_channels)?),
        MethodConfig::MocoV3(c) => Box::new(MomentumMethod::moco_v3(vs, c, backbone, in_channels)?),
        MethodConfig::Byol(c) => Box::new(MomentumMethod::byol(vs, c, backbone, in_channels)?),
        MethodConfig::Simsiam(c) => {
            Box::new(MomentumMethod::simsiam(vs, c, backbone, in_channels)?)
        }
        MethodConfig::Nnclr(c) => Box::new(Nnclr::new(vs, c, backbone, in_channels)?),
        MethodConfig::Dino(c) => Box::new(Dino::new(vs, c, backbone, in_channels)?),
        MethodConfig::Swav(c) => Box::new(Swav::new(vs, c, backbone, in_channels)?),
    })
}

/// A backbone followed by a projection head (`backbone.*`, `projection_head.*` under the path).
#[derive(Debug)]
pub(crate) struct Net {
    pub backbone: Box<dyn Backbone>,
    pub projection: ProjectionHead,
}

impl Net {
    /// `head` = widths after the backbone's output (`[hidden..., out]`).
    pub fn build(
        p: &nn::Path<'_>,
        backbone: &BackboneConfig,
        in_channels: i64,
        head: &[i64],
        hidden_bn: bool,
        last_bn: bool,
    ) -> Result<Net> {
        let backbone = build_backbone(&(p / "backbone"), backbone, in_channels)?;
        let mut dims = vec![backbone.output_dim()];
        dims.extend_from_slice(head);
        let projection = ProjectionHead::new(&(p / "projection_head"), &dims, hidden_bn, last_bn)?;
        Ok(Net {
            backbone,
            projection,
        })
    }

    /// Features and projections.
    pub fn forward(&self, x: &Tensor, train: bool) -> (Tensor, Tensor) {
        let h = self.backbone.forward_t(x, train);
        let z = self.projection.forward_t(&h, train);
        (h, z)
    }
}

/// The `i`-th view of a batch, or an error naming the method and the count it needs.
pub(crate) fn view<'a>(
    batch: &'a Batch,
    i: usize,
    method: &str,
    need: usize,
) -> Result<&'a Tensor> {
    if batch.views.len() < need {
        return Err(selfsup_core::Error::config(
            "views",
            format!(
                "{method} needs at least {need} views per batch, got {}",
                batch.views.len()
            ),
        )
        .into());
    }
    Ok(&batch.views[i])
}

/// Mean over features of the batch standard deviation of the L2-normalised rows: about `1/√D` for
/// well-spread embeddings, 0 for collapsed ones (the collapse monitor of the BYOL/SimSiam papers).
pub fn embedding_std(z: &Tensor) -> f64 {
    tch::no_grad(|| {
        let zn = crate::losses::normalize(&z.detach());
        if zn.size()[0] < 2 {
            return 0.0;
        }
        zn.std_dim(0, true, false).mean(zn.kind()).double_value(&[])
    })
}

/// Encoder features in eval mode without gradient.
pub(crate) fn embed_with(backbone: &dyn Backbone, x: &Tensor) -> Result<Tensor> {
    Ok(tch::no_grad(|| backbone.forward_t(x, false)))
}

pub(crate) fn pos_int(field: &str, v: i64) -> selfsup_core::Result<()> {
    check::at_least(field, v.max(0) as usize, 1)
}
