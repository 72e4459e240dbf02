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

// Rules for the records and for every fd that names one: ids ascending,
// known bits and sizes, queued data within one line discipline's buffer,
// exactly one master fd and at least one slave fd per pty, no pty fd
// naming a missing record, a controlling terminal only of the process
// itself. `bad` throws with the message. O(n log n).
void validate_ptys(const Image& image, const std::function<void(const std::string&)>& bad);

}  // namespace ckpt::format
