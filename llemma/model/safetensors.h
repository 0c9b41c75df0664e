// Reader for the safetensors format (Hugging Face): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}}, then the
// raw little-endian tensor bytes. The file is memory-mapped; tensor data are
// views into the mapping. Immutable after Open; safe to read from many threads.
//
//   StatusOr<SafetensorsFile> f = SafetensorsFile::Open("model.safetensors");
//   const SafetensorsTensor* t = f->Find("model.norm.weight");
//   const uint8_t* bytes = f->Data(*t);
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "llemma/core/dtype.h"
#include "llemma/core/mapped_file.h"
#include "llemma/core/status.h"

namespace llemma {

struct SafetensorsTensor {
  std::string name;
  std::string dtype_name;        // as in the header: "F32", "BF16", "I64", ...
  bool has_dtype = false;        // dtype_name is one of F32/F16/BF16
  DType dtype = DType::kF32;     // valid when has_dtype
  std::vector<int64_t> shape;
  uint64_t offset = 0;           // absolute byte offset in the file
  uint64_t n_bytes = 0;
  int64_t NumElements() const;
};

class SafetensorsFile {
 public:
  static StatusOr<SafetensorsFile> Open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }  // in file order
  const SafetensorsTensor* Find(const std::string& name) const;
  const uint8_t* Data(const SafetensorsTensor& t) const { return file_.data() + t.offset; }
  const MappedFile& file() const { return file_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  MappedFile file_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, size_t> by_name_;
  std::map<std::string, std::string> metadata_;
};

// Parses a safetensors header (the JSON text) against a data section of
// `data_size` bytes that starts at `data_start` in the file. Exposed for tests.
StatusOr<std::vector<SafetensorsTensor>> ParseSafetensorsHeader(const std::string& header,
                                                                uint64_t data_start,
                                                                uint64_t data_size,
                                                                const std::string& source);

}  // namespace llemma
