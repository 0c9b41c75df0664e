// Small string helpers shared by the llemma/math sources (ASCII only, total
// over arbitrary bytes). Thread-safe (pure functions).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llemma::math::text {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

inline std::string Trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && IsSpace(s[a])) ++a;
  while (b > a && IsSpace(s[b - 1])) --b;
  return std::string(s.substr(a, b - a));
}

// Python's s.split(sep) for a non-empty separator.
inline std::vector<std::string> Split(std::string_view s, std::string_view sep) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (true) {
    const size_t j = s.find(sep, i);
    if (j == std::string_view::npos) {
      parts.emplace_back(s.substr(i));
      return parts;
    }
    parts.emplace_back(s.substr(i, j - i));
    i = j + sep.size();
  }
}

// Python's s.replace(from, to), in place.
inline void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  if (from.empty() || s->find(from) == std::string::npos) return;
  std::string out;
  size_t i = 0;
  while (true) {
    const size_t j = s->find(from, i);
    if (j == std::string::npos) break;
    out.append(*s, i, j - i);
    out.append(to);
    i = j + from.size();
  }
  out.append(*s, i, std::string::npos);
  *s = std::move(out);
}

}  // namespace llemma::math::text
