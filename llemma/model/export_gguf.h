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
#include "llemma/model/config.h"
#include "llemma/model/tensor_names.h"

namespace llemma {

struct ExportOptions {
  DType type = DType::kQ8_0;  // matrices; norms stay f32. Matrices whose rows are not whole
                              // blocks of a quantized type are written as f16.
  // The "_M" mixes of K-quant files (with type q4_k or q5_k): the output
  // matrix, and attn_v and ffn_down in the first and last eighth of the
  // layers and every third layer between, are written as Q6_K; the rule
  // of the community Q4_K_M / Q5_K_M files.
  bool k_mix = false;
  int n_threads = 0;
  // Called after each tensor with its name and the bytes written so far.
  std::function<void(const std::string& name, int64_t bytes_written)> progress;
};

Status ExportGguf(const std::string& source, const std::string& out_path, const ExportOptions& opts);

// The type ExportGguf writes tensor `spec` of a model with config `c` in.
DType ExportTensorType(const TensorSpec& spec, const Config& c, const ExportOptions& opts);

// Parses a --type name: a DType name, or q4_k_s / q5_k_s (= q4_k / q5_k) and
// q4_k_m / q5_k_m (the K-quant with k_mix).
StatusOr<ExportOptions> ParseExportType(const std::string& name);

}  // namespace llemma
