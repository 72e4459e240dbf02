// Escaping of untrusted strings for printing (see Printable.h).
#include "format/Printable.h"

#include <cstdint>
#include <cstdio>

namespace ckpt::format {

// The length of the UTF-8 sequence at s[i] and its code point in *cp, or 0
// if the bytes there are not UTF-8 (overlong, surrogate, beyond U+10FFFF).
static size_t utf8_at(const std::string& s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return uint8_t(s[i + k]); };
  uint8_t c = b(0);
  if (c < 0x80) return *cp = c, 1;
  size_t n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? (c < 0xf0 ? 3 : 0) : c >= 0xc2 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  uint32_t v = c & (0xff >> (n + 1));
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    v = v << 6 | (b(k) & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[n] || v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) return 0;
  return *cp = v, n;
}

static bool must_escape(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

// Text output: C escapes (\n, \t, \r, \\, \xNN for other bytes, \u{XXXX} for
// escaped code points above U+007F).
std::string printable(const std::string& s) {
  std::string o;
  char b[16];
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t n = utf8_at(s, i, &cp);
    if (n == 0) {
      std::snprintf(b, sizeof b, "\\x%02x", unsigned(uint8_t(s[i])));
      o += b, i += 1;
      continue;
    }
    if (cp == '\\') o += "\\\\";
    else if (cp == '\n') o += "\\n";
    else if (cp == '\t') o += "\\t";
    else if (cp == '\r') o += "\\r";
    else if (must_escape(cp)) {
      std::snprintf(b, sizeof b, cp < 0x80 ? "\\x%02x" : "\\u{%04x}", unsigned(cp));
      o += b;
    } else o.append(s, i, n);
    i += n;
  }
  return o;
}

// JSON output: a byte that is not UTF-8 becomes the lone surrogate
// U+DC00+byte (Python's "surrogateescape"), so that the exact bytes can be
// had back: os.fsencode(json.loads(...)).
std::string json_string(const std::string& s) {
  std::string o = "\"";
  char b[8];
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t n = utf8_at(s, i, &cp);
    if (n == 0) {
      std::snprintf(b, sizeof b, "\\u%04x", 0xdc00u + uint8_t(s[i]));
      o += b, i += 1;
      continue;
    }
    if (cp == '"' || cp == '\\') o += '\\', o += char(cp);
    else if (must_escape(cp)) {
      std::snprintf(b, sizeof b, "\\u%04x", unsigned(cp));
      o += b;
    } else o.append(s, i, n);
    i += n;
  }
  return o + "\"";
}

}  // namespace ckpt::format
