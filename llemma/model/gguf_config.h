// The model Config of a GGUF file of the llama architecture (llama.*
// metadata, the vocabulary size from token_embd.weight, special ids from the
// tokenizer metadata), validated like a config.json.
#pragma once

#include "llemma/core/status.h"
#include "llemma/gguf/gguf.h"
#include "llemma/model/config.h"

namespace llemma {

StatusOr<Config> ConfigFromGguf(const gguf::GgufFile& f);

}  // namespace llemma
