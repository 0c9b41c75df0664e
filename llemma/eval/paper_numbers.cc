#include "llemma/eval/paper_numbers.h"

#include <array>

namespace llemma::eval {

namespace {
struct Row {
  std::string_view task;
  std::string_view model, key;
  std::optional<double> maj1, majk;
};
// Percent. Greedy: model card / paperswithcode. maj@k: model card (7B) and paper (34B).
constexpr std::optional<double> kNone = std::nullopt;
const Row kRows[] = {
    // GSM8k (maj@100)
    {"gsm8k", "Llama 2 7B", "llama2_7b", 11.8, kNone},
    {"gsm8k", "Code Llama 7B", "code_llama_7b", 10.5, kNone},
    {"gsm8k", "LLEMMA 7B", "llemma_7b", 36.4, 54.0},
    {"gsm8k", "Code Llama 34B", "code_llama_34b", 29.6, kNone},
    {"gsm8k", "LLEMMA 34B", "llemma_34b", 51.5, 69.3},
    // OCW (maj@100)
    {"ocw", "Llama 2 7B", "llama2_7b", 3.7, kNone},
    {"ocw", "Code Llama 7B", "code_llama_7b", 4.4, kNone},
    {"ocw", "LLEMMA 7B", "llemma_7b", 7.7, 14.3},
    {"ocw", "Code Llama 34B", "code_llama_34b", 7.0, kNone},
    {"ocw", "LLEMMA 34B", "llemma_34b", 11.8, 18.4},
    // MMLU-STEM (maj@16)
    {"mmlu_stem", "Llama 2 7B", "llama2_7b", 29.9, kNone},
    {"mmlu_stem", "Code Llama 7B", "code_llama_7b", 25.1, kNone},
    {"mmlu_stem", "LLEMMA 7B", "llemma_7b", 37.7, 49.9},
    {"mmlu_stem", "Code Llama 34B", "code_llama_34b", 40.5, kNone},
    {"mmlu_stem", "LLEMMA 34B", "llemma_34b", 49.0, 59.7},
    // SAT (maj@16)
    {"sat", "Llama 2 7B", "llama2_7b", 25.0, kNone},
    {"sat", "Code Llama 7B", "code_llama_7b", 9.4, kNone},
    {"sat", "LLEMMA 7B", "llemma_7b", 53.1, 78.1},
    {"sat", "Code Llama 34B", "code_llama_34b", 40.6, kNone},
    {"sat", "LLEMMA 34B", "llemma_34b", 71.9, 81.3},
    // MATH (maj@256)
    {"math", "Llama 2 7B", "llama2_7b", 3.2, kNone},
    {"math", "Code Llama 7B", "code_llama_7b", 4.5, kNone},
    {"math", "LLEMMA 7B", "llemma_7b", 18.0, 33.5},
    {"math", "Code Llama 34B", "code_llama_34b", 12.2, kNone},
    {"math", "LLEMMA 34B", "llemma_34b", 25.0, 43.1},
};
}  // namespace

std::vector<PaperNumber> PaperNumbers(std::string_view paper_key) {
  std::vector<PaperNumber> out;
  for (const Row& r : kRows) {
    if (r.task == paper_key) out.push_back({r.model, r.key, r.maj1, r.majk});
  }
  return out;
}

std::vector<PaperNumber> PaperModels() {
  std::vector<PaperNumber> out;
  for (const Row& r : kRows) {
    if (r.task == "gsm8k") out.push_back({r.model, r.key, std::nullopt, std::nullopt});
  }
  return out;
}

}  // namespace llemma::eval
