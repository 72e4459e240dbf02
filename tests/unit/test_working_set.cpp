// The working-set file (format/WorkingSet.h) and the restorer's rule that
// each of its runs lies in one lazy area (restorer/WorkingSet.h): what is
// encoded decodes the same, and every malformed file is refused with the
// offset and reason that restore prints when it ignores one.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "format/Checksum.h"
#include "format/FormatError.h"
#include "format/Limits.h"
#include "format/WorkingSet.h"
#include "restorer/WorkingSet.h"

using namespace ckpt;
using format::PageRun;
using format::WorkingSet;

namespace {

WorkingSet sample() {
  WorkingSet ws;
  ws.image_id = 0x1234567890abcdefull;
  ws.runs = {{0x10000, 2}, {0x13000, 1}, {0x20000, 4}};
  return ws;
}

std::string refusal(const std::vector<uint8_t>& bytes) {
  try {
    format::decode_working_set(bytes);
  } catch (const format::FormatError& e) {
    return e.what();
  }
  return "(accepted)";
}

// Rewrites the trailing checksum so that only the field under test is wrong.
std::vector<uint8_t> resealed(std::vector<uint8_t> b) {
  b.resize(b.size() - 8);
  uint64_t c = XXH3_64bits(b.data(), b.size());
  b.insert(b.end(), reinterpret_cast<uint8_t*>(&c), reinterpret_cast<uint8_t*>(&c) + 8);
  return b;
}

template <typename T>
std::vector<uint8_t> with(std::vector<uint8_t> b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
  return resealed(b);
}

}  // namespace

TEST_CASE("working set: encodes and decodes the same") {
  WorkingSet ws = sample();
  std::vector<uint8_t> b = format::encode_working_set(ws);
  CHECK(b.size() == format::kWorkingSetHeader + 3 * 16 + 8);
  WorkingSet back = format::decode_working_set(b);
  CHECK(back.image_id == ws.image_id);
  REQUIRE(back.runs.size() == 3);
  CHECK(back.runs[1].start == 0x13000);
  CHECK(back.page_count() == 7);
  WorkingSet empty;
  CHECK(format::decode_working_set(format::encode_working_set(empty)).runs.empty());
}

TEST_CASE("working set: every malformed file is refused, saying where and why") {
  const std::vector<uint8_t> good = format::encode_working_set(sample());
  CHECK(refusal({good.begin(), good.begin() + 20}) == "at offset 20: truncated: shorter than its header");
  std::vector<uint8_t> b = good;
  b[0] = 'X';
  CHECK(refusal(b) == "at offset 0: not a working-set file (bad magic)");
  b = good;
  b[50] ^= 1;
  CHECK(refusal(b) == "at offset " + std::to_string(good.size() - 8) + ": checksum mismatch");
  CHECK(refusal(with<uint32_t>(good, 8, 2)) == "at offset 8: version 2 (this restore reads version 1)");
  CHECK(refusal(with<uint32_t>(good, 12, 1)) == "at offset 12: unknown flags");
  CHECK(refusal(with<uint64_t>(good, 24, 8192)) == "at offset 24: page size is not 4096");
  CHECK(refusal(with<uint32_t>(good, 36, 1)) == "at offset 36: reserved field is not zero");
  CHECK(refusal(with<uint32_t>(good, 32, format::kMaxWorkingSetRuns + 1)) ==
        "at offset 32: " + std::to_string(format::kMaxWorkingSetRuns + 1) + " runs (at most " +
            std::to_string(format::kMaxWorkingSetRuns) + ")");
  CHECK(refusal(with<uint32_t>(good, 32, 4)) == "at offset 32: 4 runs do not fill the file's 96 bytes");
  CHECK(refusal(with<uint64_t>(good, 40, 0x10001)) ==
        "at offset 40: run 0 is empty, unaligned or beyond user space");
  CHECK(refusal(with<uint64_t>(good, 48, 0)) == "at offset 40: run 0 is empty, unaligned or beyond user space");
  CHECK(refusal(with<uint64_t>(good, 40, format::kUserSpaceEnd)) ==
        "at offset 40: run 0 is empty, unaligned or beyond user space");
  CHECK(refusal(with<uint64_t>(good, 56, 0x11000)) ==
        "at offset 56: run 1 is out of order, overlaps or touches the one before");
  CHECK(refusal(with<uint64_t>(good, 56, 0x12000)) ==
        "at offset 56: run 1 is out of order, overlaps or touches the one before");
  CHECK(refusal(with<uint64_t>(good, 48, format::kMaxWorkingSetPages + 1)) ==
        "at offset 40: more than " + std::to_string(format::kMaxWorkingSetPages) + " pages");
}

TEST_CASE("working set: every run must lie in one lazy area of the image") {
  format::Image image;
  format::Vma a, b, c;
  a.start = 0x10000, a.end = 0x18000;  // lazy
  b.start = 0x18000, b.end = 0x20000;  // eager, right after it
  c.start = 0x20000, c.end = 0x30000;  // lazy
  image.vmas = {a, b, c};
  const std::vector<bool> lazy = {true, false, true};
  auto why = [&](std::vector<PageRun> runs) -> std::string {
    WorkingSet ws;
    ws.runs = std::move(runs);
    try {
      restorer::check_working_set(ws, image, lazy);
    } catch (const format::FormatError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  CHECK(why({{0x10000, 8}, {0x2f000, 1}}) == "(accepted)");
  CHECK(why({{0x10000, 2}, {0x18000, 1}}) ==
        "at offset 56: run 1 (0x18000-0x19000) is not inside one lazy area of the image");
  CHECK(why({{0x17000, 2}}) == "at offset 40: run 0 (0x17000-0x19000) is not inside one lazy area of the image");
  CHECK(why({{0x8000, 1}}) == "at offset 40: run 0 (0x8000-0x9000) is not inside one lazy area of the image");
  CHECK(why({{0x30000, 1}}) == "at offset 40: run 0 (0x30000-0x31000) is not inside one lazy area of the image");
}
