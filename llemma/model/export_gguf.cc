#include "llemma/model/export_gguf.h"

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "llemma/backend/cpu/quants.h"
#include "llemma/core/mapped_file.h"
#include "llemma/core/thread_pool.h"
#include "llemma/gguf/gguf.h"
#include "llemma/gguf/spm_proto.h"
#include "llemma/model/config.h"
#include "llemma/model/gguf_config.h"
#include "llemma/model/safetensors.h"
#include "llemma/model/tensor_names.h"

namespace llemma {

namespace {

// llama.cpp's general.file_type values.
uint32_t FileType(DType t) {
  switch (t) {
    case DType::kF32: return 0;
    case DType::kF16: return 1;
    case DType::kQ4_0: return 2;
    case DType::kQ8_0: return 7;
    case DType::kBF16: return 32;
    case DType::kQ4_K: return 14;  // llama.cpp's Q4_K_S (every matrix Q4_K)
    case DType::kQ5_K: return 16;  // Q5_K_S
    case DType::kQ6_K: return 18;
    case DType::kQ4_0P: return 2;
    case DType::kQ8_0P: return 7;
    case DType::kQ4_KP: return 14;
    case DType::kQ5_KP: return 16;
    case DType::kQ6_KP: return 18;
    case DType::kQ2_K:
    case DType::kQ2_KP: return 10;
    case DType::kQ3_K:
    case DType::kQ3_KP: return 11;  // Q3_K_S
  }
  return 0;
}

// llama.cpp's file types of the K-quant mixes.
uint32_t FileType(const ExportOptions& o) {
  using KMix = ExportOptions::KMix;
  if (o.mix == KMix::kMedium && o.type == DType::kQ4_K) return 15;  // Q4_K_M
  if (o.mix == KMix::kMedium && o.type == DType::kQ5_K) return 17;  // Q5_K_M
  if (o.mix == KMix::kMedium && o.type == DType::kQ3_K) return 12;  // Q3_K_M
  if (o.mix == KMix::kLarge && o.type == DType::kQ3_K) return 13;   // Q3_K_L
  return FileType(o.type);
}

// Layers whose attn_v and ffn_down get more bits in the _M mixes.
bool MoreBitsLayer(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// Where a tensor's bytes come from: a mapped file, an offset and a type.
struct SourceTensor {
  const MappedFile* file = nullptr;
  uint64_t offset = 0;
  DType dtype = DType::kF32;
  bool gguf_layout = false;  // q/k rows already interleaved
  uint32_t widen_from = 0;   // a GGUF type held as `dtype` (IsWidened), or 0
};

// The source checkpoint opened for streaming.
struct Source {
  Config config;
  gguf::SpmVocab vocab;
  std::vector<SafetensorsFile> shards;
  std::optional<gguf::GgufFile> gguf;
  std::map<std::string, SourceTensor> tensors;  // by Hugging Face name
  bool has_lm_head = false;
};

Status OpenHf(const std::string& dir, Source* s) {
  LLEMMA_ASSIGN_OR_RETURN(s->config, LoadConfig(dir + "/config.json"));
  LLEMMA_ASSIGN_OR_RETURN(std::string tok, ReadFileToString(dir + "/tokenizer.model"));
  LLEMMA_ASSIGN_OR_RETURN(s->vocab, gguf::ParseSpmModel(tok, dir + "/tokenizer.model"));
  std::vector<std::string> names;
  const std::string index = dir + "/model.safetensors.index.json";
  if (std::filesystem::exists(index)) {
    LLEMMA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(index));
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
      return DataLossError(index + ": expected a JSON object with a \"weight_map\"");
    }
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it->is_string()) return DataLossError(index + ": weight_map values must be file names");
      if (std::find(names.begin(), names.end(), it->get<std::string>()) == names.end()) {
        names.push_back(it->get<std::string>());
      }
    }
  } else {
    names.push_back("model.safetensors");
  }
  for (const std::string& n : names) {
    LLEMMA_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::Open(dir + "/" + n));
    s->shards.push_back(std::move(f));
  }
  for (const SafetensorsFile& f : s->shards) {
    for (const SafetensorsTensor& t : f.tensors()) {
      if (!t.has_dtype) continue;
      s->tensors[t.name] = SourceTensor{&f.file(), t.offset, t.dtype, false};
    }
  }
  s->has_lm_head = s->tensors.count("lm_head.weight") > 0;
  return Status::Ok();
}

Status OpenGguf(const std::string& path, Source* s) {
  LLEMMA_ASSIGN_OR_RETURN(gguf::GgufFile f, gguf::GgufFile::Open(path));
  s->gguf.emplace(std::move(f));
  const gguf::GgufFile& g = *s->gguf;
  LLEMMA_ASSIGN_OR_RETURN(s->vocab, gguf::VocabFromGguf(g));
  LLEMMA_ASSIGN_OR_RETURN(s->config, ConfigFromGguf(g));
  const Config& c = s->config;
  s->has_lm_head = g.FindTensor("output.weight") != nullptr;
  for (const TensorSpec& spec : LlamaTensorSpecs(c, s->has_lm_head)) {
    const gguf::GgufTensor* t = g.FindTensor(spec.gguf_name);
    if (!t) return DataLossError(path + ": tensor '" + spec.gguf_name + "' is missing");
    auto dt = HeldType(t->type);
    if (!dt) return UnimplementedError(path + ": tensor '" + spec.gguf_name + "' has a type llemma cannot read yet");
    s->tensors[spec.hf_name] = SourceTensor{&g.file(), t->offset, *dt, true, IsWidened(t->type) ? t->type : 0u};
  }
  return Status::Ok();
}

void WriteMetadata(const Source& s, const ExportOptions& opts, const std::string& name, gguf::GgufWriter* w) {
  using gguf::Value;
  const Config& c = s.config;
  w->SetValue("general.architecture", Value::String("llama"));
  w->SetValue("general.name", Value::String(name));
  w->SetValue("general.file_type", Value::U32(FileType(opts)));
  w->SetValue("general.quantization_version", Value::U32(2));
  w->SetValue("llama.context_length", Value::U32(static_cast<uint32_t>(c.n_ctx_train)));
  w->SetValue("llama.embedding_length", Value::U32(static_cast<uint32_t>(c.n_embd)));
  w->SetValue("llama.block_count", Value::U32(static_cast<uint32_t>(c.n_layer)));
  w->SetValue("llama.feed_forward_length", Value::U32(static_cast<uint32_t>(c.n_ff)));
  w->SetValue("llama.rope.dimension_count", Value::U32(static_cast<uint32_t>(c.head_dim)));
  w->SetValue("llama.attention.head_count", Value::U32(static_cast<uint32_t>(c.n_head)));
  w->SetValue("llama.attention.head_count_kv", Value::U32(static_cast<uint32_t>(c.n_head_kv)));
  w->SetValue("llama.attention.layer_norm_rms_epsilon", Value::F32(c.rms_norm_eps));
  w->SetValue("llama.rope.freq_base", Value::F32(static_cast<float>(c.rope_theta)));
  if (c.rope_scale != 1.0) {
    w->SetValue("llama.rope.scaling.type", Value::String("linear"));
    w->SetValue("llama.rope.scaling.factor", Value::F32(static_cast<float>(c.rope_scale)));
  }
  w->SetValue("llama.vocab_size", Value::U32(static_cast<uint32_t>(c.n_vocab)));
  gguf::VocabToGguf(s.vocab, w);
}

}  // namespace

DType ExportTensorType(const TensorSpec& s, const Config& c, const ExportOptions& opts) {
  if (!s.is_matrix) return DType::kF32;
  using KMix = ExportOptions::KMix;
  DType t = opts.type;
  const std::string& n = s.gguf_name;
  const auto ends = [&](const std::string& suffix) {
    return n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  const bool attn_v = ends(".attn_v.weight"), ffn_down = ends(".ffn_down.weight"), attn_out = ends(".attn_output.weight");
  const int64_t layer = attn_v || ffn_down || attn_out ? std::stoll(n.substr(4, n.find('.', 4) - 4)) : -1;  // "blk.<i>."
  if (opts.mix == KMix::kMedium && (t == DType::kQ4_K || t == DType::kQ5_K)) {
    if (n == "output.weight") t = DType::kQ6_K;
    if ((attn_v || ffn_down) && MoreBitsLayer(layer, c.n_layer)) t = DType::kQ6_K;
  } else if (t == DType::kQ3_K) {
    if (n == "output.weight") t = DType::kQ6_K;
    if (opts.mix == KMix::kMedium) {
      if (attn_out) t = DType::kQ4_K;
      if (attn_v) t = layer < 2 ? DType::kQ5_K : DType::kQ4_K;
      if (ffn_down) t = layer < c.n_layer / 16 ? DType::kQ5_K : DType::kQ4_K;
    } else if (opts.mix == KMix::kLarge && (attn_v || attn_out || ffn_down)) {
      t = DType::kQ5_K;
    }
  } else if (t == DType::kQ2_K) {
    if (n == "output.weight") t = DType::kQ6_K;
    if (attn_out || ffn_down) t = DType::kQ3_K;
    if (attn_v) t = c.n_head >= 4 * c.n_head_kv ? DType::kQ4_K : DType::kQ3_K;
  }
  if (s.shape[1] % DTypeBlockSize(t) != 0) t = DType::kF16;
  return t;
}

StatusOr<ExportOptions> ParseExportType(const std::string& name) {
  using KMix = ExportOptions::KMix;
  ExportOptions o;
  if (name == "q2_k") {
    o.type = DType::kQ2_K, o.mix = KMix::kMedium;
    return o;
  }
  if (name == "q3_k" || name == "q3_k_s" || name == "q3_k_m" || name == "q3_k_l") {
    o.type = DType::kQ3_K;
    o.mix = name == "q3_k_m" ? KMix::kMedium : name == "q3_k_l" ? KMix::kLarge : KMix::kSmall;
    return o;
  }
  std::string base = name;
  if (name == "q4_k_s" || name == "q5_k_s") base = name.substr(0, 4), o.mix = KMix::kSmall;
  if (name == "q4_k_m" || name == "q5_k_m") base = name.substr(0, 4), o.mix = KMix::kMedium;
  auto t = ParseDType(base);
  if (!t.ok()) {
    return InvalidArgumentError("unknown --type '" + name +
                                "': use one of f32, bf16, f16, q8_0, q4_0, q2_k, q3_k, q3_k_s, q3_k_m, q3_k_l, q4_k, "
                                "q4_k_s, q4_k_m, q5_k, q5_k_s, q5_k_m, q6_k");
  }
  o.type = *t;
  return o;
}

Status ExportGguf(const std::string& source, const std::string& out_path, const ExportOptions& opts) {
  Source src;
  struct stat st;
  if (::stat(source.c_str(), &st) != 0) return NotFoundError(source + ": no such model directory or file");
  LLEMMA_RETURN_IF_ERROR(S_ISDIR(st.st_mode) ? OpenHf(source, &src) : OpenGguf(source, &src));
  const Config& c = src.config;
  const int64_t n_pieces = static_cast<int64_t>(src.vocab.pieces.size());
  if (n_pieces > c.n_vocab) {
    return InvalidArgumentError(source + ": the tokenizer has " + std::to_string(n_pieces) +
                                " pieces but the model's vocabulary is " + std::to_string(c.n_vocab));
  }
  // llama.cpp needs one vocabulary entry per embedding row: rows beyond the
  // tokenizer (padding) get unused placeholder pieces.
  for (int64_t id = n_pieces; id < c.n_vocab; ++id) {
    src.vocab.pieces.push_back("[PAD" + std::to_string(id) + "]");
    src.vocab.scores.push_back(0.0f);
    src.vocab.types.push_back(gguf::kUnused);
  }
  const std::vector<TensorSpec> specs = LlamaTensorSpecs(c, !c.tie_word_embeddings || src.has_lm_head);
  std::vector<DType> types;
  for (const TensorSpec& s : specs) {
    if (!src.tensors.count(s.hf_name)) return DataLossError(source + ": tensor '" + s.hf_name + "' is missing");
    types.push_back(ExportTensorType(s, c, opts));
  }
  gguf::GgufWriter w;
  WriteMetadata(src, opts, std::filesystem::path(source).filename().string(), &w);
  for (size_t i = 0; i < specs.size(); ++i) {
    std::vector<int64_t> dims(specs[i].shape.rbegin(), specs[i].shape.rend());
    w.AddTensor(specs[i].gguf_name, dims, gguf::DTypeToTensorType(types[i]));
  }
  LLEMMA_RETURN_IF_ERROR(w.Open(out_path));
  ThreadPool pool(opts.n_threads);
  int64_t written = 0;
  std::vector<uint8_t> out, permuted;
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = specs[i];
    const SourceTensor& t = src.tensors.at(s.hf_name);
    const int64_t rows = s.is_matrix ? s.shape[0] : 1, cols = s.shape.back();
    const size_t in_row = t.widen_from ? FileRowBytes(t.widen_from, cols) : RowBytes(t.dtype, cols);
    const size_t out_row = RowBytes(types[i], cols);
    out.resize(out_row * rows);
    const uint8_t* in = t.file->data() + t.offset;
    pool.ParallelFor(static_cast<size_t>(rows), [&](size_t b, size_t e, int) {
      std::vector<float> tmp(cols);
      std::vector<uint8_t> wide(t.widen_from ? RowBytes(t.dtype, cols) : 0);
      for (size_t r = b; r < e; ++r) {
        const uint8_t* row = in + r * in_row;
        if (t.widen_from) {
          WidenRows(t.widen_from, row, wide.data(), 1, cols);
          row = wide.data();
        }
        cpu::DequantizeRow(t.dtype, row, tmp.data(), cols);
        cpu::QuantizeRow(types[i], tmp.data(), out.data() + r * out_row, cols);
      }
    });
    t.file->Release(t.offset, in_row * rows);
    const uint8_t* data = out.data();
    if (s.rope_heads > 0 && !t.gguf_layout) {
      permuted.resize(out.size());
      PermuteRopeRows(out.data(), permuted.data(), s.rope_heads, c.head_dim, out_row, /*to_gguf=*/true);
      data = permuted.data();
    }
    LLEMMA_RETURN_IF_ERROR(w.WriteTensorData(data, out.size()));
    written += static_cast<int64_t>(out.size());
    if (opts.progress) opts.progress(s.gguf_name, written);
  }
  return w.Close();
}

}  // namespace llemma
