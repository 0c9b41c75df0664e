#include "llemma/core/timer.h"

#include <cstdio>
#include <cstring>

namespace llemma {

namespace {
int64_t ReadStatusKb(const char* key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  int64_t kb = 0;
  const size_t klen = std::strlen(key);
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, key, klen) == 0) {
      std::sscanf(line + klen, "%ld", &kb);
      break;
    }
  }
  std::fclose(f);
  return kb;
}
}  // namespace

int64_t PeakRssBytes() { return ReadStatusKb("VmHWM:") * 1024; }
int64_t CurrentRssBytes() { return ReadStatusKb("VmRSS:") * 1024; }

}  // namespace llemma
