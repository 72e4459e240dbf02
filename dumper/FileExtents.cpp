// Data extents of an open file (see FileExtents.h).
#include "dumper/FileExtents.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dumper/Tracee.h"
#include "format/Limits.h"

namespace ckpt::dumper {

std::vector<format::SharedObject::Extent> read_extents(int fd, uint64_t size, const std::string& what) {
  std::vector<format::SharedObject::Extent> out;
  uint64_t total = 0;
  off_t pos = 0;
  while (uint64_t(pos) < size) {
    off_t data = lseek(fd, pos, SEEK_DATA);
    if (data < 0) break;  // ENXIO: no more data
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) hole = off_t(size);
    format::SharedObject::Extent e;
    e.offset = uint64_t(data);
    e.bytes.resize(size_t(std::min<uint64_t>(uint64_t(hole), size) - uint64_t(data)));
    total += e.bytes.size();
    if (e.bytes.size() > format::kMaxBlobBytes || total > format::kMaxBlobBytes)
      throw DumpError(what + " holds more than " + std::to_string(format::kMaxBlobBytes >> 20) +
                      " MiB, more than this version saves");
    size_t done = 0;
    while (done < e.bytes.size()) {
      ssize_t n = pread(fd, e.bytes.data() + done, e.bytes.size() - done, off_t(e.offset + done));
      if (n <= 0) throw DumpError("cannot read " + what + ": " + (n < 0 ? std::strerror(errno) : "short read"));
      done += size_t(n);
    }
    out.push_back(std::move(e));
    pos = hole;
  }
  return out;
}

}  // namespace ckpt::dumper
