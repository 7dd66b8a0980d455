//! Image transforms over planar float images in `[0, 1]` with torchvision v2 semantics.
//!
//! (Filled by the image-augmentation work: transforms, recipes, conversions, preview.)
