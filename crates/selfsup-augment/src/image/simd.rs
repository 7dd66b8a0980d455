//! Runtime CPU dispatch for the image kernels: the hot loops (colour ops, hue, blur, resampling,
//! normalisation) are written as plain, auto-vectorisable Rust, and [`with_avx2`] compiles a second
//! copy of them for AVX2 (8 floats per instruction instead of SSE2's 4, and single-instruction blends),
//! chosen at run time on x86-64 CPUs that have it.
//!
//! Only AVX2 is enabled, not FMA: both copies perform the same IEEE operations in the same order, so
//! their results are identical to the bit (`tests::both_paths_agree_to_the_bit`), and identical on
//! machines without AVX2. This is the one place in the crate with `unsafe`: calling a
//! `#[target_feature]` function requires it, and the feature check right before the call is what makes
//! it sound.

/// Runs `f`, compiled for AVX2 when the CPU has it (x86-64), otherwise as is.
///
/// Pass an `#[inline(always)]` closure whose loops are `#[inline(always)]` functions, so they are
/// compiled inside the AVX2 function rather than called from it.
#[inline(always)]
pub(crate) fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        fn run_avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if avx2_allowed() {
            #[allow(unsafe_code)]
            // SAFETY: `run_avx2` only requires the AVX2 instructions, which the CPU has (checked).
            return unsafe { run_avx2(f) };
        }
    }
    f()
}

#[cfg(all(target_arch = "x86_64", not(test)))]
#[inline(always)]
fn avx2_allowed() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

#[cfg(all(target_arch = "x86_64", test))]
thread_local! {
    /// Unit tests turn the AVX2 path off to compare both.
    static PORTABLE_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(all(target_arch = "x86_64", test))]
fn avx2_allowed() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && !PORTABLE_ONLY.with(|p| p.get())
}

#[cfg(test)]
mod tests {
    use super::super::{
        color, gaussian_blur, resize_region, ImageRecipe, Interpolation, Normalize, SimClrConfig,
    };
    use selfsup_core::{ImageF32, SampleKey};

    /// Everything the dispatched kernels produce for one image, flattened.
    fn outputs(img: &ImageF32) -> Vec<u32> {
        let mut out: Vec<ImageF32> = Vec::new();
        for size in [96, 40] {
            let mv = ImageRecipe::SimClr(SimClrConfig {
                input_size: size,
                gaussian_blur: Some(0.7),
                ..Default::default()
            })
            .build()
            .unwrap();
            for i in 0..8 {
                out.extend(mv.generate(img, SampleKey::new(3, 1, i)).unwrap());
            }
        }
        for f in [-0.5, -0.2, 0.05, 0.45] {
            out.push(color::adjust_hue(img.clone(), f));
        }
        for f in [0.3, 1.6] {
            out.push(color::adjust_contrast(img.clone(), f));
            out.push(color::adjust_saturation(img.clone(), f));
            out.push(color::adjust_brightness(img.clone(), f));
        }
        out.push(color::to_grayscale_keep_channels(img.clone()));
        out.push(Normalize::imagenet().normalize(img.clone()).unwrap());
        out.push(gaussian_blur(img, (23, 5), (3.0, 0.2)));
        for mode in [Interpolation::Bilinear, Interpolation::Bicubic] {
            for aa in [false, true] {
                out.push(resize_region(img, (5, 3, 60, 70), (33, 130), mode, aa).unwrap());
            }
        }
        out.iter()
            .flat_map(|x| x.data().iter().map(|v| v.to_bits()))
            .collect()
    }

    #[test]
    fn both_paths_agree_to_the_bit() {
        let (h, w) = (67, 75);
        let data: Vec<f32> = (0..3 * h * w)
            .map(|i| ((i * 7919 + i / 5) % 1013) as f32 / 1012.0)
            .collect();
        let img = ImageF32::new(3, h, w, data).unwrap();
        let dispatched = outputs(&img);
        #[cfg(target_arch = "x86_64")]
        super::PORTABLE_ONLY.with(|p| p.set(true));
        let portable = outputs(&img);
        #[cfg(target_arch = "x86_64")]
        super::PORTABLE_ONLY.with(|p| p.set(false));
        assert_eq!(dispatched.len(), portable.len());
        let differing = dispatched
            .iter()
            .zip(&portable)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differing,
            0,
            "{differing} of {} values differ",
            portable.len()
        );
    }
}
