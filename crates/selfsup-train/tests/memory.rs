//! `keep_freed_memory`: a freed 40 MiB buffer (above glibc's largest mmap threshold, 32 MiB) is reused
//! by the next allocation instead of being unmapped and page-faulted in again. Its own test binary,
//! because the setting is process-wide.

use selfsup_train::memory::{keep_freed_memory, thread_minor_faults};

const BYTES: usize = 40 << 20;
const PAGE: usize = 4096;

/// Minor page faults of allocating, touching every page of and freeing one `BYTES` buffer.
fn faults_of_one_round() -> u64 {
    let before = thread_minor_faults().expect("getrusage");
    let mut v = vec![0u8; BYTES];
    for i in (0..BYTES).step_by(PAGE) {
        v[i] = 1;
    }
    std::hint::black_box(&v);
    drop(v);
    thread_minor_faults().expect("getrusage") - before
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn a_freed_large_buffer_is_reused_without_new_page_faults() {
    let pages = (BYTES / PAGE) as u64;
    // Without the setting every round is a fresh mapping: about one fault per page.
    let fresh = faults_of_one_round();
    assert!(fresh > pages / 2, "{fresh} faults for {pages} pages");
    assert!(keep_freed_memory());
    let _first = faults_of_one_round();
    let again = faults_of_one_round();
    assert!(
        again < pages / 20,
        "{again} faults re-allocating {pages} pages that were freed"
    );
}
