#include "llemma/model/context.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#include "llemma/backend/cpu/ops.h"
#include "llemma/backend/cpu/quants.h"

namespace llemma {

Context::Context(const Model& model, const ContextOptions& opts)
    : model_(model),
      n_ctx_(opts.n_ctx > 0 ? opts.n_ctx : model.config().n_ctx_train),
      n_batch_(std::max<int64_t>({1, opts.n_batch, static_cast<int64_t>(opts.n_seq)})),
      pool_(opts.n_threads),
      n_seq_(std::max(1, opts.n_seq)),
      kv_type_(opts.kv_type),
      kv_bytes_(cpu::KvBytes(opts.kv_type)),  // Create checked the type
      seq_past_(n_seq_, 0),
      prefix_len_(n_seq_, 0),
      prefix_src_(n_seq_, -1) {}

uint8_t* Context::KCache(int64_t layer, int seq) {
  const int64_t kv_dim = model_.config().n_head_kv * model_.config().head_dim;
  return KvAt(k_cache_.as<uint8_t>(), (layer * n_seq_ + seq) * n_ctx_ * kv_dim);
}
uint8_t* Context::VCache(int64_t layer, int seq) {
  const int64_t kv_dim = model_.config().n_head_kv * model_.config().head_dim;
  return KvAt(v_cache_.as<uint8_t>(), (layer * n_seq_ + seq) * n_ctx_ * kv_dim);
}

void Context::StoreKv(int64_t layer, int seq, int64_t pos, int64_t t0, int64_t n_tokens) {
  const Config& c = model_.config();
  const int64_t hd = c.head_dim;
  uint8_t* kc = KCache(layer, seq);
  uint8_t* vc = VCache(layer, seq);
  const float* k = k_.as<float>();
  const float* v = v_.as<float>();
  for (int64_t t = t0; t < t0 + n_tokens; ++t) {
    for (int64_t h = 0; h < c.n_head_kv; ++h) {
      const int64_t dst = (h * n_ctx_ + pos + t - t0) * hd;
      cpu::StoreKv(kv_type_, k + (t * c.n_head_kv + h) * hd, KvAt(kc, dst), hd);
      cpu::StoreKv(kv_type_, v + (t * c.n_head_kv + h) * hd, KvAt(vc, dst), hd);
    }
  }
}

StatusOr<std::unique_ptr<Context>> Context::Create(const Model& model, const ContextOptions& opts) {
  if (opts.n_ctx < 0) return InvalidArgumentError("context size must be positive");
  if (opts.n_seq < 1) return InvalidArgumentError("the number of sequences must be at least 1");
  if (opts.kv_type != DType::kF16 && opts.kv_type != DType::kF32) {
    return InvalidArgumentError(std::string("KV cache type must be f16 or f32, not ") + DTypeName(opts.kv_type));
  }
  auto ctx = std::unique_ptr<Context>(new Context(model, opts));
  const Config& c = model.config();
  const int64_t kv_dim = c.n_head_kv * c.head_dim, q_dim = c.n_head * c.head_dim;
  const int64_t B = ctx->n_batch_;
  const size_t cache_bytes = static_cast<size_t>(c.n_layer * ctx->n_seq_ * ctx->n_ctx_ * kv_dim) * ctx->kv_bytes_;
  try {
    ctx->k_cache_.Resize(cache_bytes, /*huge_pages=*/false);
    ctx->v_cache_.Resize(cache_bytes, /*huge_pages=*/false);
    ctx->x_.Resize(B * c.n_embd * sizeof(float));
    ctx->xb_.Resize(B * std::max(c.n_embd, q_dim) * sizeof(float));
    ctx->xb2_.Resize(B * c.n_embd * sizeof(float));
    ctx->q_.Resize(B * q_dim * sizeof(float));
    ctx->k_.Resize(B * kv_dim * sizeof(float));
    ctx->v_.Resize(B * kv_dim * sizeof(float));
    ctx->att_.Resize(B * q_dim * sizeof(float));
    ctx->hb_.Resize(B * c.n_ff * sizeof(float));
    ctx->hb2_.Resize(B * c.n_ff * sizeof(float));
    // RoPE tables in double precision: angle = (pos / scale) · θ^(-2i/d).
    const int64_t half = c.head_dim / 2;
    ctx->rope_cos_.resize(ctx->n_ctx_ * half);
    ctx->rope_sin_.resize(ctx->n_ctx_ * half);
    for (int64_t i = 0; i < half; ++i) {
      const double inv_freq = std::pow(c.rope_theta, -2.0 * static_cast<double>(i) / c.head_dim);
      for (int64_t p = 0; p < ctx->n_ctx_; ++p) {
        const double angle = static_cast<double>(p) / c.rope_scale * inv_freq;
        ctx->rope_cos_[p * half + i] = static_cast<float>(std::cos(angle));
        ctx->rope_sin_[p * half + i] = static_cast<float>(std::sin(angle));
      }
    }
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError(
        "out of memory allocating a KV cache for " + std::to_string(ctx->n_ctx_) + " tokens (" +
        std::to_string(2 * cache_bytes >> 20) + " MiB); lower the context size (--ctx)");
  }
  return ctx;
}

void Context::Rewind(int64_t n_past) {
  LLEMMA_CHECK(n_past >= 0 && n_past <= seq_past_[0] && (n_past == 0 || prefix_len_[0] == 0));
  std::fill(seq_past_.begin(), seq_past_.end(), 0);
  std::fill(prefix_len_.begin(), prefix_len_.end(), 0);
  std::fill(prefix_src_.begin(), prefix_src_.end(), -1);
  seq_past_[0] = n_past;
}

Status Context::Clear(int seq) {
  if (seq < 0 || seq >= n_seq_) {
    return InvalidArgumentError("Clear: sequence " + std::to_string(seq) + " is outside [0, " +
                                std::to_string(n_seq_) + ")");
  }
  for (int t = 0; t < n_seq_; ++t) {
    if (t != seq && prefix_src_[t] == seq && seq_past_[t] > 0) {
      return FailedPreconditionError("Clear: sequence " + std::to_string(t) +
                                     " reads its prefix from sequence " + std::to_string(seq) +
                                     "; clear it first");
    }
  }
  seq_past_[seq] = 0;
  prefix_len_[seq] = 0;
  prefix_src_[seq] = -1;
  return Status::Ok();
}

Status Context::SavePrefix(int seq, int64_t n) {
  if (seq < 0 || seq >= n_seq_) {
    return InvalidArgumentError("SavePrefix: sequence " + std::to_string(seq) + " is outside [0, " +
                                std::to_string(n_seq_) + ")");
  }
  if (prefix_len_[seq] > 0) {
    return FailedPreconditionError("SavePrefix: sequence " + std::to_string(seq) +
                                   " was forked; save from the sequence that holds the prompt");
  }
  if (n < 1 || n > seq_past_[seq]) {
    return InvalidArgumentError("SavePrefix: " + std::to_string(n) + " positions asked, sequence " +
                                std::to_string(seq) + " holds " + std::to_string(seq_past_[seq]));
  }
  const Config& c = model_.config();
  const int64_t hd = c.head_dim;
  const size_t bytes = static_cast<size_t>(c.n_layer * c.n_head_kv * n * hd) * kv_bytes_;
  saved_n_ = 0;
  try {
    saved_k_.Resize(bytes);
    saved_v_.Resize(bytes);
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError("out of memory saving a prefix of " + std::to_string(n) +
                                  " tokens (" + std::to_string(2 * bytes >> 20) + " MiB)");
  }
  for (int64_t l = 0; l < c.n_layer; ++l) {
    for (int64_t h = 0; h < c.n_head_kv; ++h) {
      const size_t from = static_cast<size_t>(h * n_ctx_ * hd);
      const size_t to = static_cast<size_t>((l * c.n_head_kv + h) * n * hd);
      std::memcpy(KvAt(saved_k_.as<uint8_t>(), to), KvAt(KCache(l, seq), from), n * hd * kv_bytes_);
      std::memcpy(KvAt(saved_v_.as<uint8_t>(), to), KvAt(VCache(l, seq), from), n * hd * kv_bytes_);
    }
  }
  saved_n_ = n;
  return Status::Ok();
}

Status Context::LoadPrefix(int dst, int64_t n) {
  if (n < 1 || n > saved_n_) {
    return InvalidArgumentError("LoadPrefix: " + std::to_string(n) + " positions asked, " +
                                std::to_string(saved_n_) + " saved");
  }
  LLEMMA_RETURN_IF_ERROR(Clear(dst));
  const Config& c = model_.config();
  const int64_t hd = c.head_dim;
  for (int64_t l = 0; l < c.n_layer; ++l) {
    for (int64_t h = 0; h < c.n_head_kv; ++h) {
      const size_t to = static_cast<size_t>(h * n_ctx_ * hd);
      const size_t from = static_cast<size_t>((l * c.n_head_kv + h) * saved_n_ * hd);
      std::memcpy(KvAt(KCache(l, dst), to), KvAt(saved_k_.as<uint8_t>(), from), n * hd * kv_bytes_);
      std::memcpy(KvAt(VCache(l, dst), to), KvAt(saved_v_.as<uint8_t>(), from), n * hd * kv_bytes_);
    }
  }
  seq_past_[dst] = n;
  return Status::Ok();
}

StatusOr<std::span<const float>> Context::EvalSeq(int seq, std::span<const int32_t> tokens,
                                                  bool all_logits) {
  const Config& c = model_.config();
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return InvalidArgumentError("Eval: no tokens to evaluate");
  if (seq < 0 || seq >= n_seq_) {
    return InvalidArgumentError("Eval: sequence " + std::to_string(seq) + " is outside [0, " +
                                std::to_string(n_seq_) + ")");
  }
  if (prefix_len_[seq] > 0) {
    return FailedPreconditionError("Eval: sequence " + std::to_string(seq) +
                                   " was forked; advance it with EvalBatch or Clear it first");
  }
  const int64_t n_past = seq_past_[seq];
  for (int32_t id : tokens) {
    if (id < 0 || id >= c.n_vocab) {
      return InvalidArgumentError("token id " + std::to_string(id) +
                                  " is outside the vocabulary [0, " + std::to_string(c.n_vocab) +
                                  ")");
    }
  }
  if (n_past + n > n_ctx_) {
    return OutOfRangeError(std::to_string(n_past + n) + " tokens do not fit in the context of " +
                           std::to_string(n_ctx_) +
                           "; shorten the input or raise the context size");
  }
  logits_.resize(static_cast<size_t>((all_logits ? n : 1) * c.n_vocab));
  for (int64_t i = 0; i < n; i += n_batch_) {
    const int64_t m = std::min(n_batch_, n - i);
    const bool last_chunk = i + m == n;
    float* out =
        all_logits ? logits_.data() + i * c.n_vocab : (last_chunk ? logits_.data() : nullptr);
    ForwardChunk(seq, tokens.data() + i, m, all_logits, out);
  }
  return std::span<const float>(logits_);
}

// The rest of a layer once attention has written att_: the output projection
// and residual, then the SwiGLU feed-forward block and its residual.
void Context::OutputAndFeedForward(const LayerWeights& w, int64_t m) {
  const Config& c = model_.config();
  const int64_t D = c.n_embd;
  float* x = x_.as<float>();
  float* xb = xb_.as<float>();
  float* xb2 = xb2_.as<float>();
  float* hb = hb_.as<float>();    // (m, n_ff)
  float* hb2 = hb2_.as<float>();  // (m, n_ff)
  cpu::MatMul(pool_, w.wo, att_.as<float>(), m, xb2);
  cpu::AddTo(pool_, x, xb2, m * D);
  cpu::RmsNorm(pool_, x, w.ffn_norm, m, D, c.rms_norm_eps, xb);
  cpu::MatMulShared(pool_, {&w.w_gate, &w.w_up}, xb, m, {hb, hb2});
  cpu::SiluMul(pool_, hb, hb2, m * c.n_ff);
  cpu::MatMul(pool_, w.w_down, hb, m, xb2);
  cpu::AddTo(pool_, x, xb2, m * D);
}

// The LLaMA forward pass for one chunk of m tokens of sequence `seq` at
// positions n_past..n_past+m-1.
void Context::ForwardChunk(int seq, const int32_t* tokens, int64_t m, bool all_logits,
                           float* logits_out) {
  const Config& c = model_.config();
  const int64_t n_past = seq_past_[seq];
  const int64_t D = c.n_embd, hd = c.head_dim, half = hd / 2;
  float* x = x_.as<float>();      // (m, D) residual stream
  float* xb = xb_.as<float>();    // (m, D) normed input to a block
  float* q = q_.as<float>();      // (m, n_head, hd)
  float* k = k_.as<float>();      // (m, n_head_kv, hd)
  float* v = v_.as<float>();      // (m, n_head_kv, hd)
  float* att = att_.as<float>();  // (m, n_head, hd)
  const float* cos = rope_cos_.data() + n_past * half;
  const float* sin = rope_sin_.data() + n_past * half;

  // Embedding lookup (rows of the embedding matrix, converted to f32).
  const cpu::Matrix& emb = model_.token_embd();
  for (int64_t t = 0; t < m; ++t) {
    cpu::DequantizeMatrixRow(emb.dtype, emb.data, tokens[t], D, x + t * D);
  }

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const LayerWeights& w = model_.layer(l);

    // Attention block.
    cpu::RmsNorm(pool_, x, w.attn_norm, m, D, c.rms_norm_eps, xb);
    cpu::MatMulShared(pool_, {&w.wq, &w.wk, &w.wv}, xb, m, {q, k, v});
    cpu::RopeRotateHalf(q, m, c.n_head, hd, cos, sin);
    cpu::RopeRotateHalf(k, m, c.n_head_kv, hd, cos, sin);
    StoreKv(l, seq, n_past, 0, m);
    cpu::AttentionArgs a;
    a.q = q;
    a.k = KCache(l, seq);  // (n_head_kv, n_ctx, hd)
    a.v = VCache(l, seq);
    a.kv_type = kv_type_;
    a.out = att;
    a.n_tokens = m;
    a.n_past = n_past;
    a.n_ctx = n_ctx_;
    a.n_head = c.n_head;
    a.n_head_kv = c.n_head_kv;
    a.head_dim = hd;
    cpu::Attention(pool_, a);
    OutputAndFeedForward(w, m);
  }
  seq_past_[seq] += m;

  if (logits_out == nullptr) return;
  // Final norm and LM head, for every row or just the last.
  const int64_t first = all_logits ? 0 : m - 1;
  const int64_t rows = m - first;
  cpu::RmsNorm(x + first * D, model_.output_norm(), rows, D, c.rms_norm_eps, xb);
  cpu::MatMul(pool_, model_.output(), xb, rows, logits_out);
}

Status Context::Fork(int src, int dst) {
  for (int s : {src, dst}) {
    if (s < 0 || s >= n_seq_) {
      return InvalidArgumentError("Fork: sequence " + std::to_string(s) + " is outside [0, " +
                                  std::to_string(n_seq_) + ")");
    }
  }
  if (src == dst) return InvalidArgumentError("Fork: a sequence cannot be forked onto itself");
  if (prefix_len_[src] > 0) {
    return FailedPreconditionError(
        "Fork: sequence " + std::to_string(src) +
        " is itself forked; fork from the sequence that holds the prompt");
  }
  for (int t = 0; t < n_seq_; ++t) {
    if (t != dst && prefix_src_[t] == dst && seq_past_[t] > 0) {
      return FailedPreconditionError("Fork: sequence " + std::to_string(t) +
                                     " reads its prefix from sequence " + std::to_string(dst) +
                                     "; clear it before reusing " + std::to_string(dst));
    }
  }
  seq_past_[dst] = seq_past_[src];
  prefix_len_[dst] = seq_past_[src];
  prefix_src_[dst] = seq_past_[src] > 0 ? src : -1;
  return Status::Ok();
}

StatusOr<std::span<const float>> Context::EvalBatch(std::span<const int32_t> tokens,
                                                    std::span<const int> seqs) {
  const Config& c = model_.config();
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0 || seqs.size() != tokens.size()) {
    return InvalidArgumentError("EvalBatch: give one sequence id per token");
  }
  std::vector<bool> seen(n_seq_, false);
  for (int64_t i = 0; i < n; ++i) {
    const int s = seqs[i];
    if (s < 0 || s >= n_seq_ || seen[s]) {
      return InvalidArgumentError("EvalBatch: sequence ids must be distinct and below " +
                                  std::to_string(n_seq_));
    }
    seen[s] = true;
    if (tokens[i] < 0 || tokens[i] >= c.n_vocab) {
      return InvalidArgumentError("token id " + std::to_string(tokens[i]) +
                                  " is outside the vocabulary");
    }
    if (n_past(s) + 1 > n_ctx_) {
      return OutOfRangeError("sequence " + std::to_string(s) + " is full (" +
                             std::to_string(n_ctx_) + " tokens)");
    }
  }
  logits_.resize(static_cast<size_t>(n * c.n_vocab));
  for (int64_t i = 0; i < n; i += n_batch_) {
    const int64_t m = std::min(n_batch_, n - i);
    ForwardBatch(tokens.data() + i, seqs.data() + i, m, logits_.data() + i * c.n_vocab);
  }
  return std::span<const float>(logits_);
}

// One token for each of m sequences, each at its own position. The matrix
// products see m rows, so every weight is read once for the whole batch.
void Context::ForwardBatch(const int32_t* tokens, const int* seqs, int64_t m, float* logits_out) {
  const Config& c = model_.config();
  const int64_t D = c.n_embd, hd = c.head_dim, half = hd / 2;
  float* x = x_.as<float>();
  float* xb = xb_.as<float>();
  float* q = q_.as<float>();
  float* k = k_.as<float>();
  float* v = v_.as<float>();
  float* att = att_.as<float>();
  std::vector<int64_t> pos(m);
  for (int64_t t = 0; t < m; ++t) pos[t] = n_past(seqs[t]);
  const cpu::Matrix& emb = model_.token_embd();
  for (int64_t t = 0; t < m; ++t) {
    cpu::DequantizeMatrixRow(emb.dtype, emb.data, tokens[t], D, x + t * D);
  }
  std::vector<cpu::KvSegment> prefix(m), own(m);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const LayerWeights& w = model_.layer(l);
    cpu::RmsNorm(pool_, x, w.attn_norm, m, D, c.rms_norm_eps, xb);
    cpu::MatMulShared(pool_, {&w.wq, &w.wk, &w.wv}, xb, m, {q, k, v});
    for (int64_t t = 0; t < m; ++t) {
      const float* cs = rope_cos_.data() + pos[t] * half;
      const float* sn = rope_sin_.data() + pos[t] * half;
      cpu::RopeRotateHalf(q + t * c.n_head * hd, 1, c.n_head, hd, cs, sn);
      cpu::RopeRotateHalf(k + t * c.n_head_kv * hd, 1, c.n_head_kv, hd, cs, sn);
      const int s = seqs[t];
      StoreKv(l, s, pos[t], t, 1);
      const int64_t plen = prefix_len_[s];
      const int src = plen > 0 ? prefix_src_[s] : s;
      prefix[t] = {KCache(l, src), VCache(l, src), plen};
      // Own positions plen..pos live at the same offsets of this sequence's cache.
      own[t] = {KvAt(KCache(l, s), plen * hd), KvAt(VCache(l, s), plen * hd), pos[t] + 1 - plen};
    }
    cpu::BatchAttentionArgs a;
    a.q = q;
    a.out = att;
    a.prefix = prefix.data();
    a.own = own.data();
    a.n_tokens = m;
    a.n_head = c.n_head;
    a.n_head_kv = c.n_head_kv;
    a.head_dim = hd;
    a.stride = n_ctx_;
    a.max_keys = n_ctx_;
    a.kv_type = kv_type_;
    cpu::BatchAttention(pool_, a);
    OutputAndFeedForward(w, m);
  }
  for (int64_t t = 0; t < m; ++t) seq_past_[seqs[t]]++;
  cpu::RmsNorm(x, model_.output_norm(), m, D, c.rms_norm_eps, xb);
  cpu::MatMul(pool_, model_.output(), xb, m, logits_out);
}

}  // namespace llemma
