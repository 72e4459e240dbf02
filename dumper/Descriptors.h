// The target's open files (beyond the inherited 0, 1, 2) and the shared
// memory objects behind its shared mappings and memfds, as an image
// FileTable: one record per open file description, with every fd that
// refers to it (OpenFiles.h), the locks held through it (Locks.h), and per
// kind what it holds (Epoll.h, TimerFd.h, and the simpler kinds here).
// Pipe contents are peeked with tee(), never consumed; shared memory is
// read through /proc/PID/map_files or the fd with SEEK_DATA, so no page is
// faulted into the target. Kinds this version cannot restore (sockets,
// ttys, inotify, ...) are refused with the fd number and kind.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "dumper/Pty.h"
#include "dumper/Terminal.h"
#include "format/Image.h"

namespace ckpt::dumper {

// `vmas` must already be classified (AddressSpace.h); shared-memory VMAs
// name their object by file.ino, which this fills in image.files.objects.
// With `left_out` (--ignore-fds), an open file a kind's reader refuses
// (refuse_fd, FdInfo.h) is left out of the table instead, with all its fd
// numbers, as if the process had closed them just before the dump: one
// line per fd is added to *left_out, and epoll sets lose their entries for
// it (as the kernel drops them when a file is closed for good).
//
// `root`: the tree's root, whose fds 0-2 are restore's own. For another
// member (`pid` != `root`), its fds on one of those open file descriptions
// become stdio dups of the root's number, and its own fds 0-2 are saved
// like any other fd.
//
// fds on `terminal` (the user's terminal, Terminal.h) are carried: as
// FdKind::Terminal unless they are restore's stdio (above), and the
// terminal's record goes to *terminal_record (when some fd, restore's stdio
// included, is on it). Other terminals are refused, and so are ptys unless
// both ends are in `pty_ends` (Pty.h).
//
// `inherit_outside_sockets` (--inherit-outside-sockets): a Unix socket
// connected outside the dumped processes is saved as an outside end.
// TCP connections are read into *tcp (TcpConnection.h), which the caller
// keeps until the image is committed; without it they are refused.
class TcpConnections;
format::FileTable read_files(pid_t pid, const std::vector<format::Vma>& vmas,
                             std::vector<std::string>* left_out = nullptr, pid_t root = 0,
                             bool inherit_outside_sockets = false,
                             TcpConnections* tcp = nullptr, const PtyEnds* pty_ends = nullptr,
                             const UserTerminal& terminal = {},
                             std::optional<format::TerminalInfo>* terminal_record = nullptr);

}  // namespace ckpt::dumper
