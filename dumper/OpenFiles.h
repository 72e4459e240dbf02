// Which of a process's fds share one open file description (dup, dup2,
// F_DUPFD, fork): the image records each description once (format FdEntry)
// and lists the other fds that refer to it. Identity comes from
// kcmp(KCMP_FILE), which also orders descriptions, so grouping is a sort.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace ckpt::dumper {

struct FdIdentity {
  int fd;
  uint64_t dev, ino;  // stat of /proc/PID/fd/N: only fds on one inode can share a description
};

// Groups `fds` (of a stopped process); each group is ascending, the groups
// are sorted by their lowest fd. Throws DumpError if kcmp is unavailable
// and two fds are on one inode (sharing could then not be told).
std::vector<std::vector<int>> group_open_files(pid_t pid, std::vector<FdIdentity> fds);

// A descriptor of the dumper's own on the target's open file at `fd`
// (pidfd_getfd: the same description, nothing opened, no side effect), for
// asking what only the description can say. Throws DumpError naming the fd.
int copy_open_file(pid_t pid, int fd);

// kcmp(pid, pid, KCMP_EPOLL_TFD, fd, {epfd, tfd, toff}) == 0: the file at
// `fd` is what the toff-th entry keyed `tfd` of epoll `epfd` watches.
bool epoll_entry_is(pid_t pid, int epfd, int tfd, int toff, int fd);

}  // namespace ckpt::dumper
