// Opening the ends of a FIFO that was unlinked while open, at restore,
// without ever blocking. The FIFO is recreated by DeletedFiles.h and held
// open O_RDWR|O_NONBLOCK there, so each of its ends can be opened through
// /proc/self/fd of that holder in any order; the FIFO is grown to its saved
// size, and its unread data is written last, like every pipe's
// (fill_pipes, Descriptors.h). Named FIFOs are opened by path
// (Descriptors.cpp), read ends first.
#pragma once

#include <cstdint>
#include <map>

#include "format/Image.h"

namespace ckpt::restorer {

// Whether the image recreates fd `f`'s FIFO (it was unlinked).
bool fifo_is_unlinked(const format::Image& image, const format::FdEntry& f);

// A new fd for the end `f` of an unlinked FIFO, whose recreated holder is
// `deleted`[f.object] (with O_NONBLOCK; the caller sets the saved status
// flags). Throws RestoreError.
int open_unlinked_fifo_end(const format::FdEntry& f, const std::map<uint64_t, int>& deleted);

}  // namespace ckpt::restorer
