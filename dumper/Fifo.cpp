// Pipe and FIFO contents at dump (see Fifo.h).
#include "dumper/Fifo.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>

#include "dumper/ScopedFd.h"
#include "dumper/Tracee.h"

namespace ckpt::dumper {

std::vector<uint8_t> peek_pipe(pid_t pid, int fd, uint32_t size) {
  const std::string where = "pid " + std::to_string(pid) + ": cannot dump fd " + std::to_string(fd) + ": ";
  ScopedFd src(::open(("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd)).c_str(),
                      O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (src.get() < 0) throw DumpError(where + "cannot open the pipe to read its contents: " + std::strerror(errno));
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) throw DumpError("pipe2: " + std::string(std::strerror(errno)));
  ScopedFd r(p[0]), w(p[1]);
  fcntl(w.get(), F_SETPIPE_SZ, size);
  std::vector<uint8_t> data;
  ssize_t n = tee(src.get(), w.get(), size, SPLICE_F_NONBLOCK);
  if (n > 0) {
    data.resize(size_t(n));
    if (read(r.get(), data.data(), data.size()) != n) throw DumpError(where + "cannot copy the pipe's contents");
  }
  return data;
}

void save_fifo_contents(pid_t pid, std::vector<format::FdEntry>& fds) {
  std::set<uint64_t> done;
  for (format::FdEntry& f : fds) {
    if (f.kind != format::FdKind::Fifo || (f.flags & O_ACCMODE) == O_WRONLY || !done.insert(f.object).second) continue;
    f.contents = peek_pipe(pid, f.fd, f.pipe_size);
  }
}

}  // namespace ckpt::dumper
