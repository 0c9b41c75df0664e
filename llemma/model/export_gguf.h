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
  // The mixes of community K-quant files, which give some matrices more
  // bits (ExportTensorType; the file types llama.cpp names them by):
  //   q4_k / q5_k with kMedium (Q4_K_M / Q5_K_M): the output matrix, and
  //     attn_v and ffn_down in the first and last eighth of the layers and
  //     every third layer between, are Q6_K.
  //   q3_k (every size): the output matrix is Q6_K; kSmall (Q3_K_S) keeps
  //     the rest Q3_K; kMedium (Q3_K_M) writes attn_output as Q4_K, attn_v
  //     as Q5_K in layers 0-1 and Q4_K after, ffn_down as Q5_K in the first
  //     sixteenth of the layers and Q4_K after; kLarge (Q3_K_L) writes
  //     attn_v, attn_output and ffn_down as Q5_K.
  //   q2_k (always mixed): the output matrix is Q6_K, attn_output and
  //     ffn_down Q3_K, attn_v Q3_K (Q4_K where 4 or more heads share each
  //     key/value head).
  enum class KMix : uint8_t { kNone, kSmall, kMedium, kLarge };
  KMix mix = KMix::kNone;
  int n_threads = 0;
  // Called after each tensor with its name and the bytes written so far.
  std::function<void(const std::string& name, int64_t bytes_written)> progress;
};

Status ExportGguf(const std::string& source, const std::string& out_path, const ExportOptions& opts);

// The type ExportGguf writes tensor `spec` of a model with config `c` in.
DType ExportTensorType(const TensorSpec& spec, const Config& c, const ExportOptions& opts);

// Parses a --type name: a DType name, q4_k_s / q5_k_s (= q4_k / q5_k),
// q4_k_m / q5_k_m, q3_k_s (= q3_k) / q3_k_m / q3_k_l, and q2_k (the K-quant
// with its mix).
StatusOr<ExportOptions> ParseExportType(const std::string& name);

}  // namespace llemma
