#include "llemma/gguf/spm_proto.h"

#include <cstring>

namespace llemma::gguf {

namespace {

// ---- protobuf wire format ------------------------------------------------------

class ProtoReader {
 public:
  explicit ProtoReader(std::string_view b) : b_(b) {}
  bool done() const { return pos_ >= b_.size(); }
  bool ReadVarint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= b_.size()) return false;
      const uint8_t byte = static_cast<uint8_t>(b_[pos_++]);
      *v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }
  // Reads the next field; for length-delimited fields `bytes` holds the payload.
  bool Next(uint32_t* field, uint32_t* wire, uint64_t* varint, std::string_view* bytes, uint32_t* fixed32) {
    uint64_t key;
    if (!ReadVarint(&key)) return false;
    *field = static_cast<uint32_t>(key >> 3);
    *wire = static_cast<uint32_t>(key & 7);
    switch (*wire) {
      case 0: return ReadVarint(varint);
      case 1:
        if (b_.size() - pos_ < 8) return false;
        pos_ += 8;
        return true;
      case 2: {
        uint64_t len;
        if (!ReadVarint(&len) || len > b_.size() - pos_) return false;
        *bytes = b_.substr(pos_, len);
        pos_ += len;
        return true;
      }
      case 5:
        if (b_.size() - pos_ < 4) return false;
        std::memcpy(fixed32, b_.data() + pos_, 4);
        pos_ += 4;
        return true;
      default: return false;
    }
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void PutTag(std::string* out, uint32_t field, uint32_t wire) { PutVarint(out, (field << 3) | wire); }
void PutVarintField(std::string* out, uint32_t field, int64_t v) {
  PutTag(out, field, 0);
  PutVarint(out, static_cast<uint64_t>(v));
}
void PutBytesField(std::string* out, uint32_t field, std::string_view b) {
  PutTag(out, field, 2);
  PutVarint(out, b.size());
  out->append(b);
}
void PutFloatField(std::string* out, uint32_t field, float f) {
  PutTag(out, field, 5);
  char b[4];
  std::memcpy(b, &f, 4);
  out->append(b, 4);
}

// Field numbers of sentencepiece_model.proto.
enum : uint32_t {
  kModelPieces = 1, kModelTrainerSpec = 2, kModelNormalizerSpec = 3,
  kPiecePiece = 1, kPieceScore = 2, kPieceType = 3,
  kTrainerModelType = 3, kTrainerVocabSize = 4, kTrainerByteFallback = 35, kTrainerUnkId = 40,
  kTrainerBosId = 41, kTrainerEosId = 42, kTrainerPadId = 43,
  kNormName = 1, kNormAddDummyPrefix = 3, kNormRemoveExtraWhitespaces = 4, kNormEscapeWhitespaces = 5,
};
constexpr int kModelTypeBpe = 2;

}  // namespace

StatusOr<SpmVocab> ParseSpmModel(std::string_view serialized, const std::string& source) {
  SpmVocab v;
  v.byte_fallback = false;
  ProtoReader r(serialized);
  uint32_t field = 0, wire = 0, f32 = 0;
  uint64_t varint = 0;
  std::string_view bytes;
  auto corrupt = [&] { return DataLossError(source + ": not a valid SentencePiece model"); };
  while (!r.done()) {
    if (!r.Next(&field, &wire, &varint, &bytes, &f32)) return corrupt();
    if (field == kModelPieces && wire == 2) {
      ProtoReader p(bytes);
      std::string piece;
      float score = 0;
      int32_t type = kNormal;
      while (!p.done()) {
        if (!p.Next(&field, &wire, &varint, &bytes, &f32)) return corrupt();
        if (field == kPiecePiece && wire == 2) piece = std::string(bytes);
        if (field == kPieceScore && wire == 5) std::memcpy(&score, &f32, 4);
        if (field == kPieceType && wire == 0) type = static_cast<int32_t>(varint);
      }
      v.pieces.push_back(std::move(piece));
      v.scores.push_back(score);
      v.types.push_back(type);
    } else if (field == kModelTrainerSpec && wire == 2) {
      ProtoReader t(bytes);
      while (!t.done()) {
        if (!t.Next(&field, &wire, &varint, &bytes, &f32)) return corrupt();
        if (wire != 0) continue;
        if (field == kTrainerByteFallback) v.byte_fallback = varint != 0;
        if (field == kTrainerUnkId) v.unk_id = static_cast<int32_t>(varint);
        if (field == kTrainerBosId) v.bos_id = static_cast<int32_t>(varint);
        if (field == kTrainerEosId) v.eos_id = static_cast<int32_t>(varint);
        if (field == kTrainerPadId) v.pad_id = static_cast<int32_t>(varint);
        if (field == kTrainerModelType && varint != kModelTypeBpe) {
          return UnimplementedError(source + ": only BPE SentencePiece models (LLaMA's) are supported");
        }
      }
    } else if (field == kModelNormalizerSpec && wire == 2) {
      ProtoReader n(bytes);
      while (!n.done()) {
        if (!n.Next(&field, &wire, &varint, &bytes, &f32)) return corrupt();
        if (field == kNormAddDummyPrefix && wire == 0) v.add_dummy_prefix = varint != 0;
      }
    }
  }
  if (v.pieces.empty()) return corrupt();
  return v;
}

std::string BuildSpmModel(const SpmVocab& v) {
  std::string out;
  for (size_t i = 0; i < v.pieces.size(); ++i) {
    std::string p;
    PutBytesField(&p, kPiecePiece, v.pieces[i]);
    PutFloatField(&p, kPieceScore, v.scores[i]);
    if (v.types[i] != kNormal) PutVarintField(&p, kPieceType, v.types[i]);
    PutBytesField(&out, kModelPieces, p);
  }
  std::string t;
  PutVarintField(&t, kTrainerModelType, kModelTypeBpe);
  PutVarintField(&t, kTrainerVocabSize, static_cast<int64_t>(v.pieces.size()));
  PutVarintField(&t, kTrainerByteFallback, v.byte_fallback ? 1 : 0);
  PutVarintField(&t, kTrainerUnkId, v.unk_id);
  PutVarintField(&t, kTrainerBosId, v.bos_id);
  PutVarintField(&t, kTrainerEosId, v.eos_id);
  PutVarintField(&t, kTrainerPadId, v.pad_id);
  PutBytesField(&out, kModelTrainerSpec, t);
  std::string n;
  PutBytesField(&n, kNormName, "identity");
  PutVarintField(&n, kNormAddDummyPrefix, v.add_dummy_prefix ? 1 : 0);
  PutVarintField(&n, kNormRemoveExtraWhitespaces, 0);
  PutVarintField(&n, kNormEscapeWhitespaces, 1);
  PutBytesField(&out, kModelNormalizerSpec, n);
  return out;
}

StatusOr<SpmVocab> VocabFromGguf(const GgufFile& f) {
  LLEMMA_ASSIGN_OR_RETURN(std::string model, f.GetString("tokenizer.ggml.model"));
  if (model != "llama") {
    return UnimplementedError(f.path() + ": tokenizer.ggml.model is '" + model +
                              "'; only SentencePiece ('llama') tokenizers are supported");
  }
  LLEMMA_ASSIGN_OR_RETURN(const Value* tokens, f.GetArray("tokenizer.ggml.tokens"));
  LLEMMA_ASSIGN_OR_RETURN(const Value* scores, f.GetArray("tokenizer.ggml.scores"));
  LLEMMA_ASSIGN_OR_RETURN(const Value* types, f.GetArray("tokenizer.ggml.token_type"));
  const size_t n = tokens->array.size();
  if (tokens->elem != ValueType::kString || scores->array.size() != n || types->array.size() != n) {
    return DataLossError(f.path() + ": tokenizer.ggml.tokens/scores/token_type disagree in length or type");
  }
  SpmVocab v;
  for (size_t i = 0; i < n; ++i) {
    v.pieces.push_back(tokens->array[i].s);
    v.scores.push_back(static_cast<float>(scores->array[i].f));
    v.types.push_back(static_cast<int32_t>(types->array[i].i));
  }
  auto id = [&](const char* key, int32_t fallback) -> int32_t {
    auto r = f.GetUInt(key);
    return r.ok() ? static_cast<int32_t>(*r) : fallback;
  };
  v.unk_id = id("tokenizer.ggml.unknown_token_id", 0);
  v.bos_id = id("tokenizer.ggml.bos_token_id", 1);
  v.eos_id = id("tokenizer.ggml.eos_token_id", 2);
  v.pad_id = id("tokenizer.ggml.padding_token_id", -1);
  if (const Value* p = f.Find("tokenizer.ggml.add_space_prefix"); p && p->type == ValueType::kBool) {
    v.add_dummy_prefix = p->b;
  }
  return v;
}

void VocabToGguf(const SpmVocab& v, GgufWriter* w) {
  std::vector<Value> tokens, scores, types;
  for (size_t i = 0; i < v.pieces.size(); ++i) {
    tokens.push_back(Value::String(v.pieces[i]));
    scores.push_back(Value::F32(v.scores[i]));
    types.push_back(Value::I32(v.types[i]));
  }
  w->SetValue("tokenizer.ggml.model", Value::String("llama"));
  w->SetValue("tokenizer.ggml.tokens", Value::Array(ValueType::kString, std::move(tokens)));
  w->SetValue("tokenizer.ggml.scores", Value::Array(ValueType::kF32, std::move(scores)));
  w->SetValue("tokenizer.ggml.token_type", Value::Array(ValueType::kI32, std::move(types)));
  w->SetValue("tokenizer.ggml.unknown_token_id", Value::U32(static_cast<uint32_t>(v.unk_id)));
  w->SetValue("tokenizer.ggml.bos_token_id", Value::U32(static_cast<uint32_t>(v.bos_id)));
  w->SetValue("tokenizer.ggml.eos_token_id", Value::U32(static_cast<uint32_t>(v.eos_id)));
  if (v.pad_id >= 0) w->SetValue("tokenizer.ggml.padding_token_id", Value::U32(static_cast<uint32_t>(v.pad_id)));
  w->SetValue("tokenizer.ggml.add_bos_token", Value::Bool(true));
  w->SetValue("tokenizer.ggml.add_eos_token", Value::Bool(false));
  w->SetValue("tokenizer.ggml.add_space_prefix", Value::Bool(v.add_dummy_prefix));
}

}  // namespace llemma::gguf
