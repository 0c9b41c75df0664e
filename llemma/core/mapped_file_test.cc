#include "llemma/core/mapped_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace llemma {
namespace {

TEST(MappedFile, MapsTheFileBytes) {
  const std::string path = ::testing::TempDir() + "/mapped_file_test.bin";
  {
    std::ofstream out(path, std::ios::binary);
    out << "hello mapped world";
  }
  auto f = MappedFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->size(), 18u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->data()), f->size()), "hello mapped world");
  f->Release(0, f->size());  // dropping pages must not change the contents
  EXPECT_EQ(f->data()[6], 'm');
  std::remove(path.c_str());
}

TEST(MappedFile, MissingFileIsNotFoundWithPath) {
  auto f = MappedFile::Open("/nonexistent/dir/x.safetensors");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
  EXPECT_NE(f.status().message().find("/nonexistent/dir/x.safetensors"), std::string::npos);
}

TEST(MappedFile, DirectoryIsRejected) {
  auto f = MappedFile::Open(::testing::TempDir());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llemma
