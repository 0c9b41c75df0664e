// The LLEMMA paper's reported accuracies, so a report can print them beside
// ours. Source: ../spec §2.1 — the LLEMMA model card (EleutherAI/llemma_7b,
// llemma_34b; greedy numbers match paperswithcode) and the paper's Table 1
// (maj@k: GSM8k maj@100, OCW maj@100, MMLU-STEM maj@16, SAT maj@16, MATH
// maj@256). Code Llama and Llama 2 have greedy numbers only. The 34B maj@k
// row is the paper's, not confirmed on the model card.
//
//   for (const PaperNumber& n : PaperNumbers("gsm8k")) ...   // 5 models
//
// Static data; thread-safe.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace llemma::eval {

struct PaperNumber {
  std::string_view model;      // "LLEMMA 7B", "Code Llama 34B", ...
  std::string_view key;        // "llemma_7b", "code_llama_34b" (JSON/CSV column stem)
  std::optional<double> maj1;  // greedy accuracy, percent
  std::optional<double> majk;  // maj@k accuracy, percent
};

// The models with numbers for a TaskSpec::paper_key ("gsm8k", "math", "ocw",
// "mmlu_stem", "sat"), in the order of the paper's table; empty for others.
std::vector<PaperNumber> PaperNumbers(std::string_view paper_key);

// The models every report lists (the same order, whether or not a task has numbers).
std::vector<PaperNumber> PaperModels();

}  // namespace llemma::eval
