// ExportGguf: writes a model as a GGUF file that llama.cpp and llemma both
// load, converting or quantizing tensor by tensor while streaming, so a 27 GB
// float32 checkpoint never sits in memory whole. The source is a Hugging Face
// directory (its tokenizer.model becomes the GGUF vocabulary) or a GGUF file.
//
//   ExportOptions o;  o.type = DType::kQ4_0;
//   Status s = ExportGguf("/models/llemma_7b", "llemma-7b.Q4_0.gguf", o);
#pragma once

#include <functional>
#include <string>

#include "llemma/core/dtype.h"
#include "llemma/core/status.h"

namespace llemma {

struct ExportOptions {
  DType type = DType::kQ8_0;  // matrices; norms stay f32. Matrices whose rows are not whole
                              // blocks of a quantized type are written as f16.
  int n_threads = 0;
  // Called after each tensor with its name and the bytes written so far.
  std::function<void(const std::string& name, int64_t bytes_written)> progress;
};

Status ExportGguf(const std::string& source, const std::string& out_path, const ExportOptions& opts);

}  // namespace llemma
