// A file descriptor owned by one scope: closed by the destructor, so no
// early return or exception leaks one into the dumper (or, through a
// later exec, anywhere else).
#pragma once

#include <unistd.h>

namespace ckpt::dumper {

class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  int release() {  // the caller owns it now
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

}  // namespace ckpt::dumper
