// Unread data of pipes and FIFOs, peeked with tee() so the target keeps it.
// A FIFO's data is saved with the first of its fds that can read
// (O_RDONLY or O_RDWR), whether or not a writer is inside the process: the
// bytes are in the FIFO, and without them a restored reader would wait
// forever. An unlinked FIFO is recorded as a DeletedFile (DeletedFiles.h)
// under the FIFO's inode, the FdEntry's `object`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "format/Image.h"

namespace ckpt::dumper {

// The bytes waiting in the pipe behind the target's fd `fd` (at most `size`).
std::vector<uint8_t> peek_pipe(pid_t pid, int fd, uint32_t size);

// Fills `contents` of the first readable fd of every FIFO in `fds`.
void save_fifo_contents(pid_t pid, std::vector<format::FdEntry>& fds);

}  // namespace ckpt::dumper
