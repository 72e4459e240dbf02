// Signal-driven I/O owners (see FileOwner.h).
#include "dumper/FileOwner.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "dumper/FdInfo.h"
#include "dumper/OpenFiles.h"
#include "dumper/ScopedFd.h"

namespace ckpt::dumper {

void read_file_owner(pid_t tgid, format::FdEntry& f) {
  if (f.flags & O_PATH) return;  // no owner, and F_GETOWN_EX of an O_PATH fd fails (EBADF)
  ScopedFd copy(copy_open_file(tgid, f.fd));
  f_owner_ex owner{};
  if (fcntl(copy.get(), F_GETOWN_EX, &owner) != 0)
    refuse_fd(tgid, f.fd, std::string("F_GETOWN_EX: ") + std::strerror(errno));
  int sig = fcntl(copy.get(), F_GETSIG);
  if (sig < 0) refuse_fd(tgid, f.fd, std::string("F_GETSIG: ") + std::strerror(errno));
  f.owner_signal = sig;
  if (owner.pid == 0) {
    f.owner = format::kOwnerNone;
  } else if (owner.type == F_OWNER_PID && owner.pid == tgid) {
    f.owner = format::kOwnerProcess;
  } else if (owner.type == F_OWNER_TID && owner.pid == tgid) {
    f.owner = format::kOwnerThread;
  } else {
    const char* whom = owner.type == F_OWNER_PGRP ? "process group " : owner.type == F_OWNER_TID ? "thread " : "process ";
    refuse_fd(tgid, f.fd, std::string("its SIGIO goes to ") + whom + std::to_string(owner.pid) +
                              ", which is not this process (F_SETOWN), and would mean nothing after restore");
  }
}

}  // namespace ckpt::dumper
