#!/usr/bin/env bash
# Builds the CUDA kernel playground into build/dev-cuda/ (see README.md here).
# Extra arguments go to nvcc, e.g. `dev/cuda/build.sh --resource-usage`.
# NVCC overrides the compiler (default: nvcc on PATH, else /usr/local/cuda).
set -euo pipefail
cd "$(dirname "$0")/../.."
nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
mkdir -p build/dev-cuda
set -x
"$nvcc" -O3 -std=c++20 -arch=sm_90 -lineinfo "$@" \
  dev/cuda/fff_forward.cu -o build/dev-cuda/fff_forward
