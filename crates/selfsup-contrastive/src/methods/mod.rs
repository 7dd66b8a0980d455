//! The SSL methods, as [`selfsup_nn::Method`]s, and the factory the trainer calls.
//!
//! [`MethodConfig`] is a serde enum tagged by `kind` (`simclr`, `moco_v2`, `moco_v3`, `byol`,
//! `simsiam`, `barlow_twins`, `vicreg`, `nnclr`, `dino`, `swav`, `supcon`, `dcl`), each with the
//! paper's hyper-parameters as defaults; [`build_method`] validates it, seeds libtorch from the run
//! seed and builds the method on a device.
//!
//! Adding a method is one place: its config type (serde, `Default`, `validate`), its method type,
//! one `contrastive_method!` line (kind, constructor, views: the [`MethodSpec`] impl) and one line
//! in the [`selfsup_nn::method_family!`] list below.
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
mod small_data;
pub mod swav;
pub mod two_view;

use selfsup_core::check;
use selfsup_nn::heads::ProjectionHead;
use selfsup_nn::{
    build_backbone, Backbone, BackboneConfig, Batch, InputSpec, Method, MethodSpec, Result,
};
use tch::nn::{self, ModuleT};
use tch::{Device, Tensor};

pub use dino::{Dino, DinoConfig};
pub use momentum::{
    Byol, ByolConfig, MocoV2, MocoV2Config, MocoV3, MocoV3Config, MomentumNet, SimSiam,
    SimSiamConfig,
};
pub use nnclr::{Nnclr, NnclrConfig};
pub use swav::{Swav, SwavConfig};
pub use two_view::{
    BarlowTwinsConfig, DclConfig, SimClrConfig, SupConConfig, TwoView, VicRegConfig,
};

/// What a contrastive config offers besides [`MethodSpec`]: building its method from the input's
/// channel count alone (what [`build_method`] needs; [`MethodSpec::build`] also checks the sample
/// shape against the backbone first).
pub trait ContrastiveSpec: MethodSpec {
    /// Builds the method in `vs` for inputs of `in_channels` channels.
    fn build_with_channels(
        &self,
        vs: nn::VarStore,
        backbone: &BackboneConfig,
        in_channels: i64,
    ) -> Result<Box<dyn Method>>;
}

/// Implements [`MethodSpec`] and [`ContrastiveSpec`] for one method's config: its `kind`, its
/// constructor `(VarStore, &Config, &BackboneConfig, in_channels) -> Result<Method>` and the views
/// it needs. The config's own `validate` is the spec's validation.
macro_rules! contrastive_method {
    ($ty:ty, $kind:literal, $ctor:path, min_views = |$c:ident| $views:expr) => {
        impl MethodSpec for $ty {
            fn name(&self) -> &'static str {
                $kind
            }

            fn validate(&self) -> selfsup_core::Result<()> {
                <$ty>::validate(self)
            }

            fn min_views(&self) -> usize {
                let $c = self;
                $views
            }

            fn build(
                &self,
                vs: nn::VarStore,
                backbone: &BackboneConfig,
                input: &InputSpec,
            ) -> Result<Box<dyn Method>> {
                // The views reach the backbone as they are: it must read samples of this shape.
                backbone.check_input(&input.shape)?;
                self.build_with_channels(vs, backbone, input.channels())
            }
        }

        impl ContrastiveSpec for $ty {
            fn build_with_channels(
                &self,
                vs: nn::VarStore,
                backbone: &BackboneConfig,
                in_channels: i64,
            ) -> Result<Box<dyn Method>> {
                Ok(Box::new($ctor(vs, self, backbone, in_channels)?))
            }
        }
    };
}

contrastive_method!(SimClrConfig, "simclr", TwoView::simclr, min_views = |_c| 2);
contrastive_method!(MocoV2Config, "moco_v2", MocoV2::new, min_views = |_c| 2);
contrastive_method!(MocoV3Config, "moco_v3", MocoV3::new, min_views = |_c| 2);
contrastive_method!(ByolConfig, "byol", Byol::new, min_views = |_c| 2);
contrastive_method!(SimSiamConfig, "simsiam", SimSiam::new, min_views = |_c| 2);
contrastive_method!(
    BarlowTwinsConfig,
    "barlow_twins",
    TwoView::barlow_twins,
    min_views = |_c| 2
);
contrastive_method!(VicRegConfig, "vicreg", TwoView::vicreg, min_views = |_c| 2);
contrastive_method!(NnclrConfig, "nnclr", Nnclr::new, min_views = |_c| 2);
contrastive_method!(
    DinoConfig,
    "dino",
    Dino::new,
    min_views = |c| c.n_global_views.max(2)
);
contrastive_method!(
    SwavConfig,
    "swav",
    Swav::new,
    min_views = |c| c.n_high_res_views.max(2)
);
contrastive_method!(SupConConfig, "supcon", TwoView::supcon, min_views = |_c| 2);
contrastive_method!(DclConfig, "dcl", TwoView::dcl, min_views = |_c| 2);

selfsup_nn::method_family! {
    /// Which method to train, with its hyper-parameters (serde-tagged by `kind`).
    pub enum MethodConfig: ContrastiveSpec {
        /// SimCLR (Chen et al., 2020).
        "simclr" => Simclr(SimClrConfig),
        /// MoCo v2 (Chen et al., 2020).
        "moco_v2" => MocoV2(MocoV2Config),
        /// MoCo v3 (Chen et al., 2021).
        "moco_v3" => MocoV3(MocoV3Config),
        /// BYOL (Grill et al., 2020).
        "byol" => Byol(ByolConfig),
        /// SimSiam (Chen & He, 2021).
        "simsiam" => Simsiam(SimSiamConfig),
        /// Barlow Twins (Zbontar et al., 2021).
        "barlow_twins" => BarlowTwins(BarlowTwinsConfig),
        /// VICReg (Bardes et al., 2022).
        "vicreg" => Vicreg(VicRegConfig),
        /// NNCLR (Dwibedi et al., 2021).
        "nnclr" => Nnclr(NnclrConfig),
        /// DINO (Caron et al., 2021).
        "dino" => Dino(DinoConfig),
        /// SwAV (Caron et al., 2020).
        "swav" => Swav(SwavConfig),
        /// Supervised contrastive (Khosla et al., 2020); uses the batch labels when present.
        "supcon" => Supcon(SupConConfig),
        /// Decoupled contrastive learning, DCL / DCLW (Yeh et al., 2022).
        "dcl" => Dcl(DclConfig),
    }
}

/// Builds the configured method with the given backbone on `device`, seeding libtorch with `seed`
/// (the same as [`MethodSpec::instantiate`] with an input of `in_channels` channels, without the
/// check of the sample shape, which is unknown here).
pub fn build_method(
    cfg: &MethodConfig,
    backbone: &BackboneConfig,
    in_channels: i64,
    device: Device,
    seed: u64,
) -> Result<Box<dyn Method>> {
    MethodSpec::validate(cfg)?;
    backbone.validate()?;
    tch::manual_seed(seed as i64);
    cfg.family_spec()
        .build_with_channels(nn::VarStore::new(device), backbone, in_channels)
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
