// MappedFile: a read-only memory map of a whole file, unmapped on destruction.
// Owned by whoever opened it; the bytes are immutable, so concurrent readers
// are safe.
//
//   StatusOr<MappedFile> f = MappedFile::Open("model.safetensors");
//   std::span<const uint8_t> bytes = f->bytes();
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "llemma/core/status.h"

namespace llemma {

class MappedFile {
 public:
  static StatusOr<MappedFile> Open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::string& path() const { return path_; }
  size_t size() const { return size_; }
  const uint8_t* data() const { return data_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

  // Hints that [offset, offset+len) will be read soon (sequentially).
  void WillNeed(size_t offset, size_t len) const;
  // Drops [offset, offset+len) from this process's resident set; the bytes
  // are re-read from the file if touched again. Used after converting a
  // tensor so that streaming a large checkpoint keeps peak memory low.
  void Release(size_t offset, size_t len) const;

 private:
  std::string path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a whole (small) file into a string.
StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace llemma
