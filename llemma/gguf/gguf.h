// GGUF files (the llama.cpp model format), versions 2 and 3: a header of
// typed key/value metadata and tensor descriptions, then aligned tensor data.
// GgufFile reads a memory-mapped file and validates every count, string and
// offset against the file size. GgufWriter streams a file out: metadata and
// tensor descriptions first, then each tensor's bytes in order, so a large
// checkpoint is converted one tensor at a time.
//
//   StatusOr<GgufFile> f = GgufFile::Open("llemma-7b.Q4_0.gguf");
//   StatusOr<uint64_t> n_layer = f->GetUInt("llama.block_count");
//   const GgufTensor* t = f->FindTensor("blk.0.attn_q.weight");
//
// GgufFile is immutable after Open (safe from many threads); GgufWriter is
// single-threaded.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "llemma/core/dtype.h"
#include "llemma/core/mapped_file.h"
#include "llemma/core/status.h"

namespace llemma::gguf {

enum class ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

// A metadata value. Integers of every width are held in `i` (signed) or `u`
// (unsigned), floats in `f`, arrays in `array` with element type `elem`.
struct Value {
  ValueType type = ValueType::kU32;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;
  ValueType elem = ValueType::kU32;
  std::vector<Value> array;

  static Value U32(uint32_t v);
  static Value I32(int32_t v);
  static Value U64(uint64_t v);
  static Value F32(float v);
  static Value Bool(bool v);
  static Value String(std::string v);
  static Value Array(ValueType elem, std::vector<Value> items);
};

// ggml tensor types (ids as stored in the file).
enum class TensorType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kBF16 = 30,
};

// Name ("Q4_0"), elements per block and bytes per block; false if unknown.
bool TensorTypeInfo(uint32_t type, const char** name, int64_t* block_size, size_t* block_bytes);
// The DType llemma computes with for this file type, if any.
std::optional<DType> TensorTypeToDType(uint32_t type);
TensorType DTypeToTensorType(DType t);

struct GgufTensor {
  std::string name;
  std::vector<int64_t> dims;  // ne[0] is the innermost (contiguous) dimension
  uint32_t type = 0;
  uint64_t offset = 0;        // absolute offset in the file
  uint64_t n_bytes = 0;
  int64_t NumElements() const;
};

class GgufFile {
 public:
  static StatusOr<GgufFile> Open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* FindTensor(const std::string& name) const;
  const uint8_t* Data(const GgufTensor& t) const { return file_.data() + t.offset; }
  const MappedFile& file() const { return file_; }

  const Value* Find(const std::string& key) const;
  const std::vector<std::string>& keys() const { return keys_; }  // in file order
  // Typed accessors: errors name the key and the type found.
  StatusOr<uint64_t> GetUInt(const std::string& key) const;  // any non-negative integer
  StatusOr<double> GetFloat(const std::string& key) const;   // f32/f64 (or integer)
  StatusOr<std::string> GetString(const std::string& key) const;
  StatusOr<const Value*> GetArray(const std::string& key) const;

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  std::map<std::string, Value> kv_;
  std::vector<std::string> keys_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> by_name_;
};

class GgufWriter {
 public:
  GgufWriter() = default;
  ~GgufWriter();
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  void SetValue(const std::string& key, Value v);  // insertion order is kept
  // Declares a tensor; data must later be written in declaration order.
  void AddTensor(const std::string& name, std::vector<int64_t> dims, TensorType type);
  // Creates the file and writes the header, metadata and tensor descriptions.
  Status Open(const std::string& path);
  // Writes the bytes of the next declared tensor (size is checked).
  Status WriteTensorData(const void* data, size_t n_bytes);
  // Flushes and closes; every declared tensor must have been written.
  Status Close();

 private:
  Status Write(const void* p, size_t n);
  Status Pad();

  std::string path_;
  std::FILE* f_ = nullptr;
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<GgufTensor> tensors_;  // offsets relative to the data section
  size_t next_ = 0;
  uint64_t written_ = 0;             // bytes of the data section written
  uint64_t pos_ = 0;                 // bytes written to the file
  static constexpr uint64_t kAlignment = 32;
};

}  // namespace llemma::gguf
