// Tokenizer: the LLaMA SentencePiece tokenizer (tokenizer.model), through the
// SentencePiece library itself so ids match the reference exactly, including
// Code Llama's extra pieces and byte fallback. Immutable after Load;
// Encode/Decode are safe to call from many threads.
//
//   StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Load(dir + "/tokenizer.model");
//   std::vector<int32_t> ids = (*tok)->Encode("Problem: 1+1", /*add_bos=*/true);
//   std::string text = (*tok)->Decode(ids);
//
// StreamDecoder turns generated ids into text incrementally without ever
// emitting half of a UTF-8 character:
//
//   StreamDecoder dec(*tok, /*at_start=*/false);
//   for (int32_t id : generated) std::cout << dec.Push(id);
//   std::cout << dec.Flush();
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llemma/core/status.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace llemma {

class Tokenizer {
 public:
  static StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& model_path);
  // From the bytes of a serialized SentencePiece ModelProto (e.g. built from GGUF metadata).
  static StatusOr<std::unique_ptr<Tokenizer>> FromSerializedProto(std::string_view bytes,
                                                                  const std::string& source);
  ~Tokenizer();

  // Text to ids; `add_bos` puts <s> first (LLaMA convention; no </s> is added).
  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const;
  // Ids to text, like Hugging Face decode(skip_special_tokens=True): control
  // tokens vanish, the leading space of the first piece is dropped, byte pieces
  // are assembled into UTF-8. Ids outside the vocabulary are skipped.
  std::string Decode(std::span<const int32_t> ids) const;

  int32_t vocab_size() const { return vocab_size_; }
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t unk_id() const { return unk_id_; }
  // The piece as stored ("▁the", "<0x0A>", "<s>"); empty for ids out of range.
  std::string_view Piece(int32_t id) const;
  bool IsByte(int32_t id) const;
  bool IsControl(int32_t id) const;
  bool IsUnknown(int32_t id) const;
  // unk_id() when the piece does not exist.
  int32_t PieceToId(std::string_view piece) const;

  // The raw byte of a byte-fallback piece "<0xAB>" (IsByte(id) must hold).
  uint8_t ByteValue(int32_t id) const { return byte_value_[id]; }

 private:
  friend class StreamDecoder;
  Tokenizer();
  Status Init(const std::string& source);

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  int32_t vocab_size_ = 0, bos_id_ = -1, eos_id_ = -1, unk_id_ = 0;
  std::vector<uint8_t> kind_;        // per id: 0 normal, 1 byte, 2 control, 3 unknown
  std::vector<uint8_t> byte_value_;  // per id, for byte pieces
  std::vector<std::string> text_;    // per id: surface text with ▁ replaced by ' '
};

// Incremental detokenizer for one stream; not thread-safe.
class StreamDecoder {
 public:
  // `at_start`: the stream begins a text, so the leading space of the first
  // piece is dropped as Decode does. False for a continuation of a prompt,
  // where "▁The" really means " The".
  StreamDecoder(const Tokenizer& tok, bool at_start);

  // Returns the text that became complete with this token (possibly empty).
  std::string Push(int32_t id);
  // Returns what is left; an unfinished UTF-8 sequence becomes U+FFFD.
  std::string Flush();

 private:
  std::string TakeCompleteBytes(bool final);

  const Tokenizer& tok_;
  bool strip_leading_space_;
  std::string pending_;  // bytes from byte pieces not yet forming a complete character
};

}  // namespace llemma
