// epoll interest lists (see Epoll.h).
#include "restorer/Epoll.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "restorer/RestoreError.h"

namespace ckpt::restorer {

namespace {

struct Add {
  int epfd, file, key;  // launcher fds of the epoll and the file; the number to add it under
  epoll_event ev;
  int32_t saved_epfd;
};

struct Failure {
  int32_t index, err;
};

}  // namespace

void fill_epoll_sets(const format::Image& image, const std::map<int32_t, int>& created, int base,
                     const std::set<int32_t>& skip) {
  std::vector<Add> adds;
  int stdio[3] = {-1, -1, -1};  // restore's own 0-2, moved up out of the keys' way
  struct CloseStdio {
    int* fds;
    ~CloseStdio() {
      for (int i = 0; i < 3; ++i)
        if (fds[i] >= 0) ::close(fds[i]);
    }
  } close_stdio{stdio};
  for (const format::FdEntry& f : image.files.fds) {
    if (f.kind != format::FdKind::Epoll || skip.count(f.fd)) continue;
    for (const format::EpollTarget& t : f.targets) {
      // 0-2: restore's own stdio stands for the saved one (a tree member
      // other than the root has its own 0-2, in `created`).
      const bool own = created.count(t.file) > 0;
      if (!own && t.file <= 2 && stdio[t.file] < 0 && (stdio[t.file] = fcntl(t.file, F_DUPFD_CLOEXEC, base)) < 0)
        throw RestoreError("epoll fd " + std::to_string(f.fd) + " watches fd " + std::to_string(t.file) +
                           ", which restore does not have open");
      int file = own || t.file > 2 ? created.at(t.file) : stdio[t.file];
      Add a{created.at(f.fd), file, t.fd, {}, f.fd};
      a.ev.events = t.events;
      a.ev.data.u64 = t.data;
      adds.push_back(a);
    }
  }
  if (adds.empty()) return;
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) throw RestoreError(std::string("pipe2: ") + std::strerror(errno));
  int high = fcntl(report[1], F_DUPFD_CLOEXEC, base);
  ::close(report[1]);
  report[1] = high;
  if (high < 0) throw RestoreError(std::string("cannot place the epoll report pipe: ") + std::strerror(errno));
  pid_t child = fork();
  if (child < 0) throw RestoreError(std::string("cannot fork to fill the epoll sets: ") + std::strerror(errno));
  if (child == 0) {
    // Plain system calls only: the launcher may have other threads. Every
    // fd used here is at or above `base`, every key below it, so no dup2
    // clobbers one that a later entry needs.
    for (size_t i = 0; i < adds.size(); ++i) {
      const Add& a = adds[i];
      int err = 0;
      if (dup2(a.file, a.key) < 0) {
        err = errno;
      } else {
        epoll_event ev = a.ev;
        if (epoll_ctl(a.epfd, EPOLL_CTL_ADD, a.key, &ev) != 0) err = errno;
      }
      if (err) {
        Failure fail{int32_t(i), err};
        (void)!write(report[1], &fail, sizeof fail);
        _exit(1);
      }
    }
    _exit(0);
  }
  ::close(report[1]);
  Failure fail{-1, 0};
  ssize_t n;
  do n = read(report[0], &fail, sizeof fail);
  while (n < 0 && errno == EINTR);
  ::close(report[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (n == ssize_t(sizeof fail) && fail.index >= 0 && size_t(fail.index) < adds.size()) {
    const Add& a = adds[size_t(fail.index)];
    throw RestoreError("epoll fd " + std::to_string(a.saved_epfd) + ": cannot watch fd " + std::to_string(a.key) +
                       " again: " + std::strerror(fail.err));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw RestoreError("epoll sets: the process that fills them failed");
}

}  // namespace ckpt::restorer
