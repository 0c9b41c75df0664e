// Options and helpers shared by the subcommands that load a model. One
// declarative list of options (AddModelOptions) feeds parsing and help.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "llemma/core/status.h"
#include "llemma/model/context.h"
#include "llemma/model/model.h"
#include "llemma/tokenizer/tokenizer.h"

namespace llemma::cli {

struct ModelOptions {
  std::string model;          // checkpoint directory
  std::string tokenizer;      // tokenizer.model (default: <model>/tokenizer.model)
  std::string dtype = "bf16";
  int threads = 0;
  int64_t ctx = 0;            // 0 = what the command needs, capped by the model's maximum
  std::string kv_type = "f16";  // KV cache values: f16 | f32
};

void AddModelOptions(CLI::App* cmd, ModelOptions* o);

struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

// Loads weights and tokenizer, checks they agree, and reports load time and
// memory on stderr.
StatusOr<LoadedModel> LoadModelAndTokenizer(const ModelOptions& o);
// Loads only the tokenizer (from --tokenizer or <model>/tokenizer.model).
StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerOnly(const ModelOptions& o);

// --kv-type: "f16" or "f32".
StatusOr<DType> ParseKvType(const std::string& name);

// Prints "llemma: error: <message>" to stderr and returns exit code 1.
int ReportError(const Status& s);

// Reads a whole text file given on the command line ("-" = stdin).
StatusOr<std::string> ReadTextArgument(const std::string& path);

}  // namespace llemma::cli
