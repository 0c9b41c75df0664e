#include "llemma/model/model.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <new>
#include <set>

#include <nlohmann/json.hpp>

#include "llemma/backend/cpu/quants.h"
#include "llemma/core/mapped_file.h"
#include "llemma/core/thread_pool.h"
#include "llemma/core/timer.h"
#include "llemma/gguf/gguf.h"
#include "llemma/model/gguf_config.h"
#include "llemma/model/safetensors.h"
#include "llemma/model/tensor_names.h"

namespace llemma {

namespace {

bool IsDirectory(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool IsFile(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string ShapeString(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

size_t TensorBytes(const TensorSpec& s, DType dtype) {
  return s.is_matrix ? RowBytes(dtype, s.shape[1]) * static_cast<size_t>(s.shape[0])
                     : static_cast<size_t>(s.shape[0]) * sizeof(float);
}

}  // namespace

// Assembles a Model from a checkpoint, converting each tensor to its compute
// type as it streams through, so peak memory stays near the size of the
// converted model even for float32 checkpoints. One per load.
class ModelBuilder {
 public:
  explicit ModelBuilder(const LoadOptions& opts) : opts_(opts), pool_(opts.n_threads) {}

  StatusOr<std::unique_ptr<Model>> LoadHfDirectory(const std::string& dir);
  StatusOr<std::unique_ptr<Model>> LoadGgufFile(const std::string& path);

 private:
  struct Source {
    size_t file = 0;  // index into files_
    const SafetensorsTensor* tensor = nullptr;
  };

  Status OpenShards(const std::string& dir);
  // Converts rows × cols elements at `in` from `from` to `to`. `file` (or
  // nullptr for memory) is the mapping `in` lies in, at `offset`: its pages
  // are read ahead and dropped slice by slice.
  void Convert(const uint8_t* in, const MappedFile* file, uint64_t offset, DType from, DType to, int64_t rows,
               int64_t cols, void* dst);
  // Rewrites Q4_0/Q8_0 matrices with whole 128-element groups per row into the
  // grouped in-memory layout the fast kernels read (same size, in place).
  void MaybeRepack(const TensorSpec& spec, DType* type, void* data);
  // Creates the Model's tensor for `spec` and returns where its bytes go.
  void* Allocate(Model& m, const TensorSpec& spec, DType dtype);
  static void Bind(Model& m, const TensorSpec& spec, DType dtype, void* data);

  LoadOptions opts_;
  ThreadPool pool_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, Source> sources_;
};

Status ModelBuilder::OpenShards(const std::string& dir) {
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  std::vector<std::string> shard_names;
  if (IsFile(index)) {
    LLEMMA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(index));
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
      return DataLossError(index + ": expected a JSON object with a \"weight_map\"");
    }
    std::set<std::string> seen;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it->is_string()) return DataLossError(index + ": weight_map values must be file names");
      const std::string f = it->get<std::string>();
      if (f.find('/') != std::string::npos) {
        return DataLossError(index + ": shard name '" + f + "' must be a plain file name");
      }
      if (seen.insert(f).second) shard_names.push_back(f);
    }
    if (shard_names.empty()) return DataLossError(index + ": weight_map is empty");
    std::sort(shard_names.begin(), shard_names.end());
  } else if (IsFile(single)) {
    shard_names.push_back("model.safetensors");
  } else if (IsFile(dir + "/pytorch_model.bin") || IsFile(dir + "/pytorch_model.bin.index.json")) {
    return UnimplementedError(dir + ": has only PyTorch .bin weights; convert them to safetensors "
                              "(e.g. with transformers' save_pretrained(safe_serialization=True))");
  } else {
    return NotFoundError(dir + ": no model.safetensors or model.safetensors.index.json found");
  }
  for (const std::string& name : shard_names) {
    LLEMMA_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::Open(dir + "/" + name));
    files_.push_back(std::move(f));
  }
  for (size_t i = 0; i < files_.size(); ++i) {
    for (const SafetensorsTensor& t : files_[i].tensors()) {
      auto [it, inserted] = sources_.emplace(t.name, Source{i, &t});
      if (!inserted) {
        return DataLossError(files_[i].path() + ": tensor '" + t.name + "' also appears in " +
                             files_[it->second.file].path());
      }
    }
  }
  return Status::Ok();
}

void ModelBuilder::Convert(const uint8_t* in, const MappedFile* file, uint64_t offset, DType from, DType to,
                           int64_t rows, int64_t cols, void* dst) {
  const size_t in_row = RowBytes(from, cols), out_row = RowBytes(to, cols);
  // Stream in slices of rows: convert a slice on all threads, then drop its
  // source pages so a float32 checkpoint never accumulates in our resident set.
  const int64_t slice = std::max<int64_t>(1, (int64_t{64} << 20) / static_cast<int64_t>(in_row));
  for (int64_t r0 = 0; r0 < rows; r0 += slice) {
    const int64_t m = std::min(slice, rows - r0);
    if (file && r0 + m < rows) file->WillNeed(offset + (r0 + m) * in_row, std::min(slice, rows - r0 - m) * in_row);
    pool_.ParallelFor(
        static_cast<size_t>(m),
        [&](size_t b, size_t e, int) {
          std::vector<float> tmp;
          for (size_t r = b; r < e; ++r) {
            const uint8_t* src = in + (r0 + r) * in_row;
            uint8_t* out = static_cast<uint8_t*>(dst) + (r0 + r) * out_row;
            if (from == to) {
              std::memcpy(out, src, in_row);
            } else if (!IsQuantized(from) && !IsQuantized(to)) {
              ConvertElements(from, src, to, out, cols);
            } else {
              tmp.resize(cols);
              cpu::DequantizeRow(from, src, tmp.data(), cols);
              cpu::QuantizeRow(to, tmp.data(), out, cols);
            }
          }
        },
        /*grain=*/1);
    if (file) file->Release(offset + r0 * in_row, m * in_row);
  }
}

void ModelBuilder::MaybeRepack(const TensorSpec& spec, DType* type, void* data) {
  if ((*type != DType::kQ4_0 && *type != DType::kQ8_0) || !spec.is_matrix || spec.shape[0] % kPanelRows != 0) return;
  const int64_t rows = spec.shape[0], cols = spec.shape[1];
  const size_t panel_bytes = RowBytes(*type, cols) * kPanelRows;
  pool_.ParallelFor(static_cast<size_t>(rows / kPanelRows), [&](size_t b, size_t e, int) {
    std::vector<uint8_t> tmp(panel_bytes);
    for (size_t p = b; p < e; ++p) {
      uint8_t* panel = static_cast<uint8_t*>(data) + p * panel_bytes;
      std::memcpy(tmp.data(), panel, panel_bytes);
      cpu::RepackPanels(*type, tmp.data(), panel, kPanelRows, cols);
    }
  });
  *type = *type == DType::kQ4_0 ? DType::kQ4_0P : DType::kQ8_0P;
}

void* ModelBuilder::Allocate(Model& m, const TensorSpec& spec, DType dtype) {
  const size_t bytes = TensorBytes(spec, dtype);
  m.buffers_.emplace_back(bytes);
  m.stats_.bytes_weights += static_cast<int64_t>(bytes);
  return m.buffers_.back().data();
}

void ModelBuilder::Bind(Model& m, const TensorSpec& spec, DType dtype, void* data) {
  const Config& c = m.config_;
  auto set_matrix = [&](cpu::Matrix* mat) { *mat = cpu::Matrix{dtype, data, spec.shape[0], spec.shape[1]}; };
  const std::string& n = spec.hf_name;
  if (n == "model.embed_tokens.weight") return set_matrix(&m.token_embd_);
  if (n == "lm_head.weight") return set_matrix(&m.output_);
  if (n == "model.norm.weight") {
    m.output_norm_ = static_cast<const float*>(data);
    return;
  }
  const size_t dot = n.find('.', 13);  // "model.layers.<i>."
  LLEMMA_CHECK(n.rfind("model.layers.", 0) == 0 && dot != std::string::npos) << n;
  const int64_t i = std::stoll(n.substr(13, dot - 13));
  LLEMMA_CHECK(i >= 0 && i < c.n_layer);
  LayerWeights& l = m.layers_[i];
  const std::string rest = n.substr(dot + 1);
  if (rest == "self_attn.q_proj.weight") return set_matrix(&l.wq);
  if (rest == "self_attn.k_proj.weight") return set_matrix(&l.wk);
  if (rest == "self_attn.v_proj.weight") return set_matrix(&l.wv);
  if (rest == "self_attn.o_proj.weight") return set_matrix(&l.wo);
  if (rest == "mlp.gate_proj.weight") return set_matrix(&l.w_gate);
  if (rest == "mlp.up_proj.weight") return set_matrix(&l.w_up);
  if (rest == "mlp.down_proj.weight") return set_matrix(&l.w_down);
  if (rest == "input_layernorm.weight") l.attn_norm = static_cast<const float*>(data);
  if (rest == "post_attention_layernorm.weight") l.ffn_norm = static_cast<const float*>(data);
}

StatusOr<std::unique_ptr<Model>> ModelBuilder::LoadHfDirectory(const std::string& dir) {
  const int64_t t0 = NowMicros();
  auto model = std::unique_ptr<Model>(new Model());
  if (IsKQuant(opts_.dtype)) {
    return InvalidArgumentError(std::string("k-quants (") + DTypeName(opts_.dtype) +
                                ") are a file format: write a GGUF with `llemma quantize` and load that");
  }
  LLEMMA_ASSIGN_OR_RETURN(model->config_, LoadConfig(dir + "/config.json"));
  const Config& c = model->config_;
  LLEMMA_RETURN_IF_ERROR(OpenShards(dir));
  model->layers_.resize(c.n_layer);
  const bool has_lm_head = sources_.count("lm_head.weight") > 0;
  const std::vector<TensorSpec> specs = LlamaTensorSpecs(c, !c.tie_word_embeddings || has_lm_head);

  // Validate everything before allocating or converting anything.
  for (const TensorSpec& s : specs) {
    auto it = sources_.find(s.hf_name);
    if (it == sources_.end()) {
      return DataLossError(dir + ": tensor '" + s.hf_name +
                           "' is missing from the checkpoint; the download is incomplete or this "
                           "is not a LlamaForCausalLM checkpoint");
    }
    const SafetensorsTensor& t = *it->second.tensor;
    const std::string where = files_[it->second.file].path() + ": tensor '" + s.hf_name + "'";
    if (!t.has_dtype) {
      return InvalidArgumentError(where + " has dtype " + t.dtype_name + "; llemma reads F32, F16 and BF16 weights");
    }
    if (t.shape != s.shape) {
      return InvalidArgumentError(where + " has shape " + ShapeString(t.shape) + " but config.json implies " +
                                  ShapeString(s.shape) + "; config.json does not match the weights");
    }
    if (s.is_matrix && s.shape[1] % DTypeBlockSize(opts_.dtype) != 0) {
      return InvalidArgumentError(where + ": rows of " + std::to_string(s.shape[1]) + " elements cannot be " +
                                  DTypeName(opts_.dtype) + " blocks of " +
                                  std::to_string(DTypeBlockSize(opts_.dtype)) + "; choose a float --dtype");
    }
  }

  // Convert in file order so each shard is read sequentially.
  std::vector<const TensorSpec*> order;
  for (const TensorSpec& s : specs) order.push_back(&s);
  std::sort(order.begin(), order.end(), [&](const TensorSpec* a, const TensorSpec* b) {
    const Source& sa = sources_[a->hf_name];
    const Source& sb = sources_[b->hf_name];
    return std::pair(sa.file, sa.tensor->offset) < std::pair(sb.file, sb.tensor->offset);
  });
  try {
    for (const TensorSpec* s : order) {
      const Source& src = sources_[s->hf_name];
      const DType to = s->is_matrix ? opts_.dtype : DType::kF32;  // (q4_0 may be regrouped below)
      void* dst = Allocate(*model, *s, to);
      const int64_t rows = s->is_matrix ? s->shape[0] : 1;
      const MappedFile& mf = files_[src.file].file();
      Convert(mf.data() + src.tensor->offset, &mf, src.tensor->offset, src.tensor->dtype, to, rows, s->shape.back(),
              dst);
      DType stored = to;
      MaybeRepack(*s, &stored, dst);
      Bind(*model, *s, stored, dst);
      model->stats_.bytes_read += static_cast<int64_t>(src.tensor->n_bytes);
    }
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError(dir + ": out of memory while loading weights (" +
                                  std::to_string(model->stats_.bytes_weights >> 20) +
                                  " MiB so far); use a smaller --dtype or a machine with more RAM");
  }
  if (model->output_.data == nullptr) model->output_ = model->token_embd_;
  model->dtype_ = model->layers_.empty() ? opts_.dtype : model->layers_[0].wq.dtype;
  files_.clear();
  model->stats_.t_load_us = NowMicros() - t0;
  return model;
}

StatusOr<std::unique_ptr<Model>> ModelBuilder::LoadGgufFile(const std::string& path) {
  const int64_t t0 = NowMicros();
  LLEMMA_ASSIGN_OR_RETURN(gguf::GgufFile f, gguf::GgufFile::Open(path));
  auto model = std::unique_ptr<Model>(new Model());
  LLEMMA_ASSIGN_OR_RETURN(model->config_, ConfigFromGguf(f));
  const Config& c = model->config_;
  model->layers_.resize(c.n_layer);
  const bool has_output = f.FindTensor("output.weight") != nullptr;
  const std::vector<TensorSpec> specs = LlamaTensorSpecs(c, has_output);
  // Matrices keep the file's type (quantized weights stay quantized); norms become f32.
  std::vector<DType> types;
  for (const TensorSpec& s : specs) {
    const gguf::GgufTensor* t = f.FindTensor(s.gguf_name);
    if (t == nullptr) return DataLossError(path + ": tensor '" + s.gguf_name + "' is missing");
    std::vector<int64_t> want(s.shape.rbegin(), s.shape.rend());  // GGUF lists ne[0] (columns) first
    if (t->dims != want) {
      return InvalidArgumentError(path + ": tensor '" + s.gguf_name + "' has dims " + ShapeString(t->dims) +
                                  " but the metadata implies " + ShapeString(want));
    }
    const char* type_name = "?";
    gguf::TensorTypeInfo(t->type, &type_name, nullptr, nullptr);
    const std::optional<DType> dt = HeldType(t->type);
    if (!dt) {
      return UnimplementedError(path + ": tensor '" + s.gguf_name + "' is " + type_name +
                                ", which llemma cannot read yet (supported: F32, F16, BF16, Q8_0, Q4_0, Q5_0, "
                                "Q2_K, Q3_K, Q4_K, Q5_K, Q6_K); re-quantize with `llemma quantize`");
    }
    // K-quant matrices run natively (repacked into Q2_KP … Q6_KP panels
    // below); one whose row count is not a multiple of 16 is
    // expanded to Q8_0 blocks as it loads (the extra rounding is far below
    // the K-quant error) and uses the Q8_0 kernels.
    const bool native_k = IsKQuant(*dt) && s.is_matrix && s.shape[0] % kPanelRows == 0;
    types.push_back(!s.is_matrix ? DType::kF32 : native_k ? cpu::PanelTypeOf(*dt) : IsKQuant(*dt) ? DType::kQ8_0 : *dt);
    if (!s.is_matrix && IsQuantized(*dt)) return DataLossError(path + ": norm '" + s.gguf_name + "' is quantized");
  }
  const size_t q_index = specs.size() > 1 ? 2 : 0;  // blk.0.attn_q
  try {
    for (size_t i = 0; i < specs.size(); ++i) {
      const TensorSpec& s = specs[i];
      const gguf::GgufTensor* t = f.FindTensor(s.gguf_name);
      const DType from = *HeldType(t->type);
      void* dst = Allocate(*model, s, types[i]);
      const int64_t rows = s.is_matrix ? s.shape[0] : 1;
      // Q5_0 rows are first rewritten, exactly, as Q8_0:
      // straight into place where that is the type they are held in.
      std::vector<uint8_t> wide;
      const bool widened = IsWidened(t->type);
      const bool in_place = widened && !IsKPanel(types[i]) && types[i] == from;
      if (widened) {
        const int64_t cols = s.shape.back();
        const size_t in_row = FileRowBytes(t->type, cols), out_row = RowBytes(from, cols);
        if (!in_place) wide.resize(rows * out_row);
        uint8_t* out = in_place ? static_cast<uint8_t*>(dst) : wide.data();
        const uint8_t* in = f.file().data() + t->offset;
        pool_.ParallelFor(static_cast<size_t>(rows), [&](size_t b, size_t e, int) {
          WidenRows(t->type, in + b * in_row, out + b * out_row, static_cast<int64_t>(e - b), cols);
        });
        f.file().Release(t->offset, rows * in_row);
      }
      if (IsKPanel(types[i])) {  // rows (q/k permuted back) → panels
        const size_t row_bytes = RowBytes(from, s.shape[1]);
        const uint8_t* src = wide.empty() ? f.file().data() + t->offset : wide.data();
        std::vector<uint8_t> tmp;
        if (s.rope_heads > 0) {
          tmp.resize(rows * row_bytes);
          PermuteRopeRows(src, tmp.data(), s.rope_heads, c.head_dim, row_bytes, /*to_gguf=*/false);
          src = tmp.data();
        }
        const size_t panel_in = row_bytes * kPanelRows, panel_out = RowBytes(types[i], s.shape[1]) * kPanelRows;
        pool_.ParallelFor(static_cast<size_t>(rows / kPanelRows), [&](size_t b, size_t e, int) {
          for (size_t p = b; p < e; ++p) {
            cpu::RepackPanels(from, src + p * panel_in, static_cast<uint8_t*>(dst) + p * panel_out, kPanelRows,
                              s.shape[1]);
          }
        });
        if (!widened) f.file().Release(t->offset, rows * row_bytes);
        Bind(*model, s, types[i], dst);
        model->stats_.bytes_read += static_cast<int64_t>(t->n_bytes);
        continue;
      }
      if (!widened) {
        Convert(f.file().data() + t->offset, &f.file(), t->offset, from, types[i], rows, s.shape.back(), dst);
      } else if (!in_place) {
        Convert(wide.data(), nullptr, 0, from, types[i], rows, s.shape.back(), dst);
      }
      if (s.rope_heads > 0) {  // back to the rotate-half layout the engine uses
        const size_t row_bytes = RowBytes(types[i], s.shape[1]);
        std::vector<uint8_t> tmp(static_cast<const uint8_t*>(dst), static_cast<const uint8_t*>(dst) + rows * row_bytes);
        PermuteRopeRows(tmp.data(), static_cast<uint8_t*>(dst), s.rope_heads, c.head_dim, row_bytes, /*to_gguf=*/false);
      }
      MaybeRepack(s, &types[i], dst);
      Bind(*model, s, types[i], dst);
      model->stats_.bytes_read += static_cast<int64_t>(t->n_bytes);
    }
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError(path + ": out of memory while loading weights");
  }
  if (model->output_.data == nullptr) model->output_ = model->token_embd_;
  model->dtype_ = types[q_index];
  model->stats_.t_load_us = NowMicros() - t0;
  return model;
}

StatusOr<std::unique_ptr<Model>> Model::Load(const std::string& path, const LoadOptions& opts) {
  ModelBuilder builder(opts);
  if (IsDirectory(path)) return builder.LoadHfDirectory(path);
  if (!IsFile(path)) return NotFoundError(path + ": no such model directory or file");
  return builder.LoadGgufFile(path);
}

}  // namespace llemma
