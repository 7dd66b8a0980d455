//! Launch helpers and sharding, without processes: the torchrun / SLURM environment parsing of
//! `DistEnv`, and the `Shard` arithmetic against a direct construction of one process's batches.

use selfsup_dist::{DistEnv, Shard};
use std::collections::HashMap;

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| m.get(k).cloned()
}

#[test]
fn torchrun_variables() {
    let env = DistEnv::from_vars(vars(&[
        ("RANK", "5"),
        ("WORLD_SIZE", "8"),
        ("LOCAL_RANK", "1"),
        ("LOCAL_WORLD_SIZE", "4"),
        ("MASTER_ADDR", "10.0.0.1"),
        ("MASTER_PORT", "1234"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(
        env,
        DistEnv {
            rank: 5,
            world_size: 8,
            local_rank: 1,
            local_world_size: 4,
            master_addr: "10.0.0.1".into(),
            master_port: 1234
        }
    );
    // to_vars round-trips.
    let back: Vec<(&str, String)> = env.to_vars();
    let pairs: Vec<(&str, &str)> = back.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(DistEnv::from_vars(vars(&pairs)).unwrap().unwrap(), env);
}

#[test]
fn slurm_variables() {
    let env = DistEnv::from_vars(vars(&[
        ("SLURM_PROCID", "3"),
        ("SLURM_NTASKS", "4"),
        ("SLURM_LOCALID", "1"),
        ("SLURM_NTASKS_PER_NODE", "2(x2)"),
        ("MASTER_ADDR", "node01"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(
        (
            env.rank,
            env.world_size,
            env.local_rank,
            env.local_world_size
        ),
        (3, 4, 1, 2)
    );
    assert_eq!(env.master_addr, "node01");
    assert_eq!(env.master_port, selfsup_dist::DEFAULT_MASTER_PORT);
}

#[test]
fn single_process_and_bad_environments() {
    assert_eq!(DistEnv::from_vars(vars(&[])).unwrap(), None);
    assert_eq!(
        DistEnv::from_vars(vars(&[("RANK", "0"), ("WORLD_SIZE", "1")])).unwrap(),
        None
    );
    // One node: MASTER_ADDR defaults to loopback.
    let env = DistEnv::from_vars(vars(&[("RANK", "1"), ("WORLD_SIZE", "2")]))
        .unwrap()
        .unwrap();
    assert_eq!(env.master_addr, "127.0.0.1");
    let err = |p: &[(&str, &str)]| DistEnv::from_vars(vars(p)).unwrap_err().to_string();
    assert!(err(&[("RANK", "2"), ("WORLD_SIZE", "2")]).contains("RANK"));
    assert!(err(&[("WORLD_SIZE", "2")]).contains("RANK"));
    assert!(err(&[("RANK", "x"), ("WORLD_SIZE", "2")]).contains("RANK"));
    assert!(
        err(&[("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_PORT", "99999")])
            .contains("MASTER_PORT")
    );
    // Several nodes without MASTER_ADDR: an error naming it.
    assert!(err(&[
        ("RANK", "0"),
        ("WORLD_SIZE", "4"),
        ("LOCAL_WORLD_SIZE", "2"),
        ("LOCAL_RANK", "0")
    ])
    .contains("MASTER_ADDR"));
}

#[test]
fn shards_partition_the_global_batches_in_order() {
    let order: Vec<usize> = (0..103).map(|i| (i * 37 + 11) % 103).collect();
    for (w, b) in [(1usize, 8usize), (2, 4), (3, 5), (4, 1)] {
        let g = w * b;
        // One process with batch W·B and drop_last: global batch k is order[kG..(k+1)G].
        let single: Vec<Vec<usize>> = order.chunks_exact(g).map(|c| c.to_vec()).collect();
        let per_rank: Vec<Vec<Vec<usize>>> = (0..w)
            .map(|r| Shard::new(w, r, b).unwrap().batches(&order))
            .collect();
        for (k, global) in single.iter().enumerate() {
            let mut cat = Vec::new();
            for r in 0..w {
                assert_eq!(per_rank[r].len(), single.len(), "W={w} B={b} rank {r}");
                cat.extend_from_slice(&per_rank[r][k]);
            }
            assert_eq!(&cat, global, "W={w} B={b} batch {k}");
        }
    }
    assert!(Shard::new(2, 2, 4).is_err());
    assert!(Shard::new(0, 0, 4).is_err());
    assert!(Shard::new(2, 0, 0).is_err());
}

#[cfg(not(feature = "c10d"))]
#[test]
fn without_the_feature_constructors_explain() {
    let e = selfsup_dist::Store::file("/tmp/x", 1, std::time::Duration::from_secs(1))
        .err()
        .expect("no shim")
        .to_string();
    assert!(e.contains("c10d"), "{e}");
}
