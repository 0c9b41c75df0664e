// AlignedBuffer: an owned, 64-byte aligned, uninitialized byte buffer (weights,
// KV cache, scratch). Move-only; not thread-safe to resize.
//
// Large buffers (≥ 4 MiB) are mapped directly, 2 MiB aligned, and marked for
// transparent huge pages: streaming gigabytes of weights then walks 512×
// fewer pages, and the KV cache faults in 2 MiB at a time instead of 4 KiB
// (page faults are expensive under virtualization). Nothing is rounded up
// beyond the 4 KiB page, so memory use stays what was asked for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace llemma {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes, bool huge_pages = true) { Resize(bytes, huge_pages); }
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), size_(o.size_), mapped_(o.mapped_) {
    o.data_ = nullptr;
    o.size_ = 0;
    o.mapped_ = 0;
  }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      Release();
      data_ = o.data_;
      size_ = o.size_;
      mapped_ = o.mapped_;
      o.data_ = nullptr;
      o.size_ = 0;
      o.mapped_ = 0;
    }
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { Release(); }

  // Discards the contents. Throws std::bad_alloc on failure (callers at
  // boundaries catch it and report ResourceExhausted). Large buffers are
  // mapped and, with `huge_pages`, backed by transparent huge pages; without
  // it by 4 KiB pages, so only the pages really written are ever allocated
  // and zeroed (KV caches of forked sequences, which never write most of
  // their region).
  void Resize(size_t bytes, bool huge_pages = true) {
    Release();
    if (bytes == 0) return;
#if defined(__linux__)
    if (bytes >= kMapThreshold) {
      const size_t len = (bytes + kPage - 1) / kPage * kPage;
      void* p = mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      const uintptr_t start = reinterpret_cast<uintptr_t>(p);
      const uintptr_t aligned = (start + kHuge - 1) / kHuge * kHuge;
      if (aligned > start) munmap(p, aligned - start);
      if (start + kHuge > aligned) munmap(reinterpret_cast<void*>(aligned + len), start + kHuge - aligned);
      // Advice only; failure is harmless.
      madvise(reinterpret_cast<void*>(aligned), len, huge_pages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
      data_ = reinterpret_cast<uint8_t*>(aligned);
      size_ = bytes;
      mapped_ = len;
      return;
    }
#endif
    const size_t rounded = (bytes + 63) / 64 * 64;
    data_ = static_cast<uint8_t*>(std::aligned_alloc(64, rounded));
    if (data_ == nullptr) throw std::bad_alloc();
    size_ = bytes;
  }

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  template <typename T>
  T* as() {
    return reinterpret_cast<T*>(data_);
  }
  template <typename T>
  const T* as() const {
    return reinterpret_cast<const T*>(data_);
  }

 private:
  static constexpr size_t kPage = 4096, kHuge = size_t{2} << 20, kMapThreshold = size_t{4} << 20;

  void Release() {
#if defined(__linux__)
    if (mapped_ != 0) munmap(data_, mapped_);
#endif
    if (mapped_ == 0) std::free(data_);
    data_ = nullptr;
    size_ = 0;
    mapped_ = 0;
  }

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;  // length of the mapping, 0 when from aligned_alloc
};

}  // namespace llemma
