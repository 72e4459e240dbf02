// format/Printable.h: strings from a process or an image, escaped for a
// terminal (text) and for JSON, with nothing lost.
#include <doctest/doctest.h>

#include <string>

#include "format/Printable.h"

using ckpt::format::json_string;
using ckpt::format::printable;

TEST_CASE("printable: plain text and UTF-8 pass unchanged") {
  CHECK(printable("/usr/bin/python3.11") == "/usr/bin/python3.11");
  CHECK(printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(printable("") == "");
}

TEST_CASE("printable: controls, backslash, C1, bidi overrides and bytes that are not UTF-8 are escaped") {
  CHECK(printable("a\x1b[31mb\nc\td\re\x7f") == "a\\x1b[31mb\\nc\\td\\re\\x7f");
  CHECK(printable(std::string("nul\0x", 5)) == "nul\\x00x");
  CHECK(printable("back\\slash") == "back\\\\slash");
  CHECK(printable("\xc2\x9b" "2J") == "\\u{009b}2J");              // U+009B, the one-character CSI
  CHECK(printable("\xe2\x80\xae" "txt") == "\\u{202e}txt");        // RIGHT-TO-LEFT OVERRIDE
  CHECK(printable("\xe2\x80\xa8") == "\\u{2028}");                 // LINE SEPARATOR
  CHECK(printable("\xff\xfe") == "\\xff\\xfe");
  CHECK(printable("\xc0\xaf") == "\\xc0\\xaf");                    // overlong '/'
  CHECK(printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");           // a surrogate
  CHECK(printable("\xe2\x82") == "\\xe2\\x82");                    // cut short
  CHECK(printable("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // beyond U+10FFFF
}

TEST_CASE("json_string: valid JSON, and bytes that are not UTF-8 as lone surrogates") {
  CHECK(json_string("plain") == "\"plain\"");
  CHECK(json_string("q\"b\\") == "\"q\\\"b\\\\\"");
  CHECK(json_string("e\x1b\n\x7f") == "\"e\\u001b\\u000a\\u007f\"");
  CHECK(json_string("\xc2\x9b") == "\"\\u009b\"");
  CHECK(json_string("\xc3\xa9") == "\"\xc3\xa9\"");
  CHECK(json_string("a\xff") == "\"a\\udcff\"");
}
