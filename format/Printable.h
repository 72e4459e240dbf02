// Strings that came from a process or an image (comm, paths, memfd names)
// made safe to print: whatever bytes the process had, an escape sequence
// among them would otherwise act on the reader's terminal. Both forms
// escape every control character (C0, DEL, C1), the Unicode line
// separators and bidirectional overrides, and every byte that is not UTF-8;
// everything else is kept as it is.
#pragma once

#include <string>

namespace ckpt::format {

// For text: C escapes (\n, \t, \r, \\, \xNN for other bytes below 0x80 and
// for bytes that are not UTF-8, \u{XXXX} for escaped code points above).
std::string printable(const std::string& s);

// A JSON string literal, quotes included: \uXXXX escapes, and a byte that is
// not UTF-8 becomes the lone surrogate U+DC00+byte (Python's
// "surrogateescape"), so the exact bytes can be had back with
// os.fsencode(json.loads(...)).
std::string json_string(const std::string& s);

}  // namespace ckpt::format
