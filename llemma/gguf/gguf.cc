#include "llemma/gguf/gguf.h"

#include <cstring>
#include <functional>
#include <limits>

namespace llemma::gguf {

Value Value::U32(uint32_t v) { Value x; x.type = ValueType::kU32; x.u = v; x.i = v; return x; }
Value Value::I32(int32_t v) { Value x; x.type = ValueType::kI32; x.i = v; x.u = static_cast<uint64_t>(v); return x; }
Value Value::U64(uint64_t v) { Value x; x.type = ValueType::kU64; x.u = v; x.i = static_cast<int64_t>(v); return x; }
Value Value::F32(float v) { Value x; x.type = ValueType::kF32; x.f = v; return x; }
Value Value::Bool(bool v) { Value x; x.type = ValueType::kBool; x.b = v; return x; }
Value Value::String(std::string v) { Value x; x.type = ValueType::kString; x.s = std::move(v); return x; }
Value Value::Array(ValueType elem, std::vector<Value> items) {
  Value x;
  x.type = ValueType::kArray;
  x.elem = elem;
  x.array = std::move(items);
  return x;
}

bool TensorTypeInfo(uint32_t type, const char** name, int64_t* block_size, size_t* block_bytes) {
  struct Info {
    uint32_t id;
    const char* name;
    int64_t bs;
    size_t bb;
  };
  static constexpr Info kInfo[] = {
      {0, "F32", 1, 4},       {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},    {3, "Q4_1", 32, 20},
      {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},    {8, "Q8_0", 32, 34},    {9, "Q8_1", 32, 36},
      {10, "Q2_K", 256, 84},  {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
      {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292}, {24, "I8", 1, 1},       {25, "I16", 1, 2},
      {26, "I32", 1, 4},      {27, "I64", 1, 8},      {28, "F64", 1, 8},      {30, "BF16", 1, 2},
  };
  for (const Info& i : kInfo) {
    if (i.id == type) {
      if (name) *name = i.name;
      if (block_size) *block_size = i.bs;
      if (block_bytes) *block_bytes = i.bb;
      return true;
    }
  }
  return false;
}

std::optional<DType> TensorTypeToDType(uint32_t type) {
  switch (static_cast<TensorType>(type)) {
    case TensorType::kF32: return DType::kF32;
    case TensorType::kF16: return DType::kF16;
    case TensorType::kBF16: return DType::kBF16;
    case TensorType::kQ8_0: return DType::kQ8_0;
    case TensorType::kQ4_0: return DType::kQ4_0;
    case TensorType::kQ4_K: return DType::kQ4_K;
    case TensorType::kQ5_K: return DType::kQ5_K;
    case TensorType::kQ6_K: return DType::kQ6_K;
    case TensorType::kQ2_K: return DType::kQ2_K;
    case TensorType::kQ3_K: return DType::kQ3_K;
    default: return std::nullopt;
  }
}

TensorType DTypeToTensorType(DType t) {
  switch (t) {
    case DType::kF32: return TensorType::kF32;
    case DType::kF16: return TensorType::kF16;
    case DType::kBF16: return TensorType::kBF16;
    case DType::kQ8_0: return TensorType::kQ8_0;
    case DType::kQ4_0: return TensorType::kQ4_0;
    case DType::kQ4_K: return TensorType::kQ4_K;
    case DType::kQ5_K: return TensorType::kQ5_K;
    case DType::kQ6_K: return TensorType::kQ6_K;
    case DType::kQ4_0P: return TensorType::kQ4_0;  // (in-memory forms; files hold plain blocks)
    case DType::kQ8_0P: return TensorType::kQ8_0;
    case DType::kQ4_KP: return TensorType::kQ4_K;
    case DType::kQ5_KP: return TensorType::kQ5_K;
    case DType::kQ6_KP: return TensorType::kQ6_K;
    case DType::kQ2_K:
    case DType::kQ2_KP: return TensorType::kQ2_K;
    case DType::kQ3_K:
    case DType::kQ3_KP: return TensorType::kQ3_K;
  }
  return TensorType::kF32;
}

int64_t GgufTensor::NumElements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// ---- reading -----------------------------------------------------------------

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint64_t kMaxArray = uint64_t{1} << 28;
constexpr int kMaxDepth = 4;

// Bounds-checked little-endian cursor over the mapped bytes.
class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n, std::string path) : p_(p), n_(n), path_(std::move(path)) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return n_ - pos_; }
  Status Fail(const std::string& what) const {
    return DataLossError(path_ + ": " + what + " at byte " + std::to_string(pos_) +
                         "; the file is truncated or not GGUF");
  }
  template <typename T>
  Status Read(T* out) {
    *out = T{};
    if (n_ - pos_ < sizeof(T)) return Fail("unexpected end of file");
    std::memcpy(out, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }
  Status ReadString(std::string* s) {
    uint64_t len = 0;
    LLEMMA_RETURN_IF_ERROR(Read(&len));
    if (len > n_ - pos_) return Fail("string of " + std::to_string(len) + " bytes runs past the end");
    s->assign(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  std::string path_;
};

Status ReadValue(Cursor& c, ValueType type, Value* v, int depth) {
  v->type = type;
  switch (type) {
    case ValueType::kU8: { uint8_t x; LLEMMA_RETURN_IF_ERROR(c.Read(&x)); v->u = x; v->i = x; break; }
    case ValueType::kI8: { int8_t x; LLEMMA_RETURN_IF_ERROR(c.Read(&x)); v->i = x; v->u = static_cast<uint64_t>(x); break; }
    case ValueType::kU16: { uint16_t x; LLEMMA_RETURN_IF_ERROR(c.Read(&x)); v->u = x; v->i = x; break; }
    case ValueType::kI16: { int16_t x; LLEMMA_RETURN_IF_ERROR(c.Read(&x)); v->i = x; v->u = static_cast<uint64_t>(x); break; }
    case ValueType::kU32: { uint32_t x; LLEMMA_RETURN_IF_ERROR(c.Read(&x)); v->u = x; v->i = x; break; }
    case ValueType::kI32: { int32_t x; LLEMMA_RETURN_IF_ERROR(c.Read(&x)); v->i = x; v->u = static_cast<uint64_t>(x); break; }
    case ValueType::kU64: { uint64_t x; LLEMMA_RETURN_IF_ERROR(c.Read(&x)); v->u = x; v->i = static_cast<int64_t>(x); break; }
    case ValueType::kI64: { int64_t x; LLEMMA_RETURN_IF_ERROR(c.Read(&x)); v->i = x; v->u = static_cast<uint64_t>(x); break; }
    case ValueType::kF32: { float x; LLEMMA_RETURN_IF_ERROR(c.Read(&x)); v->f = x; break; }
    case ValueType::kF64: { double x; LLEMMA_RETURN_IF_ERROR(c.Read(&x)); v->f = x; break; }
    case ValueType::kBool: {
      uint8_t x;
      LLEMMA_RETURN_IF_ERROR(c.Read(&x));
      if (x > 1) return c.Fail("bool value " + std::to_string(x));
      v->b = x != 0;
      break;
    }
    case ValueType::kString: return c.ReadString(&v->s);
    case ValueType::kArray: {
      if (depth >= kMaxDepth) return c.Fail("arrays nested too deeply");
      uint32_t elem;
      uint64_t count;
      LLEMMA_RETURN_IF_ERROR(c.Read(&elem));
      LLEMMA_RETURN_IF_ERROR(c.Read(&count));
      if (elem > 12) return c.Fail("unknown array element type " + std::to_string(elem));
      // Every element takes at least this many bytes, so counts beyond the
      // rest of the file are corrupt (and must not be allocated).
      static constexpr uint8_t kMinBytes[] = {1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8};
      if (count > kMaxArray || count > c.remaining() / kMinBytes[elem]) {
        return c.Fail("array of " + std::to_string(count) + " elements");
      }
      v->elem = static_cast<ValueType>(elem);
      v->array.resize(count);
      for (uint64_t k = 0; k < count; ++k) {
        LLEMMA_RETURN_IF_ERROR(ReadValue(c, v->elem, &v->array[k], depth + 1));
      }
      break;
    }
    default: return c.Fail("unknown value type " + std::to_string(static_cast<uint32_t>(type)));
  }
  return Status::Ok();
}

const char* TypeName(ValueType t) {
  static const char* kNames[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                 "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < 13 ? kNames[i] : "?";
}

bool IsInteger(ValueType t) {
  return t == ValueType::kU8 || t == ValueType::kI8 || t == ValueType::kU16 || t == ValueType::kI16 ||
         t == ValueType::kU32 || t == ValueType::kI32 || t == ValueType::kU64 || t == ValueType::kI64;
}

}  // namespace

StatusOr<GgufFile> GgufFile::Open(const std::string& path) {
  GgufFile g;
  LLEMMA_ASSIGN_OR_RETURN(g.file_, MappedFile::Open(path));
  Cursor c(g.file_.data(), g.file_.size(), path);
  uint32_t magic = 0;
  if (g.file_.size() < 4 || !c.Read(&magic).ok() || magic != kMagic) {
    return InvalidArgumentError(path + ": not a GGUF file (no GGUF magic)");
  }
  LLEMMA_RETURN_IF_ERROR(c.Read(&g.version_));
  if (g.version_ == 1) return UnimplementedError(path + ": GGUF version 1 is not supported; re-convert the model");
  if (g.version_ != 2 && g.version_ != 3) {
    return InvalidArgumentError(path + ": unknown GGUF version " + std::to_string(g.version_));
  }
  uint64_t n_tensors = 0, n_kv = 0;
  LLEMMA_RETURN_IF_ERROR(c.Read(&n_tensors));
  LLEMMA_RETURN_IF_ERROR(c.Read(&n_kv));
  // Each entry takes at least 8 bytes: counts beyond the file size are corrupt.
  if (n_tensors > g.file_.size() / 8 || n_kv > g.file_.size() / 8) {
    return c.Fail("tensor count " + std::to_string(n_tensors) + " / key count " + std::to_string(n_kv));
  }
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key;
    uint32_t type;
    LLEMMA_RETURN_IF_ERROR(c.ReadString(&key));
    LLEMMA_RETURN_IF_ERROR(c.Read(&type));
    if (type > 12) return c.Fail("key '" + key + "' has unknown value type " + std::to_string(type));
    Value v;
    LLEMMA_RETURN_IF_ERROR(ReadValue(c, static_cast<ValueType>(type), &v, 0));
    if (g.kv_.count(key)) return c.Fail("duplicate key '" + key + "'");
    g.keys_.push_back(key);
    g.kv_.emplace(key, std::move(v));
  }
  uint64_t alignment = 32;
  if (const Value* a = g.Find("general.alignment")) {
    if (!IsInteger(a->type) || a->u == 0 || (a->u & (a->u - 1)) != 0) {
      return DataLossError(path + ": general.alignment must be a power of two");
    }
    alignment = a->u;
  }
  std::vector<uint64_t> rel(n_tensors);
  g.tensors_.resize(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensor& t = g.tensors_[k];
    uint32_t n_dims;
    LLEMMA_RETURN_IF_ERROR(c.ReadString(&t.name));
    LLEMMA_RETURN_IF_ERROR(c.Read(&n_dims));
    if (n_dims == 0 || n_dims > 4) return c.Fail("tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne;
      LLEMMA_RETURN_IF_ERROR(c.Read(&ne));
      if (ne == 0 || ne > (uint64_t{1} << 40) || numel > (uint64_t{1} << 50) / ne) {
        return c.Fail("tensor '" + t.name + "' has an invalid shape");
      }
      numel *= ne;
      t.dims.push_back(static_cast<int64_t>(ne));
    }
    LLEMMA_RETURN_IF_ERROR(c.Read(&t.type));
    LLEMMA_RETURN_IF_ERROR(c.Read(&rel[k]));
    int64_t bs;
    size_t bb;
    if (!TensorTypeInfo(t.type, nullptr, &bs, &bb)) {
      return c.Fail("tensor '" + t.name + "' has unknown type " + std::to_string(t.type));
    }
    if (t.dims[0] % bs != 0) return c.Fail("tensor '" + t.name + "' rows are not whole blocks");
    t.n_bytes = numel / bs * bb;
    if (rel[k] % alignment != 0) return c.Fail("tensor '" + t.name + "' data is not aligned");
    if (!g.by_name_.emplace(t.name, k).second) return c.Fail("duplicate tensor '" + t.name + "'");
  }
  const uint64_t data_start = (c.pos() + alignment - 1) / alignment * alignment;
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensor& t = g.tensors_[k];
    if (data_start > g.file_.size() || rel[k] > g.file_.size() - data_start ||
        t.n_bytes > g.file_.size() - data_start - rel[k]) {
      return DataLossError(path + ": tensor '" + t.name + "' data runs past the end of the file (" +
                           std::to_string(g.file_.size()) + " bytes); the file is truncated, download it again");
    }
    t.offset = data_start + rel[k];
  }
  return g;
}

const GgufTensor* GgufFile::FindTensor(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

const Value* GgufFile::Find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

StatusOr<uint64_t> GgufFile::GetUInt(const std::string& key) const {
  const Value* v = Find(key);
  if (!v) return NotFoundError(path() + ": metadata key '" + key + "' is missing");
  if (!IsInteger(v->type) || (v->i < 0 && v->type != ValueType::kU64)) {
    return InvalidArgumentError(path() + ": metadata key '" + key + "' must be a non-negative integer, found " +
                                TypeName(v->type));
  }
  return v->u;
}

StatusOr<double> GgufFile::GetFloat(const std::string& key) const {
  const Value* v = Find(key);
  if (!v) return NotFoundError(path() + ": metadata key '" + key + "' is missing");
  if (v->type == ValueType::kF32 || v->type == ValueType::kF64) return v->f;
  if (IsInteger(v->type)) return static_cast<double>(v->i);
  return InvalidArgumentError(path() + ": metadata key '" + key + "' must be a number, found " + TypeName(v->type));
}

StatusOr<std::string> GgufFile::GetString(const std::string& key) const {
  const Value* v = Find(key);
  if (!v) return NotFoundError(path() + ": metadata key '" + key + "' is missing");
  if (v->type != ValueType::kString) {
    return InvalidArgumentError(path() + ": metadata key '" + key + "' must be a string, found " + TypeName(v->type));
  }
  return v->s;
}

StatusOr<const Value*> GgufFile::GetArray(const std::string& key) const {
  const Value* v = Find(key);
  if (!v) return NotFoundError(path() + ": metadata key '" + key + "' is missing");
  if (v->type != ValueType::kArray) {
    return InvalidArgumentError(path() + ": metadata key '" + key + "' must be an array, found " + TypeName(v->type));
  }
  return v;
}

// ---- writing -----------------------------------------------------------------

GgufWriter::~GgufWriter() {
  if (f_ != nullptr) std::fclose(f_);
}

void GgufWriter::SetValue(const std::string& key, Value v) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  }
  kv_.emplace_back(key, std::move(v));
}

void GgufWriter::AddTensor(const std::string& name, std::vector<int64_t> dims, TensorType type) {
  GgufTensor t;
  t.name = name;
  t.dims = std::move(dims);
  t.type = static_cast<uint32_t>(type);
  int64_t bs = 1;
  size_t bb = 0;
  LLEMMA_CHECK(TensorTypeInfo(t.type, nullptr, &bs, &bb));
  t.n_bytes = static_cast<uint64_t>(t.NumElements() / bs) * bb;
  uint64_t offset = 0;
  if (!tensors_.empty()) {
    const GgufTensor& last = tensors_.back();
    offset = (last.offset + last.n_bytes + kAlignment - 1) / kAlignment * kAlignment;
  }
  t.offset = offset;
  tensors_.push_back(std::move(t));
}

Status GgufWriter::Write(const void* p, size_t n) {
  if (n > 0 && std::fwrite(p, 1, n, f_) != n) return UnavailableError(path_ + ": write failed (disk full?)");
  pos_ += n;
  return Status::Ok();
}

Status GgufWriter::Pad() {
  static const uint8_t kZeros[kAlignment] = {};
  const uint64_t pad = (kAlignment - pos_ % kAlignment) % kAlignment;
  return Write(kZeros, pad);
}

namespace {
Status WriteString(const std::string& s, const std::function<Status(const void*, size_t)>& write) {
  const uint64_t n = s.size();
  LLEMMA_RETURN_IF_ERROR(write(&n, 8));
  return write(s.data(), s.size());
}
Status WriteValue(const Value& v, const std::function<Status(const void*, size_t)>& write) {
  auto put = [&](auto x) { return write(&x, sizeof(x)); };
  switch (v.type) {
    case ValueType::kU8: return put(static_cast<uint8_t>(v.u));
    case ValueType::kI8: return put(static_cast<int8_t>(v.i));
    case ValueType::kU16: return put(static_cast<uint16_t>(v.u));
    case ValueType::kI16: return put(static_cast<int16_t>(v.i));
    case ValueType::kU32: return put(static_cast<uint32_t>(v.u));
    case ValueType::kI32: return put(static_cast<int32_t>(v.i));
    case ValueType::kU64: return put(static_cast<uint64_t>(v.u));
    case ValueType::kI64: return put(static_cast<int64_t>(v.i));
    case ValueType::kF32: return put(static_cast<float>(v.f));
    case ValueType::kF64: return put(static_cast<double>(v.f));
    case ValueType::kBool: return put(static_cast<uint8_t>(v.b ? 1 : 0));
    case ValueType::kString: return WriteString(v.s, write);
    case ValueType::kArray: {
      LLEMMA_RETURN_IF_ERROR(put(static_cast<uint32_t>(v.elem)));
      LLEMMA_RETURN_IF_ERROR(put(static_cast<uint64_t>(v.array.size())));
      for (const Value& e : v.array) LLEMMA_RETURN_IF_ERROR(WriteValue(e, write));
      return Status::Ok();
    }
  }
  return InternalError("unknown GGUF value type");
}
}  // namespace

Status GgufWriter::Open(const std::string& path) {
  path_ = path;
  f_ = std::fopen(path.c_str(), "wb");
  if (f_ == nullptr) return UnavailableError(path + ": cannot create the output file");
  auto write = [this](const void* p, size_t n) { return Write(p, n); };
  const uint32_t magic = kMagic, version = 3;
  const uint64_t n_tensors = tensors_.size(), n_kv = kv_.size();
  LLEMMA_RETURN_IF_ERROR(Write(&magic, 4));
  LLEMMA_RETURN_IF_ERROR(Write(&version, 4));
  LLEMMA_RETURN_IF_ERROR(Write(&n_tensors, 8));
  LLEMMA_RETURN_IF_ERROR(Write(&n_kv, 8));
  for (const auto& [key, v] : kv_) {
    LLEMMA_RETURN_IF_ERROR(WriteString(key, write));
    const uint32_t type = static_cast<uint32_t>(v.type);
    LLEMMA_RETURN_IF_ERROR(Write(&type, 4));
    LLEMMA_RETURN_IF_ERROR(WriteValue(v, write));
  }
  for (const GgufTensor& t : tensors_) {
    LLEMMA_RETURN_IF_ERROR(WriteString(t.name, write));
    const uint32_t n_dims = static_cast<uint32_t>(t.dims.size());
    LLEMMA_RETURN_IF_ERROR(Write(&n_dims, 4));
    for (int64_t d : t.dims) {
      const uint64_t ne = static_cast<uint64_t>(d);
      LLEMMA_RETURN_IF_ERROR(Write(&ne, 8));
    }
    LLEMMA_RETURN_IF_ERROR(Write(&t.type, 4));
    LLEMMA_RETURN_IF_ERROR(Write(&t.offset, 8));
  }
  LLEMMA_RETURN_IF_ERROR(Pad());
  written_ = 0;
  return Status::Ok();
}

Status GgufWriter::WriteTensorData(const void* data, size_t n_bytes) {
  if (f_ == nullptr) return FailedPreconditionError("GgufWriter: Open() first");
  if (next_ >= tensors_.size()) return FailedPreconditionError(path_ + ": more tensor data than declared tensors");
  const GgufTensor& t = tensors_[next_];
  if (n_bytes != t.n_bytes) {
    return InvalidArgumentError(path_ + ": tensor '" + t.name + "' needs " + std::to_string(t.n_bytes) +
                                " bytes, got " + std::to_string(n_bytes));
  }
  static const uint8_t kZeros[kAlignment] = {};
  LLEMMA_RETURN_IF_ERROR(Write(kZeros, t.offset - written_));  // alignment gap
  LLEMMA_RETURN_IF_ERROR(Write(data, n_bytes));
  written_ = t.offset + n_bytes;
  ++next_;
  return Status::Ok();
}

Status GgufWriter::Close() {
  if (f_ == nullptr) return FailedPreconditionError("GgufWriter: nothing to close");
  if (next_ != tensors_.size()) {
    return FailedPreconditionError(path_ + ": only " + std::to_string(next_) + " of " +
                                   std::to_string(tensors_.size()) + " tensors were written");
  }
  const bool ok = std::fflush(f_) == 0;
  std::fclose(f_);
  f_ = nullptr;
  if (!ok) return UnavailableError(path_ + ": write failed (disk full?)");
  return Status::Ok();
}

}  // namespace llemma::gguf
