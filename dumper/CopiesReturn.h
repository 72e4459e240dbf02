// `ckpt dump --copies-return TID:FD:VALUE`: the dumper half of libckpt's
// "returns twice" (lib/ckpt.c, docs/architecture.md "Checkpoint from
// inside"). The caller's thread TID waits in read(FD) on a pipe whose only
// writer is outside the process (the helper that runs this dump). In the
// image, that thread comes back from the read with VALUE (which a real read
// of that pipe cannot return), and fd FD is not in the image: a restored
// copy finds the number closed, as libckpt expects. The running original is
// not changed: its read goes on and returns the dump's result.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "format/Image.h"

namespace ckpt::dumper {

struct CopiesReturn {
  pid_t tid = 0;
  int fd = -1;
  int64_t value = 0;
  bool active() const { return tid > 0; }
};

// Parses "TID:FD:VALUE" (FD > 2, VALUE > 0); "" gives an inactive request.
// Throws DumpError naming the text.
CopiesReturn parse_copies_return(const std::string& text);

// Before the seize: waits (up to 60 s) until thread `tid` of `pid` is
// blocked in read(fd), as /proc/PID/task/TID/syscall shows it. Throws
// DumpError if the thread does not exist or never gets there.
void wait_for_read(pid_t pid, const CopiesReturn& r);

// On the root's records, read while it is stopped: checks that the thread
// is inside read(fd) (its saved registers) and that fd is a lone pipe read
// end whose writer is outside; then rewrites that thread's registers so
// that it resumes as if read had returned `value`, and removes fd from the
// table. Anything else is refused, naming the thread or fd.
void apply_copies_return(format::Image& image, const CopiesReturn& r);

}  // namespace ckpt::dumper
