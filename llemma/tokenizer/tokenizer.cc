#include "llemma/tokenizer/tokenizer.h"

#include <sys/stat.h>

#include <sentencepiece_processor.h>

#include "llemma/core/mapped_file.h"

namespace llemma {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";    // U+2581 "▁"
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kUnknownSurface = " \xE2\x81\x87 ";  // " ⁇ ", SentencePiece's default

enum Kind : uint8_t { kNormal = 0, kByte = 1, kControl = 2, kUnknown = 3 };

std::string ReplaceSpaces(std::string_view piece) {
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    if (piece.substr(i, kSpace.size()) == kSpace) {
      out += ' ';
      i += kSpace.size();
    } else {
      out += piece[i++];
    }
  }
  return out;
}

// Length of the valid UTF-8 sequence starting at s[i], 0 if invalid, or -1 if
// it is a valid prefix cut off by the end of the string.
int Utf8SequenceLength(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  int len;
  unsigned min_cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) len = 2, min_cp = 0x80;
  else if ((c & 0xF0) == 0xE0) len = 3, min_cp = 0x800;
  else if ((c & 0xF8) == 0xF0) len = 4, min_cp = 0x10000;
  else return 0;
  unsigned cp = c & (0x7F >> len);
  for (int k = 1; k < len; ++k) {
    if (i + k >= s.size()) return -1;
    const unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
    // Reject prefixes that can never become valid (overlong / surrogate / > U+10FFFF).
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

Tokenizer::Tokenizer() : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& model_path) {
  struct stat st;
  if (::stat(model_path.c_str(), &st) != 0) {
    return NotFoundError(model_path + ": no such tokenizer file (the SentencePiece tokenizer.model)");
  }
  // Read the bytes ourselves so that errors name the file and no exception or
  // log line escapes from the library.
  LLEMMA_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(model_path));
  return FromSerializedProto(bytes, model_path);
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromSerializedProto(std::string_view bytes,
                                                                    const std::string& source) {
  if (bytes.empty()) return DataLossError(source + ": tokenizer file is empty");
  auto tok = std::unique_ptr<Tokenizer>(new Tokenizer());
  const auto status = tok->sp_->LoadFromSerializedProto(bytes);
  if (!status.ok()) {
    return DataLossError(source + ": not a valid SentencePiece model (" + status.ToString() +
                         "); expected the tokenizer.model shipped with the checkpoint");
  }
  LLEMMA_RETURN_IF_ERROR(tok->Init(source));
  return tok;
}

Status Tokenizer::Init(const std::string& source) {
  vocab_size_ = sp_->GetPieceSize();
  if (vocab_size_ <= 0) return DataLossError(source + ": the tokenizer has no pieces");
  bos_id_ = sp_->bos_id();
  eos_id_ = sp_->eos_id();
  unk_id_ = sp_->unk_id();
  kind_.assign(vocab_size_, kNormal);
  byte_value_.assign(vocab_size_, 0);
  text_.assign(vocab_size_, "");
  for (int32_t id = 0; id < vocab_size_; ++id) {
    const std::string& piece = sp_->IdToPiece(id);
    if (sp_->IsByte(id)) {
      kind_[id] = kByte;
      unsigned v = 0;
      if (piece.size() == 6 && std::sscanf(piece.c_str(), "<0x%02X>", &v) == 1) {
        byte_value_[id] = static_cast<uint8_t>(v);
      } else {
        return DataLossError(source + ": byte piece '" + piece + "' is not of the form <0xAB>");
      }
    } else if (sp_->IsControl(id)) {
      kind_[id] = kControl;
    } else if (sp_->IsUnknown(id)) {
      kind_[id] = kUnknown;
      text_[id] = std::string(kUnknownSurface);
    } else {
      text_[id] = ReplaceSpaces(piece);
    }
  }
  return Status::Ok();
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  sp_->Encode(text, &ids).IgnoreError();  // cannot fail once a model is loaded
  std::vector<int32_t> out;
  out.reserve(ids.size() + 1);
  if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids) const {
  StreamDecoder dec(*this, /*at_start=*/true);
  std::string out;
  for (int32_t id : ids) out += dec.Push(id);
  out += dec.Flush();
  return out;
}

std::string_view Tokenizer::Piece(int32_t id) const {
  if (id < 0 || id >= vocab_size_) return {};
  return sp_->IdToPiece(id);
}
bool Tokenizer::IsByte(int32_t id) const { return id >= 0 && id < vocab_size_ && kind_[id] == kByte; }
bool Tokenizer::IsControl(int32_t id) const {
  return id >= 0 && id < vocab_size_ && kind_[id] == kControl;
}
bool Tokenizer::IsUnknown(int32_t id) const {
  return id >= 0 && id < vocab_size_ && kind_[id] == kUnknown;
}
int32_t Tokenizer::PieceToId(std::string_view piece) const { return sp_->PieceToId(piece); }

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool at_start)
    : tok_(tok), strip_leading_space_(at_start) {}

// Moves complete characters out of pending_; invalid bytes become U+FFFD.
// With `final`, an unfinished trailing sequence is replaced too.
std::string StreamDecoder::TakeCompleteBytes(bool final) {
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    const int len = Utf8SequenceLength(pending_, i);
    if (len > 0) {
      out.append(pending_, i, len);
      i += len;
    } else if (len == 0) {
      out += kReplacement;
      i += 1;
    } else if (final) {  // cut-off sequence at the end: one replacement per byte
      out += kReplacement;
      i += 1;
    } else {
      break;
    }
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamDecoder::Push(int32_t id) {
  if (id < 0 || id >= tok_.vocab_size() || tok_.IsControl(id)) return {};
  std::string out;
  if (tok_.IsByte(id)) {
    pending_ += static_cast<char>(tok_.ByteValue(id));
    out = TakeCompleteBytes(/*final=*/false);
    if (!out.empty()) strip_leading_space_ = false;
    return out;
  }
  out = TakeCompleteBytes(/*final=*/true);
  std::string_view text = tok_.text_[id];
  // Like SentencePiece: the first piece of a text loses the space that stands
  // for the word boundary (the dummy prefix).
  if (strip_leading_space_ && out.empty() && !tok_.IsUnknown(id) && !text.empty() && text[0] == ' ') {
    text.remove_prefix(1);
  }
  out += text;
  if (!out.empty()) strip_leading_space_ = false;
  return out;
}

std::string StreamDecoder::Flush() {
  std::string out = TakeCompleteBytes(/*final=*/true);
  if (!out.empty()) strip_leading_space_ = false;
  return out;
}

}  // namespace llemma
