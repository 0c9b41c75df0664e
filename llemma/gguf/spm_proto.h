// The bridge between SentencePiece tokenizer.model files and GGUF tokenizer
// metadata (tokenizer.ggml.tokens / scores / token_type and special ids). A
// GGUF file carries only the vocabulary; BuildSpmModel turns it back into a
// serialized SentencePiece ModelProto with LLaMA's settings (BPE, byte
// fallback, identity normalization, dummy prefix) so the SentencePiece library
// tokenizes exactly as with the original tokenizer.model. The protobuf wire
// format is read and written here directly. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "llemma/core/status.h"
#include "llemma/gguf/gguf.h"

namespace llemma::gguf {

// SentencePiece piece types; GGUF's tokenizer.ggml.token_type uses the same numbers.
enum SpmPieceType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct SpmVocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  bool add_dummy_prefix = true;
  bool byte_fallback = true;
};

// Reads the pieces and special ids of a serialized ModelProto (tokenizer.model).
StatusOr<SpmVocab> ParseSpmModel(std::string_view serialized, const std::string& source);
// Writes a serialized ModelProto for a LLaMA-style BPE tokenizer with this vocabulary.
std::string BuildSpmModel(const SpmVocab& vocab);

// From / to the tokenizer.ggml.* metadata of a GGUF file (tokenizer.ggml.model = "llama").
StatusOr<SpmVocab> VocabFromGguf(const GgufFile& file);
void VocabToGguf(const SpmVocab& vocab, GgufWriter* writer);

}  // namespace llemma::gguf
