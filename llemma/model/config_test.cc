#include "llemma/model/config.h"

#include <gtest/gtest.h>

namespace llemma {
namespace {

// The published LLEMMA configs (field subset that matters).
constexpr const char* kLlemma7b = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
  "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
  "num_key_value_heads": 32, "rms_norm_eps": 1e-05, "rope_theta": 10000, "rope_scaling": null,
  "vocab_size": 32016, "max_position_embeddings": 4096, "tie_word_embeddings": false,
  "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "torch_dtype": "float32"})";
constexpr const char* kLlemma34b = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8192,
  "intermediate_size": 22016, "num_hidden_layers": 48, "num_attention_heads": 64,
  "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 1000000, "vocab_size": 32000,
  "max_position_embeddings": 16384, "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu"})";

TEST(Config, ParsesLlemma7b) {
  auto c = ParseConfig(kLlemma7b, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->n_embd, 4096);
  EXPECT_EQ(c->n_ff, 11008);
  EXPECT_EQ(c->n_layer, 32);
  EXPECT_EQ(c->n_head_kv, 32);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->n_vocab, 32016);
  EXPECT_FLOAT_EQ(c->rms_norm_eps, 1e-5f);
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e4);
  EXPECT_DOUBLE_EQ(c->rope_scale, 1.0);
  // 6.74 B parameters: embeddings + lm_head + 32 layers.
  EXPECT_EQ(c->ParameterCount(), 6738546688);
}

TEST(Config, ParsesLlemma34bWithGroupedQueryAttention) {
  auto c = ParseConfig(kLlemma34b, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->n_head, 64);
  EXPECT_EQ(c->n_head_kv, 8);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e6);
}

TEST(Config, ReadsLinearRopeScalingAndDefaults) {
  auto c = ParseConfig(R"({"hidden_size": 64, "intermediate_size": 100, "num_hidden_layers": 1,
      "num_attention_heads": 4, "vocab_size": 50, "rope_scaling": {"type": "linear", "factor": 4.0},
      "eos_token_id": [2, 5]})", "cfg");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->n_head_kv, 4);  // defaults to num_attention_heads
  EXPECT_DOUBLE_EQ(c->rope_scale, 4.0);
  EXPECT_EQ(c->eos_id, 2);
}

TEST(Config, RejectsBadInputWithFieldNamedInMessage) {
  struct Case {
    const char* json;
    const char* needle;
  };
  const Case cases[] = {
      {"not json", "not valid JSON"},
      {R"({"hidden_size": 64})", "intermediate_size is missing"},
      {R"({"hidden_size": 64, "intermediate_size": 1, "num_hidden_layers": 1, "num_attention_heads": 32,
           "num_key_value_heads": 3, "vocab_size": 10})", "num_key_value_heads (3) must divide num_attention_heads (32)"},
      {R"({"hidden_size": 65, "intermediate_size": 1, "num_hidden_layers": 1, "num_attention_heads": 4,
           "vocab_size": 10})", "must divide hidden_size"},
      {R"({"hidden_size": 64, "intermediate_size": 1, "num_hidden_layers": 0, "num_attention_heads": 4,
           "vocab_size": 10})", "num_hidden_layers must be positive"},
      {R"({"hidden_size": 64, "intermediate_size": 1, "num_hidden_layers": 1, "num_attention_heads": 4,
           "vocab_size": 10, "rope_scaling": {"type": "yarn", "factor": 2}})", "rope_scaling.type"},
      {R"({"hidden_size": "64", "intermediate_size": 1, "num_hidden_layers": 1, "num_attention_heads": 4,
           "vocab_size": 10})", "hidden_size must be an integer"},
      {R"({"model_type": "gpt2", "hidden_size": 64})", "model_type 'gpt2'"},
  };
  for (const Case& c : cases) {
    auto r = ParseConfig(c.json, "x/config.json");
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_NE(r.status().message().find(c.needle), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().rfind("x/config.json", 0), 0u) << r.status().message();
  }
}

TEST(Config, MissingFileIsNotFound) {
  auto r = LoadConfig("/nonexistent/config.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace llemma
