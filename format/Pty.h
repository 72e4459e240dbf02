// Encoding, decoding and validation of the ptys section (type 29, optional;
// docs/format.md §5.8): pseudo-terminals whose master and slave are both
// open in the image, each recorded once and referenced by the `object` of
// its master's and slaves' fd records (kinds pty-master, pty-slave).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "format/Image.h"

namespace ckpt::format {

std::vector<uint8_t> encode_ptys(const std::vector<Pty>& ptys);
std::vector<Pty> decode_ptys(const uint8_t* data, size_t n, uint64_t base);

// The Pty `id` in a table sorted by id, or nullptr.
const Pty* find_pty(const std::vector<Pty>& ptys, uint64_t id);

// Rules for one process's records and the fds that name them: ids
// ascending, known bits and sizes, queued data within one line
// discipline's buffer, every pty fd naming a record of the process and
// every record named by one of its fds. `bad` throws. O(n log n).
void validate_ptys(const Image& image, const std::function<void(const std::string&)>& bad);

// One process of the image (a tree's live member) with its session and group.
struct PtyProcess {
  const Image* image = nullptr;
  int32_t sid = 0, pgid = 0;
};
// Rules across the image's processes: a pty's records in several processes
// are the same; exactly one master open file description and at least one
// slave fd per pty; a controlling terminal belongs to a session led by a
// process of the image, with a foreground group of that session in it, and
// a session has at most one. `bad` throws. O(n log n).
void validate_pty_set(const std::vector<PtyProcess>& set, const std::function<void(const std::string&)>& bad);

}  // namespace ckpt::format
