// selfsup-train's autocast shim: CPU autocast (`torch.autocast("cpu", dtype=...)`) for Rust.
//
// torch-sys only reaches the CUDA autocast flag (`at::autocast::is_enabled`), so this file exposes
// what PyTorch's `autocast.__enter__`/`__exit__` (torch/amp/autocast_mode.py) do for the CPU: save the
// thread's CPU autocast state (enabled, dtype, weight-cast cache), set the new one and increment the
// nesting; on exit decrement it, clear the cast cache when the outermost region ends, and restore the
// saved state. All state is thread-local in libtorch. No function lets a C++ exception escape.

#include <ATen/autocast_mode.h>

#include <cstdint>

extern "C" {

// The CPU autocast state of the calling thread.
struct selfsup_autocast_state {
  bool enabled;
  int8_t dtype;  // c10::ScalarType
  bool cache_enabled;
};

// Reads the calling thread's CPU autocast state into `out`. Returns 0, or -1 on error.
int selfsup_autocast_cpu_state(selfsup_autocast_state* out) {
  try {
    out->enabled = at::autocast::is_autocast_enabled(at::kCPU);
    out->dtype = static_cast<int8_t>(at::autocast::get_autocast_dtype(at::kCPU));
    out->cache_enabled = at::autocast::is_autocast_cache_enabled();
    return 0;
  } catch (...) {
    return -1;
  }
}

// `autocast.__enter__`: saves the state into `prev`, then enables (or disables) CPU autocast to
// `dtype` with the cast cache on, and increments the nesting. Returns 0, or -1 on error.
int selfsup_autocast_cpu_enter(bool enabled, int8_t dtype, selfsup_autocast_state* prev) {
  try {
    if (selfsup_autocast_cpu_state(prev) != 0) return -1;
    at::autocast::set_autocast_enabled(at::kCPU, enabled);
    at::autocast::set_autocast_dtype(at::kCPU, static_cast<at::ScalarType>(dtype));
    at::autocast::set_autocast_cache_enabled(true);
    at::autocast::increment_nesting();
    return 0;
  } catch (...) {
    return -1;
  }
}

// `autocast.__exit__`: decrements the nesting, clears the cast cache when it reaches 0, and restores
// `prev`. Returns 0, or -1 on error.
int selfsup_autocast_cpu_exit(const selfsup_autocast_state* prev) {
  try {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(at::kCPU, prev->enabled);
    at::autocast::set_autocast_dtype(at::kCPU, static_cast<at::ScalarType>(prev->dtype));
    at::autocast::set_autocast_cache_enabled(prev->cache_enabled);
    return 0;
  } catch (...) {
    return -1;
  }
}

}  // extern "C"
