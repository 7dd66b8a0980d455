// c10d shim: a C ABI over libtorch's own distributed engine (c10d stores and ProcessGroupGloo).
//
// Every function catches every C++ exception and returns its message as a malloc'd string through
// `err` (freed by `ssd_free_string`); the return value is 0 on success, 1 on failure. Nothing here
// aborts. Tensors are tch's `C_tensor*`, which are `at::Tensor*` (torch-sys's torch_api.h:
// `typedef torch::Tensor *tensor;`).
//
// Compiled against the libtorch that torch-sys links (same headers, same -D_GLIBCXX_USE_CXX11_ABI) with
// USE_C10D_GLOO defined; Gloo's own headers (only needed for the declarations that
// ProcessGroupGloo.hpp includes: every Gloo object is held behind a shared_ptr, so no Gloo layout
// enters this file) come from Debian's libgloo-dev. We never link Debian's libgloo: every symbol we
// call is exported by libtorch_cpu.so (see docs/distributed.md for the `nm -DC` check).

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace {

struct StoreBox {
  c10::intrusive_ptr<c10d::Store> store;
};

struct PgBox {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  std::chrono::milliseconds timeout;
};

char* dup_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) {
    std::memcpy(out, s.data(), s.size());
    out[s.size()] = '\0';
  }
  return out;
}

template <typename F>
int guarded(char** err, F&& f) {
  try {
    f();
    return 0;
  } catch (const c10::Error& e) {
    if (err) *err = dup_string(e.what_without_backtrace());
  } catch (const std::exception& e) {
    if (err) *err = dup_string(e.what());
  } catch (...) {
    if (err) *err = dup_string("unknown C++ exception in c10d");
  }
  return 1;
}

c10d::ReduceOp to_op(int op) {
  switch (op) {
    case 0:
      return c10d::ReduceOp(c10d::ReduceOp::SUM);
    case 1:
      return c10d::ReduceOp(c10d::ReduceOp::AVG);
    case 2:
      return c10d::ReduceOp(c10d::ReduceOp::MAX);
    case 3:
      return c10d::ReduceOp(c10d::ReduceOp::MIN);
    case 4:
      return c10d::ReduceOp(c10d::ReduceOp::PRODUCT);
    default:
      throw std::invalid_argument("unknown reduce op " + std::to_string(op));
  }
}

void wait(const PgBox* pg, const c10::intrusive_ptr<c10d::Work>& work) {
  work->wait(pg->timeout);
}

void allreduce_sum(PgBox* p, at::Tensor& t) {
  c10d::AllreduceOptions opts;
  opts.reduceOp = c10d::ReduceOp(c10d::ReduceOp::SUM);
  opts.timeout = p->timeout;
  std::vector<at::Tensor> tensors{t};
  wait(p, p->pg->allreduce(tensors, opts));
}

// The sum over ranks as an autograd function (torch.distributed.nn.functional.all_reduce with
// SUM): forward all-reduces a copy of the input; backward all-reduces (sums) the incoming
// gradient, which is the adjoint of "every rank gets the sum". The backward runs on the thread
// that called backward() (CPU autograd), so every rank issues it at the same point of its graph.
struct AllReduceSumFn : public torch::autograd::Function<AllReduceSumFn> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            int64_t pg) {
    ctx->saved_data["pg"] = pg;
    at::Tensor out = x.clone(at::MemoryFormat::Contiguous);
    allreduce_sum(reinterpret_cast<PgBox*>(pg), out);
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* p = reinterpret_cast<PgBox*>(ctx->saved_data["pg"].toInt());
    at::Tensor g = grads[0].clone(at::MemoryFormat::Contiguous);
    allreduce_sum(p, g);
    return {g, at::Tensor()};
  }
};

}  // namespace

extern "C" {

void ssd_free_string(char* s) { std::free(s); }

int ssd_file_store_new(const char* path, int world_size, int64_t timeout_ms, void** out,
                       char** err) {
  return guarded(err, [&] {
    auto store = c10::make_intrusive<c10d::FileStore>(std::string(path), world_size);
    store->setTimeout(std::chrono::milliseconds(timeout_ms));
    *out = new StoreBox{store};
  });
}

int ssd_tcp_store_new(const char* host, int port, int world_size, int is_master,
                      int64_t timeout_ms, void** out, char** err) {
  return guarded(err, [&] {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(port);
    opts.isServer = is_master != 0;
    opts.numWorkers = world_size;
    opts.waitWorkers = true;
    opts.timeout = std::chrono::milliseconds(timeout_ms);
    auto store = c10::make_intrusive<c10d::TCPStore>(std::string(host), opts);
    *out = new StoreBox{store};
  });
}

// A view of `store` whose keys all start with `prefix/` (c10d's PrefixStore): one store can host
// several process groups.
int ssd_prefix_store_new(const char* prefix, void* store, void** out, char** err) {
  return guarded(err, [&] {
    auto* base = static_cast<StoreBox*>(store);
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>(std::string(prefix), base->store);
    *out = new StoreBox{prefixed};
  });
}

void ssd_store_free(void* store) { delete static_cast<StoreBox*>(store); }

int ssd_store_set(void* store, const char* key, const uint8_t* data, size_t len, char** err) {
  return guarded(err, [&] {
    std::vector<uint8_t> value(data, data + len);
    static_cast<StoreBox*>(store)->store->set(std::string(key), value);
  });
}

// Blocks until `key` exists (up to the store's timeout). `*out` is malloc'd, freed with
// ssd_free_string.
int ssd_store_get(void* store, const char* key, uint8_t** out, size_t* len, char** err) {
  return guarded(err, [&] {
    auto value = static_cast<StoreBox*>(store)->store->get(std::string(key));
    *len = value.size();
    *out = static_cast<uint8_t*>(std::malloc(value.size() == 0 ? 1 : value.size()));
    if (*out == nullptr) throw std::bad_alloc();
    if (!value.empty()) std::memcpy(*out, value.data(), value.size());
  });
}

int ssd_store_add(void* store, const char* key, int64_t value, int64_t* out, char** err) {
  return guarded(err, [&] { *out = static_cast<StoreBox*>(store)->store->add(std::string(key), value); });
}

// A Gloo process group. `hostname` (may be empty) picks the address Gloo binds to; empty means
// c10d's default device (GLOO_SOCKET_IFNAME if set, else this machine's hostname, else loopback).
int ssd_pg_gloo_new(void* store, int rank, int size, int64_t timeout_ms, const char* hostname,
                    int threads, void** out, char** err) {
  return guarded(err, [&] {
    auto* s = static_cast<StoreBox*>(store);
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10::intrusive_ptr<c10d::ProcessGroupGloo::Options> opts;
    std::string host = hostname ? std::string(hostname) : std::string();
    if (host.empty()) {
      opts = c10d::ProcessGroupGloo::Options::create_default(timeout);
    } else {
      opts = c10d::ProcessGroupGloo::Options::create(timeout);
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
    }
    if (threads > 0) opts->threads = threads;
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(s->store, rank, size, opts);
    *out = new PgBox{pg, timeout};
  });
}

void ssd_pg_free(void* pg) { delete static_cast<PgBox*>(pg); }

int ssd_all_reduce(void* pg, void* tensor, int op, char** err) {
  return guarded(err, [&] {
    auto* p = static_cast<PgBox*>(pg);
    auto& t = *static_cast<at::Tensor*>(tensor);
    c10d::AllreduceOptions opts;
    opts.reduceOp = to_op(op);
    opts.timeout = p->timeout;
    std::vector<at::Tensor> tensors{t};
    wait(p, p->pg->allreduce(tensors, opts));
  });
}

// `*out` = the sum of `input` over ranks, differentiable (AllReduceSumFn above); `input` is not
// modified. `*out` is a new at::Tensor* owned by the caller (tch frees it).
int ssd_all_reduce_sum_autograd(void* pg, void* input, void** out, char** err) {
  return guarded(err, [&] {
    auto* p = static_cast<PgBox*>(pg);
    const auto& x = *static_cast<at::Tensor*>(input);
    at::Tensor y = AllReduceSumFn::apply(x, reinterpret_cast<int64_t>(p));
    *out = new at::Tensor(std::move(y));
  });
}

// Gathers `input` (same shape on every rank) into `outputs[0..size]` (preallocated, same shape and
// dtype as `input`; typically the dim-0 chunks of one contiguous tensor).
int ssd_all_gather(void* pg, void* input, void** outputs, int n_outputs, char** err) {
  return guarded(err, [&] {
    auto* p = static_cast<PgBox*>(pg);
    std::vector<at::Tensor> in{*static_cast<at::Tensor*>(input)};
    std::vector<at::Tensor> outs;
    outs.reserve(n_outputs);
    for (int i = 0; i < n_outputs; ++i) outs.push_back(*static_cast<at::Tensor*>(outputs[i]));
    std::vector<std::vector<at::Tensor>> out_lists{outs};
    c10d::AllgatherOptions opts;
    opts.timeout = p->timeout;
    wait(p, p->pg->allgather(out_lists, in, opts));
  });
}

int ssd_broadcast(void* pg, void* tensor, int root, char** err) {
  return guarded(err, [&] {
    auto* p = static_cast<PgBox*>(pg);
    std::vector<at::Tensor> tensors{*static_cast<at::Tensor*>(tensor)};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    opts.rootTensor = 0;
    opts.timeout = p->timeout;
    wait(p, p->pg->broadcast(tensors, opts));
  });
}

int ssd_barrier(void* pg, char** err) {
  return guarded(err, [&] {
    auto* p = static_cast<PgBox*>(pg);
    c10d::BarrierOptions opts;
    opts.timeout = p->timeout;
    wait(p, p->pg->barrier(opts));
  });
}

}  // extern "C"
