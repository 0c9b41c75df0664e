#include "llemma/model/config.h"

#include <nlohmann/json.hpp>

#include "llemma/core/mapped_file.h"

namespace llemma {

namespace {

using nlohmann::json;

Status FieldError(const std::string& source, const std::string& field, const std::string& what) {
  return InvalidArgumentError(source + ": " + field + " " + what);
}

// Reads an integer field; `required` fields must exist.
StatusOr<int64_t> GetInt(const json& j, const std::string& source, const char* field, bool required,
                         int64_t fallback) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    if (required) return FieldError(source, field, "is missing; this is not a LLaMA config.json");
    return fallback;
  }
  if (!it->is_number_integer()) return FieldError(source, field, "must be an integer");
  return it->get<int64_t>();
}

StatusOr<double> GetNumber(const json& j, const std::string& source, const char* field,
                           double fallback) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) return FieldError(source, field, "must be a number");
  return it->get<double>();
}

// bos/eos may be an int or a list of ints (newer configs); take the first.
StatusOr<int32_t> GetTokenId(const json& j, const std::string& source, const char* field,
                             int32_t fallback) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return fallback;
  if (it->is_number_integer()) return it->get<int32_t>();
  if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) return (*it)[0].get<int32_t>();
  return FieldError(source, field, "must be a token id");
}

}  // namespace

Status Config::Validate(const std::string& source) const {
  auto positive = [&](int64_t v, const char* name) -> Status {
    if (v <= 0) return FieldError(source, name, "must be positive, got " + std::to_string(v));
    return Status::Ok();
  };
  LLEMMA_RETURN_IF_ERROR(positive(n_embd, "hidden_size"));
  LLEMMA_RETURN_IF_ERROR(positive(n_ff, "intermediate_size"));
  LLEMMA_RETURN_IF_ERROR(positive(n_layer, "num_hidden_layers"));
  LLEMMA_RETURN_IF_ERROR(positive(n_head, "num_attention_heads"));
  LLEMMA_RETURN_IF_ERROR(positive(n_head_kv, "num_key_value_heads"));
  LLEMMA_RETURN_IF_ERROR(positive(n_vocab, "vocab_size"));
  LLEMMA_RETURN_IF_ERROR(positive(n_ctx_train, "max_position_embeddings"));
  LLEMMA_RETURN_IF_ERROR(positive(head_dim, "head_dim"));
  if (n_head % n_head_kv != 0) {
    return FieldError(source, "num_key_value_heads",
                      "(" + std::to_string(n_head_kv) + ") must divide num_attention_heads (" +
                          std::to_string(n_head) + ")");
  }
  if (head_dim % 2 != 0) {
    return FieldError(source, "head_dim", "(" + std::to_string(head_dim) + ") must be even for RoPE");
  }
  if (!(rms_norm_eps > 0)) return FieldError(source, "rms_norm_eps", "must be positive");
  if (!(rope_theta > 0)) return FieldError(source, "rope_theta", "must be positive");
  if (!(rope_scale > 0)) return FieldError(source, "rope_scaling.factor", "must be positive");
  if (bos_id < 0 || bos_id >= n_vocab) return FieldError(source, "bos_token_id", "is outside the vocabulary");
  if (eos_id < 0 || eos_id >= n_vocab) return FieldError(source, "eos_token_id", "is outside the vocabulary");
  return Status::Ok();
}

int64_t Config::ParameterCount() const {
  const int64_t attn = n_embd * (n_head * head_dim) * 2 + n_embd * (n_head_kv * head_dim) * 2;
  const int64_t mlp = 3 * n_embd * n_ff;
  const int64_t per_layer = attn + mlp + 2 * n_embd;
  return n_vocab * n_embd * (tie_word_embeddings ? 1 : 2) + n_layer * per_layer + n_embd;
}

StatusOr<Config> ParseConfig(const std::string& json_text, const std::string& source) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError(source + ": not valid JSON");
  if (!j.is_object()) return InvalidArgumentError(source + ": expected a JSON object");
  if (auto mt = j.find("model_type"); mt != j.end() && mt->is_string()) {
    const std::string t = mt->get<std::string>();
    if (t != "llama" && t != "code_llama") {
      return InvalidArgumentError(source + ": model_type '" + t +
                                  "' is not supported; llemma runs LLaMA-architecture models");
    }
  }
  Config c;
  LLEMMA_ASSIGN_OR_RETURN(c.n_embd, GetInt(j, source, "hidden_size", true, 0));
  LLEMMA_ASSIGN_OR_RETURN(c.n_ff, GetInt(j, source, "intermediate_size", true, 0));
  LLEMMA_ASSIGN_OR_RETURN(c.n_layer, GetInt(j, source, "num_hidden_layers", true, 0));
  LLEMMA_ASSIGN_OR_RETURN(c.n_head, GetInt(j, source, "num_attention_heads", true, 0));
  LLEMMA_ASSIGN_OR_RETURN(c.n_head_kv, GetInt(j, source, "num_key_value_heads", false, c.n_head));
  LLEMMA_ASSIGN_OR_RETURN(c.n_vocab, GetInt(j, source, "vocab_size", true, 0));
  LLEMMA_ASSIGN_OR_RETURN(c.n_ctx_train, GetInt(j, source, "max_position_embeddings", false, 2048));
  if (c.n_head <= 0) return FieldError(source, "num_attention_heads", "must be positive");
  LLEMMA_ASSIGN_OR_RETURN(c.head_dim, GetInt(j, source, "head_dim", false, c.n_embd / c.n_head));
  if (!j.contains("head_dim") && c.n_embd % c.n_head != 0) {
    return FieldError(source, "num_attention_heads",
                      "(" + std::to_string(c.n_head) + ") must divide hidden_size (" +
                          std::to_string(c.n_embd) + ")");
  }
  LLEMMA_ASSIGN_OR_RETURN(double eps, GetNumber(j, source, "rms_norm_eps", 1e-6));
  c.rms_norm_eps = static_cast<float>(eps);
  LLEMMA_ASSIGN_OR_RETURN(c.rope_theta, GetNumber(j, source, "rope_theta", 10000.0));
  if (auto rs = j.find("rope_scaling"); rs != j.end() && !rs->is_null()) {
    if (!rs->is_object()) return FieldError(source, "rope_scaling", "must be an object or null");
    std::string type;
    if (auto t = rs->find("type"); t != rs->end() && t->is_string()) type = t->get<std::string>();
    if (auto t = rs->find("rope_type"); type.empty() && t != rs->end() && t->is_string()) {
      type = t->get<std::string>();
    }
    if (type != "linear") {
      return FieldError(source, "rope_scaling.type",
                        "'" + type + "' is not supported (only \"linear\")");
    }
    LLEMMA_ASSIGN_OR_RETURN(c.rope_scale, GetNumber(*rs, source + ": rope_scaling", "factor", 0.0));
  }
  if (auto act = j.find("hidden_act"); act != j.end() && act->is_string() && *act != "silu") {
    return FieldError(source, "hidden_act", "'" + act->get<std::string>() + "' is not supported (only silu)");
  }
  if (auto tie = j.find("tie_word_embeddings"); tie != j.end() && !tie->is_null()) {
    if (!tie->is_boolean()) return FieldError(source, "tie_word_embeddings", "must be true or false");
    c.tie_word_embeddings = tie->get<bool>();
  }
  LLEMMA_ASSIGN_OR_RETURN(c.bos_id, GetTokenId(j, source, "bos_token_id", 1));
  LLEMMA_ASSIGN_OR_RETURN(c.eos_id, GetTokenId(j, source, "eos_token_id", 2));
  LLEMMA_RETURN_IF_ERROR(c.Validate(source));
  return c;
}

StatusOr<Config> LoadConfig(const std::string& path) {
  LLEMMA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseConfig(text, path);
}

}  // namespace llemma
