// The target's open file descriptors (beyond the inherited 0, 1, 2) and the
// shared memory objects behind its shared mappings and memfds, as an image
// FileTable. Pipe contents are peeked with tee(), never consumed; shared
// memory is read through /proc/PID/map_files or the fd with SEEK_DATA, so
// no page is faulted into the target. Kinds this version cannot restore
// (sockets, ttys, inotify, ...) are refused with the fd number and kind.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "dumper/Tracee.h"

#include "format/Image.h"

namespace ckpt::dumper {

// An fd this version cannot carry exactly. Every reader of a kind throws
// this (not a plain DumpError) to refuse one fd, so that --ignore-fds can
// leave that fd out instead. what(): "pid P: cannot dump fd N: WHY", WHY
// naming the fd's kind.
struct FdRefused : DumpError {
  FdRefused(pid_t pid, int fd, const std::string& why);
  int fd;
  std::string why;
};

// `vmas` must already be classified (AddressSpace.h); shared-memory VMAs
// name their object by file.ino, which this fills in image.files.objects.
// With `left_out` (--ignore-fds), a refused fd is left out of the table
// instead, as if the process had closed it just before the dump: one line
// per fd is added to *left_out, and epoll sets lose their registrations of
// it (as the kernel drops them when a file is closed for good).
format::FileTable read_files(pid_t pid, const std::vector<format::Vma>& vmas,
                             std::vector<std::string>* left_out = nullptr);

}  // namespace ckpt::dumper
