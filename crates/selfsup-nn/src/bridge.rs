//! ndarray ↔ `tch::Tensor`. The loader produces standard-layout ndarrays; converting one is a single
//! memcpy into a tensor (no per-element work), then one transfer when the device is a GPU.

use crate::Result;
use ndarray::{ArrayD, ArrayView, Dimension, IxDyn};
use tch::{Device, Kind, Tensor};

/// Element types that cross the bridge.
pub trait Element: tch::kind::Element + Copy + Default {}
impl Element for f32 {}
impl Element for f64 {}
impl Element for i64 {}
impl Element for u8 {}

/// Copies an ndarray (any dimension) into a tensor on `device`.
pub fn array_to_tensor<T: Element, D: Dimension>(
    a: ArrayView<'_, T, D>,
    device: Device,
) -> Result<Tensor> {
    let shape: Vec<i64> = a.shape().iter().map(|&d| d as i64).collect();
    let t = match a.as_slice() {
        Some(s) => Tensor::from_slice(s),
        None => Tensor::from_slice(&a.iter().copied().collect::<Vec<T>>()),
    };
    let t = t.f_reshape(&shape)?;
    Ok(if device == Device::Cpu {
        t
    } else {
        t.f_to_device(device)?
    })
}

/// Copies a tensor (any device, any dimension) into an ndarray of `T` (converting the kind if needed).
pub fn tensor_to_array<T: Element>(t: &Tensor) -> Result<ArrayD<T>> {
    let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
    let t = t
        .f_to_device(Device::Cpu)?
        .f_to_kind(T::KIND)?
        .f_contiguous()?
        .f_flatten(0, -1)?;
    let n = t.numel();
    let mut out = vec![T::default(); n];
    t.f_copy_data(&mut out, n)?;
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("numel matches shape"))
}

/// A float32 scalar tensor's value.
pub fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.f_to_kind(Kind::Double)?.f_double_value(&[])?)
}

/// Copies a loader batch to `device` as a method [`Batch`](crate::Batch): the float views first,
/// then the token views as `Int64` tensors; labels and indices `Int64`; class targets `Int64`,
/// dense targets `Float`.
pub fn host_to_device(b: &selfsup_core::HostBatch, device: Device) -> Result<crate::Batch> {
    let mut views = b
        .views
        .iter()
        .map(|v| array_to_tensor(v.view(), device))
        .collect::<Result<Vec<_>>>()?;
    for t in &b.tokens {
        views.push(array_to_tensor(t.view(), device)?);
    }
    let labels = match &b.labels {
        Some(l) => Some(array_to_tensor(l.view(), device)?),
        None => None,
    };
    let targets = match &b.targets {
        Some(selfsup_core::Targets::Classes(a)) => Some(array_to_tensor(a.view(), device)?),
        Some(selfsup_core::Targets::Dense(a)) => Some(array_to_tensor(a.view(), device)?),
        None => None,
    };
    Ok(crate::Batch {
        views,
        labels,
        targets,
        indices: Some(array_to_tensor(b.indices.view(), device)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, Array4};

    #[test]
    fn arrays_round_trip_through_tensors() {
        let a = Array::from_shape_fn((2, 3, 4, 5), |(n, c, h, w)| {
            (n * 1000 + c * 100 + h * 10 + w) as f32
        });
        let t = array_to_tensor(a.view(), Device::Cpu).unwrap();
        assert_eq!(t.size(), vec![2, 3, 4, 5]);
        assert_eq!(t.double_value(&[1, 2, 3, 4]), 1234.0);
        let back: Array4<f32> = tensor_to_array::<f32>(&t)
            .unwrap()
            .into_dimensionality()
            .unwrap();
        assert_eq!(back, a);
        // A non-standard layout (transposed view) is copied correctly too.
        let tv = a.view().reversed_axes();
        let t2 = array_to_tensor(tv, Device::Cpu).unwrap();
        assert_eq!(t2.size(), vec![5, 4, 3, 2]);
        assert_eq!(t2.double_value(&[4, 3, 2, 1]), 1234.0);
        let ids = ndarray::arr2(&[[1i64, 2], [3, 4]]);
        let ti = array_to_tensor(ids.view(), Device::Cpu).unwrap();
        assert_eq!(ti.kind(), Kind::Int64);
        assert_eq!(
            tensor_to_array::<i64>(&ti)
                .unwrap()
                .into_dimensionality::<ndarray::Ix2>()
                .unwrap(),
            ids
        );
    }
}
