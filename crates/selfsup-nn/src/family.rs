//! [`method_family!`](crate::method_family): the one mechanism that turns a list of per-method configs into a family's
//! serde enum (tagged by `kind`) with its [`crate::MethodSpec`] implementation, so that adding a
//! method to a family is one line there plus the method's own config type and `MethodSpec` impl.

/// Declares a family's config enum from `"kind" => Variant(ConfigType)` lines.
///
/// Every `ConfigType` implements [`crate::MethodSpec`] (its name, validation, view count and how it
/// builds its method); the macro writes the enum — serde-tagged by `kind`, each variant renamed to
/// its kind — with `KINDS` (every kind, in order), `spec()` (the variant's config as a
/// `&dyn MethodSpec`), a `MethodSpec` impl that delegates to it, and `From<ConfigType>` for each
/// variant. With `pub enum Name: FamilyTrait { ... }` it also writes `family_spec()`, the variant's
/// config as `&dyn FamilyTrait` (a family's own extension of `MethodSpec`). The crate using it needs
/// `serde`, `selfsup-core` and `tch` as dependencies.
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
        $crate::method_family! {
            $(#[$meta])*
            pub enum $family {
                $( $(#[$doc])* $kind => $variant($ty) ),*
            }
        }

        impl $family {
            /// The variant's config as the family's own spec trait.
            pub fn family_spec(&self) -> &dyn $spec {
                match self {
                    $( $family::$variant(c) => c, )*
                }
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $family:ident {
            $( $(#[$doc:meta])* $kind:literal => $variant:ident($ty:ty) ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(tag = "kind")]
        pub enum $family {
            $( $(#[$doc])* #[serde(rename = $kind)] $variant($ty), )*
        }

        impl $family {
            /// Every `kind` of this family, in declaration order.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

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

        $(
            impl From<$ty> for $family {
                fn from(c: $ty) -> Self {
                    $family::$variant(c)
                }
            }
        )*
    };
}
