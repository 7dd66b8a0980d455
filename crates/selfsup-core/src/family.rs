//! [`config_family!`](crate::config_family): the one mechanism that turns a list of per-kind configs
//! into a family's serde enum tagged by `kind`, without libtorch. Every method family uses it — the
//! torch-free families (pretext tasks, language models) directly, the others through
//! `selfsup_nn::method_family!`, which adds the `MethodSpec` implementation on top — so adding a kind
//! is one line in the family's list plus the kind's own config type.

/// Declares a family's config enum from `"kind" => Variant(ConfigType)` lines.
///
/// The macro writes the enum — `Clone, Debug, PartialEq`, serde-tagged by `kind`, each variant
/// renamed to its kind — with `Default` (the first kind of the list with its defaults), `KINDS`
/// (every kind, in order), `kind()` (the variant's kind),
/// `with_defaults(kind)` (the variant of that kind with `ConfigType::default()`, `None` for an unknown
/// kind) and `From<ConfigType>` for each variant. With `pub enum Name: SpecTrait { ... }` it also
/// writes `family_spec()`, the variant's config as `&dyn SpecTrait`: the one `match` through which
/// the family reaches the per-kind behaviour (validation, views, builders) that each config type
/// implements. The crate using it needs `serde` as a dependency.
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// /// What every task of this family can do.
/// pub trait Task {
///     fn views(&self) -> usize;
/// }
///
/// #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
/// #[serde(default)]
/// pub struct RotationConfig { pub all_four: bool }
/// impl Task for RotationConfig {
///     fn views(&self) -> usize { if self.all_four { 4 } else { 1 } }
/// }
///
/// #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
/// pub struct JigsawConfig {}
/// impl Task for JigsawConfig {
///     fn views(&self) -> usize { 9 }
/// }
///
/// selfsup_core::config_family! {
///     /// A task, tagged by `kind`.
///     pub enum TaskConfig: Task {
///         /// Predict the rotation.
///         "rotation" => Rotation(RotationConfig),
///         /// Predict the permutation.
///         "jigsaw" => Jigsaw(JigsawConfig),
///     }
/// }
///
/// assert_eq!(TaskConfig::KINDS, ["rotation", "jigsaw"]);
/// assert_eq!(TaskConfig::default(), TaskConfig::Rotation(RotationConfig::default()));
/// let t = TaskConfig::with_defaults("jigsaw").unwrap();
/// assert_eq!((t.kind(), t.family_spec().views()), ("jigsaw", 9));
/// assert!(TaskConfig::with_defaults("colour").is_none());
/// let t: TaskConfig = serde_json::from_str(r#"{"kind": "rotation", "all_four": true}"#).unwrap();
/// assert_eq!(t, TaskConfig::from(RotationConfig { all_four: true }));
/// assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"kind":"rotation","all_four":true}"#);
/// ```
#[macro_export]
macro_rules! config_family {
    (
        $(#[$meta:meta])*
        pub enum $family:ident: $spec:path {
            $( $(#[$doc:meta])* $kind:literal => $variant:ident($ty:ty) ),* $(,)?
        }
    ) => {
        $crate::config_family! {
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
            $(#[$first_doc:meta])* $first_kind:literal => $first:ident($first_ty:ty)
            $(, $(#[$doc:meta])* $kind:literal => $variant:ident($ty:ty) )* $(,)?
        }
    ) => {
        $crate::config_family!(@enum
            $(#[$meta])*
            pub enum $family {
                $(#[$first_doc])* $first_kind => $first($first_ty),
                $( $(#[$doc])* $kind => $variant($ty) ),*
            }
        );

        /// The first kind of the list, with its defaults.
        impl Default for $family {
            fn default() -> Self {
                $family::$first(<$first_ty as Default>::default())
            }
        }
    };
    (@enum
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

            /// The variant's `kind`, as written in config files.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( $family::$variant(_) => $kind, )*
                }
            }

            /// The config of `kind` with that kind's defaults; `None` for a kind not in `KINDS`.
            pub fn with_defaults(kind: &str) -> Option<Self> {
                match kind {
                    $( $kind => Some($family::$variant(<$ty as Default>::default())), )*
                    _ => None,
                }
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
