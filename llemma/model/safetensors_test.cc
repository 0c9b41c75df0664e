#include "llemma/model/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

namespace llemma {
namespace {

// Writes a safetensors file by hand: u64 header length, JSON header, data.
std::string WriteFile(const std::string& name, const std::string& header, const std::string& data,
                      int64_t header_len_override = -1) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream out(path, std::ios::binary);
  uint64_t len = header_len_override >= 0 ? header_len_override : header.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out << header << data;
  return path;
}

TEST(Safetensors, ReadsTensorsInOffsetOrderWithData) {
  float vals[3] = {1.5f, -2.0f, 3.25f};
  uint16_t half[2] = {0x3c00, 0x4000};
  std::string data(reinterpret_cast<char*>(half), 4);
  data.append(reinterpret_cast<char*>(vals), 12);
  const std::string header =
      R"({"b": {"dtype": "F32", "shape": [3], "data_offsets": [4, 16]},
          "a": {"dtype": "F16", "shape": [1, 2], "data_offsets": [0, 4]},
          "__metadata__": {"format": "pt"}})";
  auto f = SafetensorsFile::Open(WriteFile("ok.safetensors", header, data));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->tensors().size(), 2u);
  EXPECT_EQ(f->tensors()[0].name, "a");
  EXPECT_EQ(f->tensors()[0].dtype, DType::kF16);
  EXPECT_EQ(f->tensors()[0].shape, (std::vector<int64_t>{1, 2}));
  const SafetensorsTensor* b = f->Find("b");
  ASSERT_NE(b, nullptr);
  float got[3];
  std::memcpy(got, f->Data(*b), 12);
  EXPECT_EQ(got[2], 3.25f);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->Find("c"), nullptr);
}

TEST(Safetensors, RejectsCorruptFilesWithClearMessages) {
  struct Case {
    std::string header, data;
    int64_t len_override;
    const char* needle;
  };
  const Case cases[] = {
      {"{", "", -1, "not a JSON object"},
      {R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", std::string(8, '\0'), -1,
       "truncated"},
      {R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}})", std::string(16, '\0'), -1,
       "do not match shape"},
      {R"({"w": {"dtype": "Q9", "shape": [4], "data_offsets": [0, 4]}})", std::string(4, '\0'), -1,
       "unknown dtype"},
      {R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
           "v": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", std::string(12, '\0'), -1,
       "overlap"},
      {R"({"w": {"dtype": "F32", "shape": [1]}})", std::string(4, '\0'), -1, "needs dtype"},
      {"{}", "", 1 << 30, "exceeds the file size"},
  };
  int i = 0;
  for (const Case& c : cases) {
    auto f = SafetensorsFile::Open(WriteFile("bad" + std::to_string(i++), c.header, c.data, c.len_override));
    ASSERT_FALSE(f.ok()) << c.needle;
    EXPECT_NE(f.status().message().find(c.needle), std::string::npos) << f.status().message();
  }
  const std::string tiny = ::testing::TempDir() + "/tiny.safetensors";
  std::ofstream(tiny) << "abc";
  auto f = SafetensorsFile::Open(tiny);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("too short"), std::string::npos);
}

}  // namespace
}  // namespace llemma
