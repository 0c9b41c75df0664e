#include "llemma/model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

namespace llemma {

namespace {

using nlohmann::json;

// Element size for every dtype the format defines; 0 when unknown.
uint64_t ElementSize(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

}  // namespace

int64_t SafetensorsTensor::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

StatusOr<std::vector<SafetensorsTensor>> ParseSafetensorsHeader(const std::string& header,
                                                                uint64_t data_start,
                                                                uint64_t data_size,
                                                                const std::string& source) {
  json j = json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return DataLossError(source + ": safetensors header is not a JSON object; the file is corrupt");
  }
  std::vector<SafetensorsTensor> tensors;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const std::string where = source + ": tensor '" + it.key() + "'";
    const json& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") ||
        !e.contains("data_offsets")) {
      return DataLossError(where + " needs dtype, shape and data_offsets");
    }
    SafetensorsTensor t;
    t.name = it.key();
    if (!e["dtype"].is_string()) return DataLossError(where + ": dtype must be a string");
    t.dtype_name = e["dtype"].get<std::string>();
    const uint64_t es = ElementSize(t.dtype_name);
    if (es == 0) return DataLossError(where + ": unknown dtype '" + t.dtype_name + "'");
    if (t.dtype_name == "F32") t.has_dtype = true, t.dtype = DType::kF32;
    if (t.dtype_name == "F16") t.has_dtype = true, t.dtype = DType::kF16;
    if (t.dtype_name == "BF16") t.has_dtype = true, t.dtype = DType::kBF16;
    if (!e["shape"].is_array()) return DataLossError(where + ": shape must be a list");
    uint64_t numel = 1;
    for (const json& d : e["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) {
        return DataLossError(where + ": shape entries must be non-negative integers");
      }
      const uint64_t v = d.get<uint64_t>();
      if (v != 0 && numel > std::numeric_limits<uint64_t>::max() / v / es) {
        return DataLossError(where + ": shape is too large");
      }
      numel *= v;
      t.shape.push_back(static_cast<int64_t>(v));
    }
    const json& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned()) {
      return DataLossError(where + ": data_offsets must be [begin, end]");
    }
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (end < begin || end - begin != numel * es) {
      return DataLossError(where + ": data_offsets [" + std::to_string(begin) + ", " +
                           std::to_string(end) + "] do not match shape and dtype (" +
                           std::to_string(numel * es) + " bytes)");
    }
    if (end > data_size) {
      return DataLossError(where + ": data ends at byte " + std::to_string(end) +
                           " but the file holds " + std::to_string(data_size) +
                           " data bytes; the file is truncated, download it again");
    }
    t.offset = data_start + begin;
    t.n_bytes = end - begin;
    tensors.push_back(std::move(t));
  }
  std::sort(tensors.begin(), tensors.end(),
            [](const SafetensorsTensor& a, const SafetensorsTensor& b) { return a.offset < b.offset; });
  for (size_t i = 1; i < tensors.size(); ++i) {
    if (tensors[i].offset < tensors[i - 1].offset + tensors[i - 1].n_bytes) {
      return DataLossError(source + ": tensors '" + tensors[i - 1].name + "' and '" +
                           tensors[i].name + "' overlap; the file is corrupt");
    }
  }
  return tensors;
}

StatusOr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  SafetensorsFile f;
  LLEMMA_ASSIGN_OR_RETURN(f.file_, MappedFile::Open(path));
  const uint64_t size = f.file_.size();
  if (size < 8) {
    return DataLossError(path + ": " + std::to_string(size) +
                         " bytes is too short for a safetensors file; it is truncated or not safetensors");
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, f.file_.data(), 8);  // little-endian hosts only (x86-64, aarch64)
  if (header_len > kMaxHeaderBytes || header_len > size - 8) {
    return DataLossError(path + ": header length " + std::to_string(header_len) +
                         " exceeds the file size; the file is truncated or not safetensors");
  }
  const std::string header(reinterpret_cast<const char*>(f.file_.data() + 8), header_len);
  LLEMMA_ASSIGN_OR_RETURN(f.tensors_,
                          ParseSafetensorsHeader(header, 8 + header_len, size - 8 - header_len, path));
  for (size_t i = 0; i < f.tensors_.size(); ++i) f.by_name_[f.tensors_[i].name] = i;
  json j = json::parse(header, nullptr, false);
  if (auto m = j.find("__metadata__"); m != j.end() && m->is_object()) {
    for (auto it = m->begin(); it != m->end(); ++it) {
      if (it->is_string()) f.metadata_[it.key()] = it->get<std::string>();
    }
  }
  return f;
}

const SafetensorsTensor* SafetensorsFile::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace llemma
