// restore --lazy, the launcher's side (see LazyPages.h).
#include "restorer/LazyPages.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "restorer/PageServer.h"
#include "restorer/RestoreError.h"

namespace ckpt::restorer {

using format::Vma;
using format::VmaKind;

std::vector<bool> choose_lazy(const format::Image& image) {
  std::vector<bool> lazy(image.vmas.size(), false);
  std::vector<bool> has_pages(image.vmas.size(), false);
  for (size_t ci = 0, vi = 0; ci < image.chunks.size(); ++ci) {
    while (image.vmas[vi].end <= image.chunks[ci].vaddr) ++vi;  // validated: every chunk lies inside a VMA
    has_pages[vi] = true;
  }
  // Addresses the launcher reads or writes in staged memory before the point of no return.
  std::vector<uint64_t> touched;
  for (const format::ThreadState& t : image.threads) {
    touched.push_back(t.gpr[format::RSP] - 1);  // the frame goes below the stack pointer, in its area
    if (t.rseq.address) touched.push_back(t.rseq.address);
    if (t.cached_tid_address) touched.push_back(t.cached_tid_address);
  }
  // The kernel reads the arguments and environment for /proc/PID/cmdline and
  // environ without waiting for a page server (such remote reads fail on a
  // missing page of a registered area), so those stay eager too.
  const format::MmInfo& m = image.mm;
  for (uint64_t a : {m.syscall_gadget, m.sigreturn_gadget, m.arg_start, m.arg_end - 1, m.env_start, m.env_end - 1})
    if (a && a != ~uint64_t(0)) touched.push_back(a);
  const uint32_t eager_flags = format::kVmaLocked | format::kVmaDontFork | format::kVmaWipeOnFork;
  for (size_t i = 0; i < image.vmas.size(); ++i) {
    const Vma& v = image.vmas[i];
    if ((v.kind != VmaKind::AnonPrivate && v.kind != VmaKind::Heap) || !has_pages[i] || (v.flags & eager_flags) ||
        (v.prot & PROT_EXEC))
      continue;
    lazy[i] = std::none_of(touched.begin(), touched.end(), [&](uint64_t a) { return a >= v.start && a < v.end; });
  }
  return lazy;
}

static int open_userfaultfd() {
  constexpr int kFlags = O_CLOEXEC | O_NONBLOCK;
  int fd = int(syscall(SYS_userfaultfd, kFlags));
  if (fd >= 0) return fd;
  int err = errno;
  // Where vm.unprivileged_userfaultfd is 0, /dev/userfaultfd grants the
  // same to whoever may open it.
  int dev = ::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev >= 0) {
    fd = ioctl(dev, USERFAULTFD_IOC_NEW, kFlags);
    ::close(dev);
    if (fd >= 0) return fd;
  }
  throw RestoreError(std::string("--lazy: cannot create a userfaultfd: ") + std::strerror(err) +
                     (err == EPERM ? " (needs CAP_SYS_PTRACE, vm.unprivileged_userfaultfd=1 or access to "
                                     "/dev/userfaultfd); restore without --lazy"
                                   : "; restore without --lazy"));
}

// A userfaultfd with the events the page server needs, proven to register here.
static int ready_userfaultfd() {
  int fd = open_userfaultfd();
  uffdio_api api{UFFD_API, UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE |
                               UFFD_FEATURE_EVENT_UNMAP, 0};
  if (ioctl(fd, UFFDIO_API, &api) != 0) {
    int err = errno;
    ::close(fd);
    throw RestoreError(err == EPERM ? "--lazy: the page server's userfaultfd fork events need CAP_SYS_PTRACE, "
                                      "which this caller lacks; restore without --lazy"
                                    : std::string("--lazy: this kernel's userfaultfd lacks fork, mremap, munmap or "
                                                  "MADV_DONTNEED events (") + std::strerror(err) +
                                          "); restore without --lazy");
  }
  void* probe = mmap(nullptr, format::kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (probe == MAP_FAILED) {
    ::close(fd);
    throw RestoreError(std::string("--lazy: cannot map a probe page: ") + std::strerror(errno));
  }
  uffdio_register reg{{uint64_t(probe), format::kPageSize}, UFFDIO_REGISTER_MODE_MISSING, 0};
  int ok = ioctl(fd, UFFDIO_REGISTER, &reg), err = errno;
  uffdio_range range{uint64_t(probe), format::kPageSize};
  if (ok == 0) ioctl(fd, UFFDIO_UNREGISTER, &range);
  munmap(probe, format::kPageSize);
  if (ok != 0 || !(reg.ioctls & (uint64_t(1) << _UFFDIO_COPY)) || !(reg.ioctls & (uint64_t(1) << _UFFDIO_ZEROPAGE))) {
    ::close(fd);
    throw RestoreError(std::string("--lazy: cannot register anonymous memory with a userfaultfd: ") +
                       (ok != 0 ? std::strerror(err) : "no copy or zero-page operation"));
  }
  return fd;
}

void check_lazy_pages() { ::close(ready_userfaultfd()); }

// In the page server, before serving: no terminal, no signal from it, no
// file of the restored process held open, no directory kept busy.
static void detach(const std::vector<int>& keep) {
  setsid();
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2})
    signal(sig, SIG_IGN);
  prctl(PR_SET_NAME, "ckpt-lazy");
  if (chdir("/") != 0) _exit(1);
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
  }
  std::vector<int> k(keep);
  k.push_back(0), k.push_back(1), k.push_back(2);
  std::sort(k.begin(), k.end());
  unsigned from = 0;
  for (int fd : k) {
    if (unsigned(fd) > from) syscall(SYS_close_range, from, unsigned(fd) - 1, 0);
    from = unsigned(fd) + 1;
  }
  syscall(SYS_close_range, from, ~0u, 0);
}

LazyPages start_lazy_pages(const format::ImageReader& reader, std::vector<bool> lazy) {
  LazyPages lp;
  lp.lazy = std::move(lazy);
  PageServerSetup setup;
  for (size_t i = 0; i < lp.lazy.size(); ++i)
    if (lp.lazy[i]) setup.areas.push_back(reader.image().vmas[i]);
  lp.uffd = ready_userfaultfd();
  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0) {
    ::close(lp.uffd);
    throw RestoreError(std::string("--lazy: cannot create a pipe: ") + std::strerror(errno));
  }
  setup.uffd = lp.uffd;
  setup.go_fd = go[0];
  setup.target = getpid();
  if (const char* d = std::getenv("CKPT_LAZY_PREFETCH_DELAY_MS")) setup.prefetch_delay_ms = unsigned(std::atoi(d));
  // The middle process detaches first, so that once it has been reaped no
  // fd of the restored process is held by the server; then it forks the
  // server and exits, and the server is reparented: never the restored
  // process's child.
  pid_t mid = fork();
  if (mid == 0) {
    detach({lp.uffd, go[0], reader.fd()});
    pid_t server = fork();
    if (server == 0) serve_pages(reader, setup);
    _exit(server < 0 ? 1 : 0);
  }
  int status = 0;
  if (mid < 0 || waitpid(mid, &status, 0) != mid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ::close(lp.uffd);
    ::close(go[0]);
    ::close(go[1]);
    throw RestoreError(std::string("--lazy: cannot start the page server: ") + std::strerror(errno));
  }
  ::close(go[0]);
  lp.go_fd = go[1];
  return lp;
}

}  // namespace ckpt::restorer
