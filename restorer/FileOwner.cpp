// Signal-driven I/O owners (see FileOwner.h).
#include "restorer/FileOwner.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "restorer/RestoreError.h"

namespace ckpt::restorer {

void set_file_owner(const format::FdEntry& f, int fd) {
  auto fail = [&](const char* what) {
    throw RestoreError("fd " + std::to_string(f.fd) + ": " + what + ": " + std::strerror(errno));
  };
  if (f.owner != format::kOwnerNone) {
    // restore becomes the process, and its main thread the main thread.
    f_owner_ex owner{f.owner == format::kOwnerThread ? F_OWNER_TID : F_OWNER_PID, getpid()};
    if (fcntl(fd, F_SETOWN_EX, &owner) != 0) fail("F_SETOWN_EX");
  }
  if (f.owner_signal && fcntl(fd, F_SETSIG, f.owner_signal) != 0) fail("F_SETSIG");
}

}  // namespace ckpt::restorer
