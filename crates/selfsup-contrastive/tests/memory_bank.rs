//! The FIFO memory bank: contents after each enqueue against a plain `VecDeque` model, wrap-around,
//! oversized batches, the "negatives are the contents before the batch" contract, and its state
//! living in the VarStore.

use selfsup_contrastive::MemoryBank;
use std::collections::VecDeque;
use tch::{nn, Device, Kind, Tensor};

fn rows(t: &Tensor) -> Vec<Vec<f64>> {
    let t = t.to_kind(Kind::Double);
    let s = t.size();
    (0..s[0])
        .map(|i| (0..s[1]).map(|j| t.double_value(&[i, j])).collect())
        .collect()
}

#[test]
fn contents_after_each_enqueue_follow_a_fifo_model() {
    let vs = nn::VarStore::new(Device::Cpu);
    let mut bank = MemoryBank::new(&(vs.root() / "queue"), 5, 2, false).unwrap();
    assert!(bank.is_empty());
    assert_eq!(bank.contents().size(), vec![0, 2]);
    let mut model: VecDeque<Vec<f64>> = VecDeque::new();
    let mut next = 0.0;
    for batch in [2i64, 2, 2, 3, 1, 7, 4] {
        let data: Vec<Vec<f64>> = (0..batch)
            .map(|_| {
                next += 1.0;
                vec![next, -next]
            })
            .collect();
        let flat: Vec<f32> = data.iter().flatten().map(|&x| x as f32).collect();
        bank.enqueue(&Tensor::from_slice(&flat).reshape([batch, 2]))
            .unwrap();
        for r in data {
            model.push_back(r);
            if model.len() > 5 {
                model.pop_front();
            }
        }
        let want: Vec<Vec<f64>> = model.iter().cloned().collect();
        assert_eq!(
            rows(&bank.contents_fifo()),
            want,
            "after a batch of {batch}"
        );
        assert_eq!(bank.len() as usize, want.len());
        // Storage order holds the same set of rows.
        let mut got = rows(&bank.contents());
        let mut w = want.clone();
        got.sort_by(|a, b| a[0].partial_cmp(&b[0]).unwrap());
        w.sort_by(|a, b| a[0].partial_cmp(&b[0]).unwrap());
        assert_eq!(got, w);
    }
    // State is in the VarStore, non-trainable.
    let vars = vs.variables();
    for k in ["queue.bank", "queue.ptr", "queue.filled"] {
        assert!(vars.contains_key(k) && !vars[k].requires_grad(), "{k}");
    }
    assert!(vs.trainable_variables().is_empty());
    assert!(bank
        .enqueue(&Tensor::zeros([2, 3], (Kind::Float, Device::Cpu)))
        .is_err());
}

#[test]
fn negatives_are_the_contents_before_the_batch() {
    let vs = nn::VarStore::new(Device::Cpu);
    let mut bank = MemoryBank::new(&vs.root(), 4, 3, false).unwrap();
    let a = Tensor::ones([2, 3], (Kind::Float, Device::Cpu));
    bank.enqueue(&a).unwrap();
    let before = bank.contents();
    let b = Tensor::ones([2, 3], (Kind::Float, Device::Cpu)) * 2.0;
    bank.enqueue(&b).unwrap();
    // `before` was taken before the enqueue and does not see the new rows' positions as data of b.
    assert_eq!(before.size(), vec![2, 3]);
    assert_eq!(bank.len(), 4);
}

#[test]
fn random_init_starts_full_of_unit_vectors() {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let bank = MemoryBank::new(&vs.root(), 16, 8, true).unwrap();
    assert_eq!(bank.len(), 16);
    let norms = bank.contents().norm_scalaropt_dim(2, [1], false);
    assert!((norms - 1.0).abs().max().double_value(&[]) < 1e-5);
    assert!(MemoryBank::new(&vs.root(), 0, 8, false).is_err());
}
