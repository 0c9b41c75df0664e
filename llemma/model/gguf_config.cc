#include "llemma/model/gguf_config.h"

#include "llemma/backend/cpu/quants.h"
#include "llemma/core/check.h"

namespace llemma {

StatusOr<Config> ConfigFromGguf(const gguf::GgufFile& f) {
  LLEMMA_ASSIGN_OR_RETURN(std::string arch, f.GetString("general.architecture"));
  if (arch != "llama") {
    return UnimplementedError(f.path() + ": general.architecture is '" + arch + "'; llemma runs llama models");
  }
  Config c;
  auto get = [&](const std::string& key, int64_t* out) -> Status {
    LLEMMA_ASSIGN_OR_RETURN(uint64_t v, f.GetUInt("llama." + key));
    *out = static_cast<int64_t>(v);
    return Status::Ok();
  };
  LLEMMA_RETURN_IF_ERROR(get("embedding_length", &c.n_embd));
  LLEMMA_RETURN_IF_ERROR(get("feed_forward_length", &c.n_ff));
  LLEMMA_RETURN_IF_ERROR(get("block_count", &c.n_layer));
  LLEMMA_RETURN_IF_ERROR(get("attention.head_count", &c.n_head));
  LLEMMA_RETURN_IF_ERROR(get("context_length", &c.n_ctx_train));
  c.n_head_kv = c.n_head;
  if (f.Find("llama.attention.head_count_kv")) LLEMMA_RETURN_IF_ERROR(get("attention.head_count_kv", &c.n_head_kv));
  c.head_dim = c.n_head > 0 ? c.n_embd / c.n_head : 0;
  if (f.Find("llama.rope.dimension_count")) {
    int64_t rot = 0;
    LLEMMA_RETURN_IF_ERROR(get("rope.dimension_count", &rot));
    if (rot != c.head_dim) {
      return UnimplementedError(f.path() + ": partial rotary embeddings (rope.dimension_count " +
                                std::to_string(rot) + " != head size " + std::to_string(c.head_dim) + ")");
    }
  }
  LLEMMA_ASSIGN_OR_RETURN(double eps, f.GetFloat("llama.attention.layer_norm_rms_epsilon"));
  c.rms_norm_eps = static_cast<float>(eps);
  if (f.Find("llama.rope.freq_base")) {
    LLEMMA_ASSIGN_OR_RETURN(c.rope_theta, f.GetFloat("llama.rope.freq_base"));
  }
  if (f.Find("llama.rope.scaling.type")) {
    LLEMMA_ASSIGN_OR_RETURN(std::string type, f.GetString("llama.rope.scaling.type"));
    if (type == "linear") {
      LLEMMA_ASSIGN_OR_RETURN(c.rope_scale, f.GetFloat("llama.rope.scaling.factor"));
    } else if (type != "none") {
      return UnimplementedError(f.path() + ": rope scaling '" + type + "' is not supported (only linear)");
    }
  } else if (f.Find("llama.rope.scale_linear")) {
    LLEMMA_ASSIGN_OR_RETURN(c.rope_scale, f.GetFloat("llama.rope.scale_linear"));
  }
  const gguf::GgufTensor* emb = f.FindTensor("token_embd.weight");
  if (emb == nullptr || emb->dims.size() != 2) {
    return DataLossError(f.path() + ": tensor 'token_embd.weight' is missing or not a matrix");
  }
  c.n_vocab = emb->dims[1];
  if (auto id = f.GetUInt("tokenizer.ggml.bos_token_id"); id.ok()) c.bos_id = static_cast<int32_t>(*id);
  if (auto id = f.GetUInt("tokenizer.ggml.eos_token_id"); id.ok()) c.eos_id = static_cast<int32_t>(*id);
  LLEMMA_RETURN_IF_ERROR(c.Validate(f.path()));
  return c;
}

std::optional<DType> HeldType(uint32_t gguf_type) {
  switch (static_cast<gguf::TensorType>(gguf_type)) {
    case gguf::TensorType::kQ5_0: return DType::kQ8_0;
    default: return gguf::TensorTypeToDType(gguf_type);
  }
}

bool IsWidened(uint32_t gguf_type) {
  return gguf_type == static_cast<uint32_t>(gguf::TensorType::kQ5_0);
}

size_t FileRowBytes(uint32_t gguf_type, int64_t n) {
  int64_t block = 0;
  size_t bytes = 0;
  LLEMMA_CHECK(gguf::TensorTypeInfo(gguf_type, nullptr, &block, &bytes)) << gguf_type;
  return static_cast<size_t>(n / block) * bytes;
}

void WidenRows(uint32_t gguf_type, const void* src, void* dst, int64_t rows, int64_t n) {
  const auto held = HeldType(gguf_type);
  LLEMMA_CHECK(IsWidened(gguf_type) && held) << gguf_type;
  const size_t in_row = FileRowBytes(gguf_type, n), out_row = RowBytes(*held, n);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* in = static_cast<const uint8_t*>(src) + r * in_row;
    uint8_t* out = static_cast<uint8_t*>(dst) + r * out_row;
    cpu::WidenQ5_0ToQ8_0(in, reinterpret_cast<cpu::BlockQ8_0*>(out), n);
  }
}

}  // namespace llemma
