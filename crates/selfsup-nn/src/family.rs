//! [`method_family!`](crate::method_family): a family of trainable methods — the family's serde enum
//! (tagged by `kind`), written by [`selfsup_core::config_family!`], with its [`crate::MethodSpec`]
//! implementation, so that adding a method to a family is one line there plus the method's own config
//! type and `MethodSpec` impl.

/// Declares a family's config enum from `"kind" => Variant(ConfigType)` lines.
///
/// [`selfsup_core::config_family!`] writes the enum (serde-tagged by `kind`, each variant renamed to
/// its kind), `KINDS`, `kind()`, `with_defaults(kind)`, `From<ConfigType>` and, with
/// `pub enum Name: FamilyTrait { ... }`, `family_spec()` (the variant's config as `&dyn FamilyTrait`,
/// a family's own extension of `MethodSpec`). This macro adds, from every `ConfigType`'s
/// [`crate::MethodSpec`] impl (its name, validation, view count and how it builds its method),
/// `spec()` (the variant's config as a `&dyn MethodSpec`) and a `MethodSpec` impl that delegates to
/// it. The crate using it needs `serde`, `selfsup-core` and `tch` as dependencies.
///
/// ```ignore
/// selfsup_nn::method_family! {
///     /// Which method to train.
///     pub enum MethodConfig {
///         /// SimCLR.
///         "simclr" => Simclr(SimClrConfig),
///     }
/// }
/// ```
#[macro_export]
macro_rules! method_family {
    (
        $(#[$meta:meta])*
        pub enum $family:ident: $spec:path {
            $( $(#[$doc:meta])* $kind:literal => $variant:ident($ty:ty) ),* $(,)?
        }
    ) => {
        ::selfsup_core::config_family! {
            $(#[$meta])*
            pub enum $family: $spec {
                $( $(#[$doc])* $kind => $variant($ty) ),*
            }
        }
        $crate::method_family!(@spec $family { $( $variant($ty) ),* });
    };
    (
        $(#[$meta:meta])*
        pub enum $family:ident {
            $( $(#[$doc:meta])* $kind:literal => $variant:ident($ty:ty) ),* $(,)?
        }
    ) => {
        ::selfsup_core::config_family! {
            $(#[$meta])*
            pub enum $family {
                $( $(#[$doc])* $kind => $variant($ty) ),*
            }
        }
        $crate::method_family!(@spec $family { $( $variant($ty) ),* });
    };
    (@spec $family:ident { $( $variant:ident($ty:ty) ),* }) => {
        impl $family {
            /// The variant's config as its [`MethodSpec`]($crate::MethodSpec).
            pub fn spec(&self) -> &dyn $crate::MethodSpec {
                match self {
                    $( $family::$variant(c) => c, )*
                }
            }

            /// The method's name, its `kind` (also without `MethodSpec` in scope).
            pub fn name(&self) -> &'static str {
                self.spec().name()
            }

            /// Checks every hyper-parameter (also without `MethodSpec` in scope).
            pub fn validate(&self) -> ::selfsup_core::Result<()> {
                self.spec().validate()
            }

            /// How many views a batch must carry, at least (also without `MethodSpec` in scope).
            pub fn min_views(&self) -> usize {
                self.spec().min_views()
            }
        }

        impl $crate::MethodSpec for $family {
            fn name(&self) -> &'static str {
                self.spec().name()
            }

            fn validate(&self) -> ::selfsup_core::Result<()> {
                self.spec().validate()
            }

            fn min_views(&self) -> usize {
                self.spec().min_views()
            }

            fn build(
                &self,
                vs: ::tch::nn::VarStore,
                backbone: &$crate::BackboneConfig,
                input: &$crate::InputSpec,
            ) -> $crate::Result<Box<dyn $crate::Method>> {
                self.spec().build(vs, backbone, input)
            }
        }
    };
}
