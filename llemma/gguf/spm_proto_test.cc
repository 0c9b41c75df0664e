#include "llemma/gguf/spm_proto.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "llemma/core/mapped_file.h"
#include "llemma/tokenizer/tokenizer.h"

namespace llemma::gguf {
namespace {

const std::string kDir = std::string(LLEMMA_TESTDATA_DIR) + "/tokenizer/";

const char* kCorpus[] = {
    "Hello world", "Problem:\nFind $x$ such that $3x + 7 = 22$.\n\nSolution:", "\\boxed{\\frac{1}{2}}",
    "def f(x):\n    return x ** 2\n", "   spaces  and\ttabs", "naïve café 漢字 😀 ∑ᵢ", "▁<PRE> a ▁<SUF>",
    "", "12345678901234567890", "The answer is 1,000.",
};

// tokenizer.model → vocabulary → GGUF metadata → file → vocabulary → rebuilt
// model: tokenizes exactly like the original.
TEST(SpmProto, RebuiltModelFromGgufTokenizesLikeTheOriginal) {
  for (const std::string name : {"tiny.model", "llama2-tokenizer.model"}) {
    if (!std::filesystem::exists(kDir + name)) continue;
    auto bytes = ReadFileToString(kDir + name);
    ASSERT_TRUE(bytes.ok());
    auto vocab = ParseSpmModel(*bytes, name);
    ASSERT_TRUE(vocab.ok()) << vocab.status().ToString();
    auto original = Tokenizer::Load(kDir + name);
    ASSERT_TRUE(original.ok());
    ASSERT_EQ(static_cast<int32_t>(vocab->pieces.size()), (*original)->vocab_size());
    EXPECT_EQ(vocab->bos_id, (*original)->bos_id());
    EXPECT_TRUE(vocab->byte_fallback);

    GgufWriter w;
    VocabToGguf(*vocab, &w);
    const std::string path = ::testing::TempDir() + "/tok.gguf";
    ASSERT_TRUE(w.Open(path).ok());
    ASSERT_TRUE(w.Close().ok());
    auto file = GgufFile::Open(path);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    auto back = VocabFromGguf(*file);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->pieces, vocab->pieces);
    EXPECT_EQ(back->types, vocab->types);
    auto rebuilt = Tokenizer::FromSerializedProto(BuildSpmModel(*back), "rebuilt");
    ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
    for (const char* text : kCorpus) {
      EXPECT_EQ((*rebuilt)->Encode(text, true), (*original)->Encode(text, true)) << name << ": " << text;
    }
    for (int32_t id = 0; id < (*original)->vocab_size(); id += 7) {
      ASSERT_EQ((*rebuilt)->Piece(id), (*original)->Piece(id));
      ASSERT_EQ((*rebuilt)->IsByte(id), (*original)->IsByte(id));
      ASSERT_EQ((*rebuilt)->IsControl(id), (*original)->IsControl(id));
    }
  }
}

TEST(SpmProto, GarbageIsRejected) {
  EXPECT_FALSE(ParseSpmModel("\xff\xff\xff", "x").ok());
  EXPECT_FALSE(ParseSpmModel("", "x").ok());
}

}  // namespace
}  // namespace llemma::gguf
