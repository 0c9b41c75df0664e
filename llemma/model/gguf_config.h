// The model Config of a GGUF file of the llama architecture (llama.*
// metadata, the vocabulary size from token_embd.weight, special ids from the
// tokenizer metadata), validated like a config.json.
#pragma once

#include <cstdint>
#include <optional>

#include "llemma/core/dtype.h"
#include "llemma/core/status.h"
#include "llemma/gguf/gguf.h"
#include "llemma/model/config.h"

namespace llemma {

StatusOr<Config> ConfigFromGguf(const gguf::GgufFile& f);

// The type a GGUF tensor type is held in: its own where there are kernels
// for it, else an exact wider one (Q5_0 as Q8_0: the same values, more
// bytes; cpu/quants.h); nullopt where there is neither (Q4_1, Q5_1, ...).
std::optional<DType> HeldType(uint32_t gguf_type);
// Whether HeldType differs from the file's type (the rows need WidenRows).
bool IsWidened(uint32_t gguf_type);
// Bytes of a row of n elements as stored in the file.
size_t FileRowBytes(uint32_t gguf_type, int64_t n);
// Rewrites `rows` rows of n elements of a widened type as HeldType's blocks.
void WidenRows(uint32_t gguf_type, const void* src, void* dst, int64_t rows, int64_t n);

}  // namespace llemma
