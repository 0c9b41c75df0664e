// Broken checkpoints and inputs produce one clear error naming the file or
// field, never a crash or garbage.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "llemma/model/model.h"
#include "llemma/tokenizer/tokenizer.h"
#include "tests/test_util.h"

namespace llemma::testing {
namespace {

namespace fs = std::filesystem;

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}
void WriteJson(const std::string& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(1); }

void ExpectLoadError(const std::string& dir, StatusCode code, const std::string& needle) {
  auto m = Model::Load(dir, {.dtype = DType::kF32});
  ASSERT_FALSE(m.ok()) << dir;
  EXPECT_EQ(m.status().code(), code) << m.status().ToString();
  EXPECT_NE(m.status().message().find(needle), std::string::npos) << m.status().message();
}

TEST(BadCheckpoint, MissingTensorInShardedIndexIsNamed) {
  const std::string dir = CopyFixture("tiny-gqa-bf16-sharded", "missing_tensor");
  // Drop the tensor from both the index and its shard by renaming it in the index only:
  // the weights are then found under no expected name.
  auto idx = ReadJson(dir + "/model.safetensors.index.json");
  const std::string shard = idx["weight_map"]["model.layers.1.mlp.up_proj.weight"];
  // Rewrite that shard's header so the tensor is called something else.
  const std::string path = dir + "/" + shard;
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  uint64_t len = 0;
  f.read(reinterpret_cast<char*>(&len), 8);
  std::string header(len, ' ');
  f.read(header.data(), len);
  const std::string from = "model.layers.1.mlp.up_proj.weight", to = "model.layers.1.mlp.up_proj.wEIGHT";
  ASSERT_NE(header.find(from), std::string::npos);
  header.replace(header.find(from), from.size(), to);
  f.seekp(8);
  f.write(header.data(), len);
  f.close();
  ExpectLoadError(dir, StatusCode::kDataLoss, "'model.layers.1.mlp.up_proj.weight' is missing");
}

TEST(BadCheckpoint, TruncatedShardSaysTruncated) {
  const std::string dir = CopyFixture("tiny-gqa-bf16-sharded", "truncated");
  auto idx = ReadJson(dir + "/model.safetensors.index.json");
  const std::string path = dir + "/" + idx["weight_map"]["model.norm.weight"].get<std::string>();
  fs::resize_file(path, fs::file_size(path) - 100);
  ExpectLoadError(dir, StatusCode::kDataLoss, "truncated");
}

TEST(BadCheckpoint, ConfigThatDisagreesWithWeightsNamesTheTensorAndShapes) {
  const std::string dir = CopyFixture("tiny-mha-f32", "shape");
  auto cfg = ReadJson(dir + "/config.json");
  cfg["intermediate_size"] = cfg["intermediate_size"].get<int>() + 1;
  WriteJson(dir + "/config.json", cfg);
  ExpectLoadError(dir, StatusCode::kInvalidArgument, "config.json does not match the weights");
}

TEST(BadCheckpoint, InconsistentHeadCountsAreRejected) {
  const std::string dir = CopyFixture("tiny-mha-f32", "heads");
  auto cfg = ReadJson(dir + "/config.json");
  cfg["num_key_value_heads"] = 3;
  WriteJson(dir + "/config.json", cfg);
  ExpectLoadError(dir, StatusCode::kInvalidArgument, "num_key_value_heads (3) must divide");
}

TEST(BadCheckpoint, MissingFilesAreNamed) {
  const std::string dir = CopyFixture("tiny-mha-f32", "nofiles");
  fs::remove(dir + "/model.safetensors");
  ExpectLoadError(dir, StatusCode::kNotFound, "no model.safetensors");
  fs::remove(dir + "/config.json");
  ExpectLoadError(dir, StatusCode::kNotFound, "config.json");
  ExpectLoadError("/nonexistent/model", StatusCode::kNotFound, "/nonexistent/model");
}

TEST(BadCheckpoint, IndexPointingAtAMissingShardIsNamed) {
  const std::string dir = CopyFixture("tiny-gqa-bf16-sharded", "noshard");
  auto idx = ReadJson(dir + "/model.safetensors.index.json");
  fs::remove(dir + "/" + idx["weight_map"]["model.norm.weight"].get<std::string>());
  ExpectLoadError(dir, StatusCode::kNotFound, idx["weight_map"]["model.norm.weight"].get<std::string>());
}

TEST(BadCheckpoint, GarbageTokenizerIsReportedWithItsPath) {
  const std::string dir = CopyFixture("tiny-mha-f32", "badtok");
  std::ofstream(dir + "/tokenizer.model") << "this is not a sentencepiece model";
  auto t = Tokenizer::Load(dir + "/tokenizer.model");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find(dir + "/tokenizer.model"), std::string::npos)
      << t.status().message();
}

}  // namespace
}  // namespace llemma::testing
