#include "llemma/gguf/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace llemma::gguf {
namespace {

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

// Writes a small file with every value type and three tensors of different types.
std::string WriteSample(const std::string& name) {
  GgufWriter w;
  w.SetValue("general.architecture", Value::String("llama"));
  w.SetValue("llama.block_count", Value::U32(2));
  w.SetValue("llama.rope.freq_base", Value::F32(1e6f));
  w.SetValue("some.bool", Value::Bool(true));
  w.SetValue("some.i32", Value::I32(-5));
  w.SetValue("some.u64", Value::U64(uint64_t{1} << 40));
  w.SetValue("some.strings", Value::Array(ValueType::kString, {Value::String("a"), Value::String("▁b")}));
  w.SetValue("some.floats", Value::Array(ValueType::kF32, {Value::F32(0.5f), Value::F32(-1.0f)}));
  w.AddTensor("a", {64, 3}, TensorType::kF32);
  w.AddTensor("b", {32, 2}, TensorType::kQ4_0);
  w.AddTensor("c", {5}, TensorType::kF16);
  EXPECT_TRUE(w.Open(TempPath(name)).ok());
  std::vector<float> a(192);
  for (int i = 0; i < 192; ++i) a[i] = static_cast<float>(i);
  std::vector<uint8_t> b(36, 0xAB), c(10, 0x3C);
  EXPECT_TRUE(w.WriteTensorData(a.data(), a.size() * 4).ok());
  EXPECT_TRUE(w.WriteTensorData(b.data(), b.size()).ok());
  EXPECT_TRUE(w.WriteTensorData(c.data(), c.size()).ok());
  EXPECT_TRUE(w.Close().ok());
  return TempPath(name);
}

TEST(Gguf, WrittenFileReadsBackWithAllValuesAndAlignedTensors) {
  auto f = GgufFile::Open(WriteSample("sample.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(*f->GetString("general.architecture"), "llama");
  EXPECT_EQ(*f->GetUInt("llama.block_count"), 2u);
  EXPECT_FLOAT_EQ(*f->GetFloat("llama.rope.freq_base"), 1e6f);
  EXPECT_TRUE(f->Find("some.bool")->b);
  EXPECT_EQ(f->Find("some.i32")->i, -5);
  EXPECT_EQ(*f->GetUInt("some.u64"), uint64_t{1} << 40);
  EXPECT_FALSE(f->GetUInt("some.i32").ok());  // negative
  auto strings = f->GetArray("some.strings");
  ASSERT_TRUE(strings.ok());
  EXPECT_EQ((*strings)->array[1].s, "▁b");
  EXPECT_EQ(f->keys().front(), "general.architecture");
  ASSERT_EQ(f->tensors().size(), 3u);
  const GgufTensor* a = f->FindTensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dims, (std::vector<int64_t>{64, 3}));
  EXPECT_EQ(a->offset % 32, 0u);
  float v;
  std::memcpy(&v, f->Data(*a) + 4 * 100, 4);
  EXPECT_EQ(v, 100.0f);
  const GgufTensor* b = f->FindTensor("b");
  EXPECT_EQ(b->n_bytes, 36u);
  EXPECT_EQ(b->offset % 32, 0u);
  EXPECT_EQ(f->Data(*b)[35], 0xAB);
  EXPECT_EQ(f->FindTensor("c")->n_bytes, 10u);
  EXPECT_EQ(TensorTypeToDType(b->type), DType::kQ4_0);
  // Errors name the key.
  auto missing = f->GetUInt("llama.nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("llama.nope"), std::string::npos);
  auto wrong = f->GetString("llama.block_count");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("must be a string"), std::string::npos);
}

TEST(Gguf, WriterChecksTensorSizesAndCount) {
  GgufWriter w;
  w.AddTensor("x", {32}, TensorType::kQ8_0);
  ASSERT_TRUE(w.Open(TempPath("bad_write.gguf")).ok());
  std::vector<uint8_t> bytes(33);
  EXPECT_FALSE(w.WriteTensorData(bytes.data(), 33).ok());
  EXPECT_FALSE(w.Close().ok());
}

TEST(Gguf, TruncationsAndByteFlipsNeverCrashAndAreReported) {
  const std::string path = WriteSample("fuzz_src.gguf");
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string good = ss.str();
  const std::string out = TempPath("fuzz.gguf");
  // Every truncation point inside the header and data is an error.
  for (size_t len = 0; len < good.size(); len += (len < 400 ? 1 : 97)) {
    std::ofstream(out, std::ios::binary) << good.substr(0, len);
    auto f = GgufFile::Open(out);
    EXPECT_FALSE(f.ok()) << "truncated to " << len;
  }
  // Random byte flips: either a clean error or a file whose tensors stay inside it.
  std::mt19937 rng(7);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bad = good;
    for (int k = 0; k < 3; ++k) bad[rng() % 300] = static_cast<char>(rng());
    std::ofstream(out, std::ios::binary) << bad;
    auto f = GgufFile::Open(out);
    if (f.ok()) {
      for (const GgufTensor& t : f->tensors()) EXPECT_LE(t.offset + t.n_bytes, bad.size());
    } else {
      EXPECT_FALSE(f.status().message().empty());
    }
  }
}

TEST(Gguf, RejectsOtherFilesAndOldVersions) {
  const std::string p = TempPath("not.gguf");
  std::ofstream(p) << "hello world, not gguf";
  auto f = GgufFile::Open(p);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("not a GGUF file"), std::string::npos);
  std::string v1 = "GGUF";
  v1 += std::string("\x01\0\0\0", 4) + std::string(16, '\0');
  std::ofstream(p, std::ios::binary) << v1;
  f = GgufFile::Open(p);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("version 1"), std::string::npos);
}

}  // namespace
}  // namespace llemma::gguf
