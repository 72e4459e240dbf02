// Opening a file the target's owner controls, from a dumper that may run as
// root. A path the target can change (a mapped file's name, a deleted
// file's old name) may by now name a FIFO, whose open blocks until a writer
// comes (and the target stays stopped meanwhile), or a device, whose open
// runs its driver. So nothing is opened by such a path directly: first with
// O_PATH (no driver, never blocks), then the inode is checked to be of the
// expected type and, where known, the expected one (st_dev, st_ino), and
// only then opened for reading through /proc/self/fd, non-blocking. The
// magic links /proc/PID/map_files/A-B and /proc/PID/fd/N are opened the
// same way: a process sharing the target's fd table or mm, not stopped by
// the dump, could put another file there between the dumper's stat and its
// open. docs/security.md §7.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

namespace ckpt::dumper {

// What the opened inode must be. type: S_IFREG, S_IFIFO...; dev 0 or ino 0:
// any device or inode.
struct ExpectedFile {
  mode_t type = S_IFREG;
  dev_t dev = 0;
  ino_t ino = 0;
};

// A read-only, non-blocking, close-on-exec fd of the file `path` names,
// checked against `want`; -1 and `*why` (one phrase) when it cannot be
// opened or is not the expected file, then `*wrong` (if given) tells which:
// true when `path` names another file or another kind of file.
int open_target_file(const std::string& path, const ExpectedFile& want, std::string* why, bool* wrong = nullptr);

}  // namespace ckpt::dumper
