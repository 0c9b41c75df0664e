// llemma tokenize: show how a text splits into tokens (ids and pieces).
#include <fmt/core.h>

#include "cli/commands.h"
#include "cli/common.h"

namespace llemma::cli {

namespace {
struct TokenizeArgs {
  std::string model, tokenizer, prompt, prompt_file;
  bool no_bos = false, ids_only = false;
};

// Pieces are printed with control characters escaped so each stays on one line.
std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char ch : s) {
    if (ch == '\n') out += "\\n";
    else if (ch == '\t') out += "\\t";
    else if (ch == '\r') out += "\\r";
    else if (ch == '\'') out += "\\'";
    else if (ch < 0x20) out += fmt::format("\\x{:02x}", ch);
    else out += static_cast<char>(ch);
  }
  return out;
}

int RunTokenize(const TokenizeArgs& a) {
  ModelOptions mo;
  mo.model = a.model;
  mo.tokenizer = a.tokenizer;
  auto tok = LoadTokenizerOnly(mo);
  if (!tok.ok()) return ReportError(tok.status());
  std::string text = a.prompt;
  if (!a.prompt_file.empty()) {
    auto t = ReadTextArgument(a.prompt_file);
    if (!t.ok()) return ReportError(t.status());
    text = *t;
  }
  const std::vector<int32_t> ids = (*tok)->Encode(text, !a.no_bos);
  if (a.ids_only) {
    std::string line = "[";
    for (size_t i = 0; i < ids.size(); ++i) line += (i ? ", " : "") + std::to_string(ids[i]);
    fmt::print("{}]\n", line);
  } else {
    for (int32_t id : ids) fmt::print("{:6} '{}'\n", id, Printable((*tok)->Piece(id)));
  }
  fmt::print(stderr, "llemma: {} tokens\n", ids.size());
  return 0;
}
}  // namespace

void AddTokenizeCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids and pieces of a text");
  auto* m = cmd->add_option("-m,--model", a->model, "model directory holding tokenizer.model");
  auto* t = cmd->add_option("--tokenizer", a->tokenizer, "SentencePiece tokenizer.model");
  auto* p = cmd->add_option("-p,--prompt", a->prompt, "text to tokenize");
  auto* pf = cmd->add_option("-f,--prompt-file", a->prompt_file, "read the text from a file (- = stdin)");
  p->excludes(pf);
  cmd->add_flag("--no-bos", a->no_bos, "do not put <s> first");
  cmd->add_flag("--ids", a->ids_only, "print only the list of ids");
  cmd->callback([a, exit_code, m, t, p, pf] {
    if (m->count() == 0 && t->count() == 0) {
      *exit_code = ReportError(InvalidArgumentError("give --model DIR or --tokenizer FILE"));
    } else if (p->count() == 0 && pf->count() == 0) {
      *exit_code = ReportError(InvalidArgumentError("give the text with --prompt or --prompt-file"));
    } else {
      *exit_code = RunTokenize(*a);
    }
  });
}

}  // namespace llemma::cli
