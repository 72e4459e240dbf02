// Open file description identity (see OpenFiles.h).
#include "dumper/OpenFiles.h"

#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "dumper/Tracee.h"

namespace ckpt::dumper {

namespace {

// -1, 0, 1 as kcmp orders the two files (it compares obfuscated kernel
// pointers, a total order that holds for the whole dump).
int compare_files(pid_t pid, int a, int b) {
  long r = syscall(SYS_kcmp, pid, pid, KCMP_FILE, a, b);
  if (r < 0)
    throw DumpError("pid " + std::to_string(pid) + ": cannot tell whether fds " + std::to_string(a) + " and " +
                    std::to_string(b) + " share an open file (kcmp: " + std::strerror(errno) +
                    (errno == ENOSYS ? "; the kernel lacks CONFIG_KCMP" : "") + ")");
  return r == 0 ? 0 : r == 1 ? -1 : 1;
}

}  // namespace

std::vector<std::vector<int>> group_open_files(pid_t pid, std::vector<FdIdentity> fds) {
  std::sort(fds.begin(), fds.end(), [&](const FdIdentity& a, const FdIdentity& b) {
    if (a.dev != b.dev) return a.dev < b.dev;
    if (a.ino != b.ino) return a.ino < b.ino;
    return compare_files(pid, a.fd, b.fd) < 0;
  });
  std::vector<std::vector<int>> groups;
  for (size_t i = 0; i < fds.size(); ++i) {
    bool same = i > 0 && fds[i].dev == fds[i - 1].dev && fds[i].ino == fds[i - 1].ino &&
                compare_files(pid, fds[i].fd, fds[i - 1].fd) == 0;
    if (!same) groups.emplace_back();
    groups.back().push_back(fds[i].fd);
  }
  for (auto& g : groups) std::sort(g.begin(), g.end());
  std::sort(groups.begin(), groups.end());
  return groups;
}

int copy_open_file(pid_t pid, int fd) {
  int pidfd = int(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0)
    throw DumpError("pid " + std::to_string(pid) + ": cannot dump fd " + std::to_string(fd) +
                    ": pidfd_open: " + std::strerror(errno));
  int copy = int(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
  int e = errno;
  ::close(pidfd);
  if (copy < 0)
    throw DumpError("pid " + std::to_string(pid) + ": cannot dump fd " + std::to_string(fd) +
                    ": cannot take a copy of it (pidfd_getfd): " + std::strerror(e));
  return copy;
}

bool epoll_entry_is(pid_t pid, int epfd, int tfd, int toff, int fd) {
  kcmp_epoll_slot slot{uint32_t(epfd), uint32_t(tfd), uint32_t(toff)};
  long r = syscall(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, fd, &slot);
  if (r < 0 && errno != EBADF && errno != ENOENT)
    throw DumpError("pid " + std::to_string(pid) + ": cannot identify what epoll fd " + std::to_string(epfd) +
                    " watches as fd " + std::to_string(tfd) + " (kcmp KCMP_EPOLL_TFD: " + std::strerror(errno) + ")");
  return r == 0;
}

}  // namespace ckpt::dumper
