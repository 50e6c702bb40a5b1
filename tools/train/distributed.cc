// Distributed (distributed.h) on c10d.
#include "tools/train/distributed.h"

#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>

#include "tools/train/torch_status.h"

namespace fff::train {

struct Distributed::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
};

Distributed::Distributed(const DistOptions& o) : options_(o) {}
Distributed::~Distributed() = default;

Result<std::unique_ptr<Distributed>> Distributed::Create(const DistOptions& o) {
  if (o.world_size < 1 || o.rank < 0 || o.rank >= o.world_size) {
    return InvalidArgumentError(fmt::format(
        "distributed: expected 0 <= rank < world_size, got rank {} of {}",
        o.rank, o.world_size));
  }
  std::unique_ptr<Distributed> d(new Distributed(o));
  d->impl_ = std::make_unique<Impl>();
  if (o.world_size == 1) return d;
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(o.master_port);
    so.isServer = o.rank == 0;
    so.numWorkers = o.world_size;
    so.waitWorkers = true;
    so.timeout = std::chrono::seconds(o.timeout_s);
    d->impl_->store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
    if (o.backend == "gloo") {
      auto go = c10d::ProcessGroupGloo::Options::create();
      go->timeout = std::chrono::seconds(o.timeout_s);
      go->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForHostname(o.master_addr));
      d->impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(
          d->impl_->store, o.rank, o.world_size, go);
    } else if (o.backend == "nccl") {
#if defined(USE_C10D_NCCL)
      d->impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          d->impl_->store, o.rank, o.world_size);
#else
      return InvalidArgumentError(
          "distributed: backend nccl: this libtorch was built without NCCL "
          "(Debian's CPU build); use gloo");
#endif
    } else {
      return InvalidArgumentError(fmt::format(
          "distributed: backend: expected gloo or nccl, got \"{}\"", o.backend));
    }
  } catch (const std::exception& e) {
    return InternalError(fmt::format(
        "distributed: rendezvous at {}:{} as rank {} of {} failed: {}",
        o.master_addr, o.master_port, o.rank, o.world_size, e.what()));
  }
  return d;
}

namespace {

// Runs `collective` on one flattened copy of `tensors` (one message instead
// of one per tensor) and copies the result back. The tensors must share a
// dtype (torch::cat would otherwise promote them all).
template <class Collective>
Status Flattened(const std::vector<torch::Tensor>& tensors, const char* what,
                 const Collective& collective) {
  for (const auto& t : tensors) {
    if (t.scalar_type() != tensors[0].scalar_type()) {
      return InvalidArgumentError(fmt::format(
          "distributed: {}: expected tensors of one dtype, got {} and {}", what,
          c10::toString(tensors[0].scalar_type()), c10::toString(t.scalar_type())));
    }
  }
  return TorchCall(what, [&] {
    std::vector<torch::Tensor> flat_views;
    for (const auto& t : tensors) flat_views.push_back(t.reshape({-1}));
    std::vector<torch::Tensor> flat = {torch::cat(flat_views)};
    collective(flat);
    int64_t at = 0;
    for (const auto& t : tensors) {
      t.copy_(flat[0].narrow(0, at, t.numel()).view(t.sizes()));
      at += t.numel();
    }
  });
}

}  // namespace

Status Distributed::AllReduceSum(const std::vector<torch::Tensor>& tensors) {
  if (options_.world_size == 1 || tensors.empty()) return Status::Ok();
  return Flattened(tensors, "distributed: all-reduce", [&](auto& flat) {
    impl_->group->allreduce(flat)->wait();
  });
}

Status Distributed::Broadcast(const std::vector<torch::Tensor>& tensors) {
  if (options_.world_size == 1 || tensors.empty()) return Status::Ok();
  return Flattened(tensors, "distributed: broadcast", [&](auto& flat) {
    impl_->group->broadcast(flat)->wait();
  });
}

Status Distributed::Barrier() {
  if (options_.world_size == 1) return Status::Ok();
  return TorchCall("distributed: barrier", [&] { impl_->group->barrier()->wait(); });
}

}  // namespace fff::train
