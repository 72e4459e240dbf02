// Reading the data-holding parts of an open file (SEEK_DATA/SEEK_HOLE), for
// shared memory objects and deleted files: holes are skipped, so nothing is
// allocated or faulted in, and the total is bounded by format::kMaxBlobBytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/Image.h"

namespace ckpt::dumper {

// `what` names the file in errors ("the memfd at fd 5"). Throws DumpError.
std::vector<format::SharedObject::Extent> read_extents(int fd, uint64_t size, const std::string& what);

}  // namespace ckpt::dumper
