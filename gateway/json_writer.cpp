#include "gateway/json_writer.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace coachd::gateway {

namespace {

// Whether any of the 8 bytes of `w` needs an escape (the classic "has a zero byte" / "has a
// byte below n" tests, which are exact for the question whether any byte does).
constexpr bool word_needs_escape(std::uint64_t w) {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  const auto has_zero = [](std::uint64_t v) { return ((v - ones) & ~v & highs) != 0; };
  const bool below_space = ((w - ones * 0x20) & ~w & highs) != 0;
  return below_space || has_zero(w ^ (ones * '"')) || has_zero(w ^ (ones * '\\'));
}

// The index of the first character at or after `i` that needs an escape, or `n`. Answers of 20
// intakes are about 9 KB of mostly plain text, so the scan is most of the writer's time: 16
// bytes a compare with SSE2 (every x86-64 has it), else 8 bytes a word.
std::size_t next_escape(const char* p, std::size_t i, std::size_t n) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i control_max = _mm_set1_epi8(0x1f);
  const auto hits = [&](std::size_t at) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
    // v <= 0x1f unsigned exactly when max(v, 0x1f) == 0x1f.
    const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, control_max), control_max);
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), control);
    return static_cast<unsigned>(_mm_movemask_epi8(hit));
  };
  if (n >= 16) {
    for (; i + 16 <= n; i += 16) {
      if (const unsigned mask = hits(i)) return i + static_cast<std::size_t>(__builtin_ctz(mask));
    }
    if (i == n) return n;
    // The rest, as the last 16 bytes of the text: the ones before i were scanned already.
    const std::size_t last = n - 16;
    if (const unsigned mask = hits(last) & (0xffffu << (i - last))) {
      return last + static_cast<std::size_t>(__builtin_ctz(mask));
    }
    return n;
  }
#endif
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (word_needs_escape(w)) break;
  }
  while (i < n && !json_needs_escape(static_cast<unsigned char>(p[i]))) ++i;
  return i;
}

}  // namespace

void json_writer::separate() {
  if (comma_) out_.push_back(',');
}

json_writer& json_writer::open(char c) {
  separate();
  out_.push_back(c);
  comma_ = false;
  return *this;
}

json_writer& json_writer::close(char c) {
  out_.push_back(c);
  comma_ = true;
  return *this;
}

json_writer& json_writer::key(json_name name) {
  separate();
  out_.push_back('"');
  out_.append(name.text());
  out_.append("\":");
  comma_ = false;
  return *this;
}

json_writer& json_writer::value(std::string_view text) {
  separate();
  quoted(text);
  comma_ = true;
  return *this;
}

json_writer& json_writer::value(const std::optional<std::string>& text) {
  if (!text) return null();
  return value(std::string_view(*text));
}

json_writer& json_writer::value(const std::optional<std::string_view>& text) {
  if (!text) return null();
  return value(*text);
}

json_writer& json_writer::value(std::int64_t number) {
  separate();
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, number).ptr;
  out_.append(buf, end);
  comma_ = true;
  return *this;
}

json_writer& json_writer::value(bool flag) {
  separate();
  out_.append(flag ? "true" : "false");
  comma_ = true;
  return *this;
}

json_writer& json_writer::null() {
  separate();
  out_.append("null");
  comma_ = true;
  return *this;
}

void json_writer::quoted(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  const char* p = text.data();
  const std::size_t n = text.size();
  std::size_t i = next_escape(p, 0, n);
  if (i == n) {  // nothing to escape, as in most values: one copy
    const std::size_t at = out_.size();
    out_.append(n + 2, '"');
    if (n != 0) std::memcpy(out_.data() + at + 1, p, n);
    return;
  }
  out_.push_back('"');
  std::size_t run = 0;  // start of the characters not yet copied
  for (; i < n; i = next_escape(p, i + 1, n)) {
    const auto c = static_cast<unsigned char>(p[i]);
    out_.append(p + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out_.append("\\\""); break;
      case '\\': out_.append("\\\\"); break;
      case '\b': out_.append("\\b"); break;
      case '\f': out_.append("\\f"); break;
      case '\n': out_.append("\\n"); break;
      case '\r': out_.append("\\r"); break;
      case '\t': out_.append("\\t"); break;
      default: {
        const char u[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
        out_.append(u, sizeof u);
      }
    }
  }
  out_.append(p + run, n - run);
  out_.push_back('"');
}

}  // namespace coachd::gateway
