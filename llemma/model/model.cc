#include "llemma/model/model.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <new>
#include <set>

#include <nlohmann/json.hpp>

#include "llemma/core/mapped_file.h"
#include "llemma/core/thread_pool.h"
#include "llemma/core/timer.h"
#include "llemma/model/safetensors.h"

namespace llemma {

namespace fs = std::filesystem;

// Assembles a Model from Hugging Face safetensors, converting each tensor to the
// compute dtype as it streams through, so peak memory stays near the size of
// the converted model even for float32 checkpoints.
class ModelBuilder {
 public:
  ModelBuilder(const LoadOptions& opts) : opts_(opts), pool_(opts.n_threads) {}

  StatusOr<std::unique_ptr<Model>> LoadHfDirectory(const std::string& dir);

 private:
  struct Source {
    size_t file = 0;  // index into files_
    const SafetensorsTensor* tensor = nullptr;
  };
  struct Wanted {
    std::string name;
    std::vector<int64_t> shape;
    DType dtype;        // target dtype
    void** data;        // where to store the pointer to the converted bytes
  };

  Status OpenShards(const std::string& dir);
  Status ConvertInto(const Source& src, DType to, void* dst);

  LoadOptions opts_;
  ThreadPool pool_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, Source> sources_;
};

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

}  // namespace

Status ModelBuilder::OpenShards(const std::string& dir) {
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  std::vector<std::string> shard_names;
  if (IsFile(index)) {
    LLEMMA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(index));
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") ||
        !j["weight_map"].is_object()) {
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

Status ModelBuilder::ConvertInto(const Source& src, DType to, void* dst) {
  const SafetensorsTensor& t = *src.tensor;
  const SafetensorsFile& f = files_[src.file];
  const uint8_t* in = f.Data(t);
  const size_t n = static_cast<size_t>(t.NumElements());
  const size_t in_es = DTypeSize(t.dtype), out_es = DTypeSize(to);
  // Stream in slices: convert a slice on all threads, then drop its source
  // pages so the float32 checkpoint never accumulates in our resident set.
  constexpr size_t kSlice = 16u << 20;  // elements
  for (size_t s = 0; s < n; s += kSlice) {
    const size_t m = std::min(kSlice, n - s);
    if (s + m < n) f.file().WillNeed(t.offset + (s + m) * in_es, std::min(kSlice, n - s - m) * in_es);
    pool_.ParallelFor(
        m,
        [&](size_t b, size_t e, int) {
          ConvertElements(t.dtype, in + (s + b) * in_es, to,
                          static_cast<uint8_t*>(dst) + (s + b) * out_es, e - b);
        },
        /*grain=*/1 << 16);
    f.file().Release(t.offset + s * in_es, m * in_es);
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Model>> ModelBuilder::LoadHfDirectory(const std::string& dir) {
  const int64_t t0 = NowMicros();
  auto model = std::unique_ptr<Model>(new Model());
  LLEMMA_ASSIGN_OR_RETURN(model->config_, LoadConfig(dir + "/config.json"));
  const Config& c = model->config_;
  model->dtype_ = opts_.dtype;
  LLEMMA_RETURN_IF_ERROR(OpenShards(dir));

  // Every tensor we need, its expected shape and target dtype.
  const int64_t q_dim = c.n_head * c.head_dim, kv_dim = c.n_head_kv * c.head_dim;
  std::vector<Wanted> wanted;
  model->layers_.resize(c.n_layer);
  auto matrix = [&](const std::string& name, cpu::Matrix* m, int64_t rows, int64_t cols) {
    m->dtype = opts_.dtype;
    m->rows = rows;
    m->cols = cols;
    wanted.push_back({name, {rows, cols}, opts_.dtype, const_cast<void**>(&m->data)});
  };
  auto vector = [&](const std::string& name, const float** p, int64_t n) {
    wanted.push_back({name, {n}, DType::kF32, reinterpret_cast<void**>(const_cast<float**>(p))});
  };
  matrix("model.embed_tokens.weight", &model->token_embd_, c.n_vocab, c.n_embd);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights& l = model->layers_[i];
    matrix(p + "self_attn.q_proj.weight", &l.wq, q_dim, c.n_embd);
    matrix(p + "self_attn.k_proj.weight", &l.wk, kv_dim, c.n_embd);
    matrix(p + "self_attn.v_proj.weight", &l.wv, kv_dim, c.n_embd);
    matrix(p + "self_attn.o_proj.weight", &l.wo, c.n_embd, q_dim);
    matrix(p + "mlp.gate_proj.weight", &l.w_gate, c.n_ff, c.n_embd);
    matrix(p + "mlp.up_proj.weight", &l.w_up, c.n_ff, c.n_embd);
    matrix(p + "mlp.down_proj.weight", &l.w_down, c.n_embd, c.n_ff);
    vector(p + "input_layernorm.weight", &l.attn_norm, c.n_embd);
    vector(p + "post_attention_layernorm.weight", &l.ffn_norm, c.n_embd);
  }
  vector("model.norm.weight", &model->output_norm_, c.n_embd);
  const bool has_lm_head = sources_.count("lm_head.weight") > 0;
  if (!c.tie_word_embeddings || has_lm_head) {
    matrix("lm_head.weight", &model->output_, c.n_vocab, c.n_embd);
  }

  // Validate everything before allocating or converting anything.
  for (const Wanted& w : wanted) {
    auto it = sources_.find(w.name);
    if (it == sources_.end()) {
      return DataLossError(dir + ": tensor '" + w.name +
                           "' is missing from the checkpoint; the download is incomplete or this "
                           "is not a LlamaForCausalLM checkpoint");
    }
    const SafetensorsTensor& t = *it->second.tensor;
    const std::string where = files_[it->second.file].path() + ": tensor '" + w.name + "'";
    if (!t.has_dtype) {
      return InvalidArgumentError(where + " has dtype " + t.dtype_name +
                                  "; llemma reads F32, F16 and BF16 weights");
    }
    if (t.shape != w.shape) {
      return InvalidArgumentError(where + " has shape " + ShapeString(t.shape) + " but config.json implies " +
                                  ShapeString(w.shape) + "; config.json does not match the weights");
    }
  }

  // Convert in file order so each shard is read sequentially.
  std::vector<size_t> order(wanted.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Source& sa = sources_[wanted[a].name];
    const Source& sb = sources_[wanted[b].name];
    return std::pair(sa.file, sa.tensor->offset) < std::pair(sb.file, sb.tensor->offset);
  });
  try {
    for (size_t i : order) {
      const Wanted& w = wanted[i];
      const Source& src = sources_[w.name];
      const size_t bytes = static_cast<size_t>(src.tensor->NumElements()) * DTypeSize(w.dtype);
      model->buffers_.emplace_back(bytes);
      void* dst = model->buffers_.back().data();
      LLEMMA_RETURN_IF_ERROR(ConvertInto(src, w.dtype, dst));
      *w.data = dst;
      model->stats_.bytes_read += static_cast<int64_t>(src.tensor->n_bytes);
      model->stats_.bytes_weights += static_cast<int64_t>(bytes);
    }
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError(dir + ": out of memory while loading weights (" +
                                  std::to_string(model->stats_.bytes_weights >> 20) +
                                  " MiB so far); use a smaller --dtype or a machine with more RAM");
  }
  if (model->output_.data == nullptr) model->output_ = model->token_embd_;
  files_.clear();
  model->stats_.t_load_us = NowMicros() - t0;
  return model;
}

StatusOr<std::unique_ptr<Model>> Model::Load(const std::string& path, const LoadOptions& opts) {
  if (IsDirectory(path)) {
    ModelBuilder builder(opts);
    return builder.LoadHfDirectory(path);
  }
  if (!IsFile(path)) return NotFoundError(path + ": no such model directory or file");
  return InvalidArgumentError(path + ": expected a Hugging Face model directory (config.json + "
                              "*.safetensors)");
}

}  // namespace llemma
