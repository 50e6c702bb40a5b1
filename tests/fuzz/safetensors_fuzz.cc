// libFuzzer target: any byte string given to SafetensorsReader::FromBuffer
// must give a reader or a Status, never a crash, leak or undefined behaviour;
// every tensor of an accepted file must stay inside the buffer and convert.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fff/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto reader = fff::SafetensorsReader::FromBuffer(
      std::span<const uint8_t>(data, size), "fuzz.safetensors");
  if (!reader.ok()) return 0;
  for (const fff::TensorInfo& info : reader->tensors()) {
    const std::span<const uint8_t> bytes = reader->Bytes(info);
    if (bytes.size() != info.size_bytes ||
        (!bytes.empty() &&
         (bytes.data() < data || bytes.data() + bytes.size() > data + size))) {
      __builtin_trap();
    }
    if (reader->Find(info.name) != &info) __builtin_trap();
    if (info.n_elements > (int64_t{1} << 20)) continue;
    std::vector<float> dst(static_cast<size_t>(info.n_elements));
    (void)reader->ReadF32(info, dst);
  }
  return 0;
}
