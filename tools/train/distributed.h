// Multi-process data parallelism through torch.distributed's C++ core (c10d):
// a ProcessGroupGloo (CPU tensors) or, where libtorch was built with NCCL,
// ProcessGroupNCCL (CUDA tensors), rendezvous through a c10d TCPStore. fff
// calls the process group's broadcast and all-reduce; it has no collective
// of its own.
#ifndef FFF_TOOLS_TRAIN_DISTRIBUTED_H_
#define FFF_TOOLS_TRAIN_DISTRIBUTED_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "fff/status.h"

namespace fff::train {

struct DistOptions {
  int world_size = 1;
  int rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string backend = "gloo";  // gloo | nccl
  int timeout_s = 300;
};

class Distributed {
 public:
  // world_size 1: a no-op group (no store, no sockets).
  static Result<std::unique_ptr<Distributed>> Create(const DistOptions& o);
  ~Distributed();

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }
  bool is_main() const { return options_.rank == 0; }

  // Sums `tensors` (one dtype) over all ranks in place (one flattened
  // all-reduce).
  Status AllReduceSum(const std::vector<torch::Tensor>& tensors);
  // Copies rank 0's values into `tensors` (one dtype) on every rank.
  Status Broadcast(const std::vector<torch::Tensor>& tensors);
  Status Barrier();

 private:
  struct Impl;
  explicit Distributed(const DistOptions& o);
  DistOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fff::train

#endif  // FFF_TOOLS_TRAIN_DISTRIBUTED_H_
