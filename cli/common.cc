#include "cli/common.h"

#include <fmt/core.h>

#include <filesystem>
#include <iostream>
#include <iterator>

#include "llemma/core/mapped_file.h"
#include "llemma/core/timer.h"
#include "llemma/gguf/gguf.h"
#include "llemma/gguf/spm_proto.h"

namespace llemma::cli {

void AddModelOptions(CLI::App* cmd, ModelOptions* o) {
  cmd->add_option("-m,--model", o->model, "Hugging Face checkpoint directory (config.json, "
                                          "*.safetensors, tokenizer.model) or a GGUF file")
      ->required();
  cmd->add_option("--tokenizer", o->tokenizer, "SentencePiece tokenizer.model (default: in --model)");
  cmd->add_option("--dtype", o->dtype,
                  "weights in memory for Hugging Face checkpoints: bf16 | f16 | f32 | q8_0 | q4_0 "
                  "(GGUF files keep their own types)")
      ->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "threads (0 = one per core)")->capture_default_str();
  cmd->add_option("-c,--ctx", o->ctx, "context size in tokens (0 = as needed, up to the model's max)")
      ->capture_default_str();
  cmd->add_option("--kv-type", o->kv_type, "KV cache values: f16 (half the memory and bytes read) | f32 (exact)")
      ->capture_default_str();
}

StatusOr<DType> ParseKvType(const std::string& name) {
  if (name == "f16") return DType::kF16;
  if (name == "f32") return DType::kF32;
  return InvalidArgumentError("--kv-type must be f16 or f32, got '" + name + "'");
}

int ReportError(const Status& s) {
  std::cout.flush();
  std::cerr << "llemma: error: " << s.message() << "\n";
  return 1;
}

StatusOr<std::string> ReadTextArgument(const std::string& path) {
  if (path == "-") {
    std::string s((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return s;
  }
  return ReadFileToString(path);
}

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerOnly(const ModelOptions& o) {
  if (!o.tokenizer.empty()) return Tokenizer::Load(o.tokenizer);
  if (std::filesystem::is_regular_file(o.model)) {
    // A GGUF file carries its vocabulary; rebuild the SentencePiece model from it.
    LLEMMA_ASSIGN_OR_RETURN(gguf::GgufFile f, gguf::GgufFile::Open(o.model));
    LLEMMA_ASSIGN_OR_RETURN(gguf::SpmVocab vocab, gguf::VocabFromGguf(f));
    return Tokenizer::FromSerializedProto(gguf::BuildSpmModel(vocab), o.model);
  }
  return Tokenizer::Load(o.model + "/tokenizer.model");
}

StatusOr<LoadedModel> LoadModelAndTokenizer(const ModelOptions& o) {
  if (o.threads < 0) return InvalidArgumentError("--threads must be >= 0");
  LLEMMA_RETURN_IF_ERROR(ParseKvType(o.kv_type).status());
  LoadOptions lo;
  LLEMMA_ASSIGN_OR_RETURN(lo.dtype, ParseDType(o.dtype));
  if (IsKQuant(lo.dtype)) {
    return InvalidArgumentError("--dtype " + o.dtype + ": k-quants are a file format; write one with `llemma quantize --type " +
                                o.dtype + "` and load that GGUF");
  }
  lo.n_threads = o.threads;
  LoadedModel lm;
  LLEMMA_ASSIGN_OR_RETURN(lm.tokenizer, LoadTokenizerOnly(o));
  LLEMMA_ASSIGN_OR_RETURN(lm.model, Model::Load(o.model, lo));
  const Config& c = lm.model->config();
  if (lm.tokenizer->vocab_size() > c.n_vocab) {
    return InvalidArgumentError(fmt::format(
        "the tokenizer has {} pieces but config.json vocab_size is {}; they belong to different models",
        lm.tokenizer->vocab_size(), c.n_vocab));
  }
  const LoadStats& st = lm.model->load_stats();
  fmt::print(stderr, "llemma: loaded {} ({} layers, {:.2f} B params, {}) in {:.2f} s, {:.0f} MiB weights, peak RSS {:.0f} MiB\n",
             o.model, c.n_layer, c.ParameterCount() / 1e9, DTypeName(lm.model->dtype()),
             st.t_load_us / 1e6, st.bytes_weights / 1048576.0, PeakRssBytes() / 1048576.0);
  return lm;
}

}  // namespace llemma::cli
