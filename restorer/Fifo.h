// Opening FIFO ends at restore without ever blocking. Each FIFO (named, or
// unlinked and recreated by DeletedFiles.h) is first held open
// O_RDWR|O_NONBLOCK, so that its reader and writer ends can be opened
// through /proc/self/fd of the holder in any order; its saved unread data is
// written through the holder with one non-blocking write, which must take
// all of it (the pipe is first grown to the saved size). Holders of named
// FIFOs are closed when the opener goes; a recreated FIFO's holder belongs
// to the deleted-file table and lives until the trampoline closes it.
#pragma once

#include <cstdint>
#include <map>

#include "format/Image.h"

namespace ckpt::restorer {

class FifoOpener {
 public:
  FifoOpener(const format::Image& image, const std::map<uint64_t, int>& deleted) : image_(image), deleted_(deleted) {}
  ~FifoOpener();
  FifoOpener(const FifoOpener&) = delete;
  FifoOpener& operator=(const FifoOpener&) = delete;

  // A new fd for the FIFO end `f` (with O_NONBLOCK; the caller sets the
  // saved status flags). Throws RestoreError.
  int open(const format::FdEntry& f);

 private:
  int holder(const format::FdEntry& f);
  const format::Image& image_;
  const std::map<uint64_t, int>& deleted_;
  std::map<uint64_t, int> holders_;  // FIFO inode -> holder fd
  std::map<uint64_t, bool> owned_;   // holders this opener closes
};

// Whether the image recreates fd `f`'s FIFO (it was unlinked).
bool fifo_is_unlinked(const format::Image& image, const format::FdEntry& f);

}  // namespace ckpt::restorer
