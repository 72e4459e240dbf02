// The working-set file's encoding (see WorkingSet.h, docs/format.md).
#include "format/WorkingSet.h"

#include <cstring>

#include "format/Checksum.h"
#include "format/FormatError.h"
#include "format/Limits.h"

namespace ckpt::format {

uint64_t WorkingSet::page_count() const {
  uint64_t n = 0;
  for (const PageRun& r : runs) n += r.pages;
  return n;
}

uint64_t image_identity(const ImageReader& reader) {
  std::vector<uint64_t> table;
  for (const SectionInfo& s : reader.sections()) table.insert(table.end(), {uint64_t(s.type), s.length, s.checksum});
  return checksum(table.data(), table.size() * sizeof(uint64_t));
}

namespace {

void put(std::vector<uint8_t>& out, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}
template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  put(out, &v, sizeof v);  // x86-64: little-endian, as the format says
}
template <typename T>
T get(const std::vector<uint8_t>& in, size_t at) {
  T v;
  std::memcpy(&v, in.data() + at, sizeof v);
  return v;
}

}  // namespace

std::vector<uint8_t> encode_working_set(const WorkingSet& ws) {
  std::vector<uint8_t> out;
  put(out, kWorkingSetMagic, sizeof kWorkingSetMagic);
  put<uint32_t>(out, kWorkingSetVersion);
  put<uint32_t>(out, 0);  // flags
  put<uint64_t>(out, ws.image_id);
  put<uint64_t>(out, kPageSize);
  put<uint32_t>(out, uint32_t(ws.runs.size()));
  put<uint32_t>(out, 0);  // reserved
  for (const PageRun& r : ws.runs) {
    put<uint64_t>(out, r.start);
    put<uint64_t>(out, r.pages);
  }
  put<uint64_t>(out, checksum(out.data(), out.size()));
  return out;
}

WorkingSet decode_working_set(const std::vector<uint8_t>& in) {
  if (in.size() < kWorkingSetHeader + 8) throw FormatError(in.size(), "truncated: shorter than its header");
  if (std::memcmp(in.data(), kWorkingSetMagic, sizeof kWorkingSetMagic) != 0)
    throw FormatError(0, "not a working-set file (bad magic)");
  const size_t body = in.size() - 8;
  if (get<uint64_t>(in, body) != checksum(in.data(), body)) throw FormatError(body, "checksum mismatch");
  if (uint32_t v = get<uint32_t>(in, 8); v != kWorkingSetVersion)
    throw FormatError(8, "version " + std::to_string(v) + " (this restore reads version " +
                             std::to_string(kWorkingSetVersion) + ")");
  if (get<uint32_t>(in, 12) != 0) throw FormatError(12, "unknown flags");
  if (get<uint64_t>(in, 24) != kPageSize) throw FormatError(24, "page size is not 4096");
  const uint32_t n = get<uint32_t>(in, 32);
  if (get<uint32_t>(in, 36) != 0) throw FormatError(36, "reserved field is not zero");
  if (n > kMaxWorkingSetRuns)
    throw FormatError(32, std::to_string(n) + " runs (at most " + std::to_string(kMaxWorkingSetRuns) + ")");
  if (body != kWorkingSetHeader + uint64_t(n) * 16)
    throw FormatError(32, std::to_string(n) + " runs do not fill the file's " + std::to_string(in.size()) + " bytes");
  WorkingSet ws;
  ws.image_id = get<uint64_t>(in, 16);
  ws.runs.reserve(n);
  uint64_t total = 0, prev_end = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const size_t at = kWorkingSetHeader + size_t(i) * 16;
    PageRun r{get<uint64_t>(in, at), get<uint64_t>(in, at + 8)};
    if (r.start % kPageSize || r.pages == 0 || r.start >= kUserSpaceEnd ||
        r.pages > (kUserSpaceEnd - r.start) / kPageSize)
      throw FormatError(at, "run " + std::to_string(i) + " is empty, unaligned or beyond user space");
    if (i && r.start <= prev_end)
      throw FormatError(at, "run " + std::to_string(i) + " is out of order, overlaps or touches the one before");
    total += r.pages;
    if (total > kMaxWorkingSetPages)
      throw FormatError(at, "more than " + std::to_string(kMaxWorkingSetPages) + " pages");
    prev_end = r.start + r.pages * kPageSize;
    ws.runs.push_back(r);
  }
  return ws;
}

}  // namespace ckpt::format
