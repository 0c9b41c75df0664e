#include "llemma/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

namespace llemma {
namespace {

const std::string kDir = std::string(LLEMMA_TESTDATA_DIR) + "/tokenizer/";

std::unique_ptr<Tokenizer> LoadOrDie(const std::string& name) {
  auto t = Tokenizer::Load(kDir + name);
  LLEMMA_CHECK(t.ok()) << t.status().ToString();
  return std::move(t).value();
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (int k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

// Encodings and decodings recorded from the SentencePiece Python bindings
// (scripts/make_tokenizer_expectations.py).
class ReferenceTokenizerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceTokenizerTest, EncodeAndDecodeMatchSentencePiecePython) {
  const std::string name = GetParam();
  if (!std::filesystem::exists(kDir + name + ".model")) GTEST_SKIP() << name << ".model not present";
  auto tok = LoadOrDie(name + ".model");
  std::ifstream in(kDir + "expected_" + name + ".json");
  const nlohmann::json e = nlohmann::json::parse(in);
  EXPECT_EQ(tok->vocab_size(), e["vocab_size"].get<int>());
  EXPECT_EQ(tok->bos_id(), e["bos"].get<int>());
  EXPECT_EQ(tok->eos_id(), e["eos"].get<int>());
  for (const auto& c : e["encode"]) {
    const std::string text = c["text"];
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok->Encode(text, false), ids) << text;
    std::vector<int32_t> with_bos = {tok->bos_id()};
    with_bos.insert(with_bos.end(), ids.begin(), ids.end());
    EXPECT_EQ(tok->Encode(text, true), with_bos) << text;
  }
  for (const auto& c : e["decode"]) {
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok->Decode(ids), c["text"].get<std::string>()) << c["ids"].dump();
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ReferenceTokenizerTest,
                         ::testing::Values("tiny", "llama2-tokenizer"),
                         [](const auto& info) { return info.param == "tiny" ? std::string("tiny") : std::string("llama2"); });

TEST(Tokenizer, RoundTripsTextThroughByteFallback) {
  auto tok = LoadOrDie("tiny.model");
  for (const std::string text : {"x = 42", "naïve café", "漢字と😀", "\\frac{a}{b}\n\n  indented",
                                 "mixed ∑ 🧮 ascii"}) {
    EXPECT_EQ(tok->Decode(tok->Encode(text, true)), text) << text;
  }
}

TEST(Tokenizer, KnowsCodeLlamaStyleUserDefinedPieces) {
  auto tok = LoadOrDie("tiny.model");
  EXPECT_EQ(tok->PieceToId("▁<PRE>"), 3);
  EXPECT_EQ(tok->PieceToId("▁<EOT>"), 6);
  EXPECT_EQ(tok->PieceToId("no such piece"), tok->unk_id());
  const std::vector<int32_t> ids = tok->Encode("▁<SUF>", false);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 5), ids.end());
  EXPECT_TRUE(tok->IsControl(tok->bos_id()));
  EXPECT_TRUE(tok->IsByte(tok->PieceToId("<0x0A>")));
  EXPECT_EQ(tok->ByteValue(tok->PieceToId("<0x0A>")), 0x0A);
}

TEST(Tokenizer, LlamaEncodesKnownIds) {
  if (!std::filesystem::exists(kDir + "llama2-tokenizer.model")) GTEST_SKIP();
  auto tok = LoadOrDie("llama2-tokenizer.model");
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->Encode("Hello world", true), (std::vector<int32_t>{1, 15043, 3186}));
  EXPECT_EQ(tok->Piece(13), "<0x0A>");
}

// Concatenating the stream equals Decode (at_start) for random id sequences
// rich in byte pieces, and every chunk is valid UTF-8.
TEST(StreamDecoder, StreamEqualsDecodeAndNeverSplitsCharacters) {
  for (const std::string name : {"tiny.model", "llama2-tokenizer.model"}) {
    if (!std::filesystem::exists(kDir + name)) continue;
    auto tok = LoadOrDie(name);
    std::vector<int32_t> bytes;
    for (int32_t id = 0; id < tok->vocab_size(); ++id) if (tok->IsByte(id)) bytes.push_back(id);
    std::mt19937 rng(1);
    for (int trial = 0; trial < 3000; ++trial) {
      std::vector<int32_t> ids(1 + rng() % 10);
      for (auto& id : ids) {
        id = (rng() % 3 == 0) ? static_cast<int32_t>(rng() % tok->vocab_size())
                              : bytes[rng() % bytes.size()];
      }
      for (bool at_start : {true, false}) {
        StreamDecoder dec(*tok, at_start);
        std::string streamed;
        for (int32_t id : ids) {
          const std::string chunk = dec.Push(id);
          ASSERT_TRUE(IsValidUtf8(chunk));
          streamed += chunk;
        }
        const std::string tail = dec.Flush();
        ASSERT_TRUE(IsValidUtf8(tail));
        streamed += tail;
        if (at_start) EXPECT_EQ(streamed, tok->Decode(ids));
      }
    }
  }
}

TEST(StreamDecoder, AssemblesMultiByteCharactersAcrossTokens) {
  auto tok = LoadOrDie("tiny.model");
  // "∑" = E2 88 91, spelled as three byte pieces.
  StreamDecoder dec(*tok, /*at_start=*/false);
  EXPECT_EQ(dec.Push(tok->PieceToId("<0xE2>")), "");
  EXPECT_EQ(dec.Push(tok->PieceToId("<0x88>")), "");
  EXPECT_EQ(dec.Push(tok->PieceToId("<0x91>")), "∑");
  // A continuation keeps the word-boundary space; a text start drops it.
  const int32_t x = tok->PieceToId("▁x");
  ASSERT_NE(x, tok->unk_id());
  EXPECT_EQ(dec.Push(x), " x");
  StreamDecoder start(*tok, /*at_start=*/true);
  EXPECT_EQ(start.Push(tok->bos_id()), "");
  EXPECT_EQ(start.Push(x), "x");
  // An unfinished sequence at the end becomes U+FFFD.
  StreamDecoder cut(*tok, false);
  EXPECT_EQ(cut.Push(tok->PieceToId("<0xE2>")), "");
  EXPECT_EQ(cut.Flush(), "\xEF\xBF\xBD");
  // Ids outside the vocabulary produce nothing.
  EXPECT_EQ(cut.Push(tok->vocab_size() + 5), "");
}

TEST(Tokenizer, BadFilesGiveErrorsNamingThePath) {
  auto missing = Tokenizer::Load("/nonexistent/tokenizer.model");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  const std::string empty = ::testing::TempDir() + "/empty.model";
  std::ofstream(empty).close();
  auto e = Tokenizer::Load(empty);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find(empty), std::string::npos);
  const std::string garbage = ::testing::TempDir() + "/garbage.model";
  std::ofstream(garbage) << "\x0a\xff\xff garbage";
  auto g = Tokenizer::Load(garbage);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("not a valid SentencePiece model"), std::string::npos);
}

}  // namespace
}  // namespace llemma
