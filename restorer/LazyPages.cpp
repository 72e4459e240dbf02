// restore --lazy, the launcher's side (see LazyPages.h).
#include "restorer/LazyPages.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "format/Checksum.h"
#include "format/Hex.h"
#include "restorer/NetworkPages.h"
#include "restorer/PageServer.h"
#include "restorer/RestoreError.h"
#include "restorer/WorkingSet.h"
#include "x86/Syscall.h"

namespace ckpt::restorer {

using format::Vma;
using format::VmaKind;

std::vector<bool> choose_lazy(const format::Image& image) {
  std::vector<bool> lazy(image.vmas.size(), false);
  const std::vector<bool> has_pages = format::vmas_with_pages(image);
  // An area holding pages inherited from the parent keeps the parent's
  // staged copy of them (ChildPages.h): nothing for a server to bring in.
  std::vector<bool> inherits(image.vmas.size(), false);
  const std::vector<size_t> chunk_vma = format::chunk_vmas(image);
  for (size_t ci = 0; ci < image.chunks.size(); ++ci)
    if (image.chunks[ci].inherited()) inherits[chunk_vma[ci]] = true;
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
  std::sort(touched.begin(), touched.end());  // searched per VMA: a scan each would be V x threads
  // Huge-page memory takes whole huge pages from userfaultfd, and droppable
  // memory may be dropped under the server: both are filled eagerly.
  // MADV_DONTFORK stays lazy (V8 marks node's heap so): a fork simply has
  // no such area, and the server's copies into the fork's space fail with
  // ENOENT, which settles those pages (e2e.lazy.state_dontfork).
  const uint32_t eager_flags = format::kVmaLocked | format::kVmaWipeOnFork |
                               format::kVmaHugetlb | format::kVmaDroppable;
  for (size_t i = 0; i < image.vmas.size(); ++i) {
    const Vma& v = image.vmas[i];
    // An area with guard pages is filled eagerly too: the server's filling would lose them.
    if ((v.kind != VmaKind::AnonPrivate && v.kind != VmaKind::Heap) || !has_pages[i] || inherits[i] ||
        (v.flags & eager_flags) ||
        !v.guards.empty() ||
        (v.prot & PROT_EXEC))
      continue;
    auto first = std::lower_bound(touched.begin(), touched.end(), v.start);
    lazy[i] = first == touched.end() || *first >= v.end;
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
  // THREAD_ID: a fault names its thread, which is how the server finds a
  // forked child to kill when the chunk it waits for proves corrupt.
  uffdio_api api{UFFD_API, UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE |
                               UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_THREAD_ID, 0};
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

// The page server is `restore` itself, run again in its hidden server mode
// (run_page_server below), started first thing so that its exec and its
// own reading of the image overlap the launcher's. A middle process shares
// this one's memory (a clone with CLONE_VM: nothing copied, no
// copy-on-write faults) and makes the server with a vfork-style clone; it
// exits once the server runs `restore` (or has died), so the server is
// reparented and never the restored process's child. The launcher reaps
// the middle just before its point of no return. Fixed fds in the server:
// a pidfd of this very process (the restored one), so that the server can
// only ever signal it, never whatever process gets its number later; and,
// for --learn, the image's directory (O_PATH), where the server writes
// IMAGE.ws (it runs in / and its image path may be relative); for a
// post-copy migration, its connection (NetworkPages.h), else /dev/null.
enum : int { kServerImageFd = 3, kServerUffd = 4, kServerGoFd = 5, kServerPidFd = 6, kServerWsDir = 7, kServerNetFd = 8,
             kServerFds = 9 };
constexpr size_t kSpawnStack = 64 * 1024;

namespace {

// At the start of the spawn area: [Spawn][the server's stack][the middle's stack].
struct Spawn {
  int sources[kServerFds];  // what becomes fd 0..5 of the server (-1: 2 stays)
  const char* argv[5];
  char* const* envp;
  char target[16];
  char path[4096];
  unsigned long mask;  // the launcher's signal mask, which the server gets back
};

// Both clones run on their own stacks in this process's memory, beside
// its threads: raw system calls only (no errno, no TLS, no allocation).
int exec_server(void* arg) {
  const Spawn* s = static_cast<const Spawn*>(arg);
  x86::syscall0(SYS_setsid);
  // Every source first to a high number without FD_CLOEXEC, then onto its
  // place: a source may already sit on another one's target.
  int high[kServerFds];
  for (int i = 0; i < kServerFds; ++i)
    high[i] = s->sources[i] < 0 ? -1 : int(x86::syscall3(SYS_fcntl, s->sources[i], F_DUPFD, 64 + i));
  for (int i = 0; i < kServerFds; ++i)
    if (high[i] >= 0 && x86::syscall2(SYS_dup2, high[i], i) != i) x86::syscall1(SYS_exit, 127);
  x86::syscall3(SYS_close_range, kServerFds, ~0u, 0);
  x86::set_signal_mask(s->mask);
  x86::syscall3(SYS_execve, long("/proc/self/exe"), long(s->argv), long(s->envp));
  x86::syscall1(SYS_exit, 127);
  return 127;
}

// Exit status 0 once the server runs `restore`: a vfork-style clone comes
// back when the child has exec'd or died, and a dead one is a zombie here.
int middle(void* arg) {
  auto* area = static_cast<uint8_t*>(arg);
  long server = clone(exec_server, area + 2 * kSpawnStack, CLONE_VM | CLONE_VFORK | SIGCHLD, area);
  x86::syscall1(SYS_exit, server < 0 || x86::syscall4(SYS_wait4, server, 0, WNOHANG, 0) != 0 ? 1 : 0);
  return 0;
}

// The lazy areas as a digest: the server, which reads the image itself,
// must choose exactly the areas the launcher registers.
std::string areas_digest(const format::Image& image, const std::vector<bool>& lazy) {
  std::vector<uint64_t> ranges;
  for (size_t i = 0; i < lazy.size(); ++i)
    if (lazy[i]) ranges.insert(ranges.end(), {image.vmas[i].start, image.vmas[i].end});
  return format::hex(format::checksum(ranges.data(), ranges.size() * sizeof(uint64_t)));
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

LazyPages::~LazyPages() {
  close_fd(uffd);
  close_fd(go_fd);
  if (middle_ > 0) waitpid(middle_, nullptr, 0);  // it runs on our memory: gone before that is
  if (spawn_area_) munmap(spawn_area_, 3 * kSpawnStack);
}

std::unique_ptr<LazyPages> start_page_server(int image_fd, const std::string& image_path, PageServerOptions options) {
  auto lp = std::make_unique<LazyPages>();
  lp->learn = options.learn;
  lp->verbose = options.verbose;
  lp->image_path = image_path;
  lp->uffd = ready_userfaultfd();
  if (image_path.size() >= sizeof(Spawn::path)) throw RestoreError("--lazy: the image's path is too long");
  int go[2];
  int self = int(syscall(SYS_pidfd_open, getpid(), 0));  // close-on-exec by itself
  if (self < 0)
    throw RestoreError(std::string("--lazy: cannot open a pidfd for the page server: ") + std::strerror(errno));
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || pipe2(go, O_CLOEXEC) != 0) {
    int err = errno;
    if (null >= 0) ::close(null);
    ::close(self);
    throw RestoreError(std::string("--lazy: cannot create the page server's pipe: ") + std::strerror(err));
  }
  lp->go_fd = go[1];
  int dir = null;  // fd 7 of a server that does not learn: /dev/null, never an fd of the launcher's
  if (options.learn) {
    const size_t slash = image_path.rfind('/');
    const std::string d = slash == std::string::npos ? "." : slash == 0 ? "/" : image_path.substr(0, slash);
    dir = ::open(d.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
      int err = errno;
      ::close(null), ::close(go[0]), ::close(self);
      throw RestoreError("--learn: cannot open the image's directory " + d + ": " + std::strerror(err));
    }
  }
  void* m = mmap(nullptr, 3 * kSpawnStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    int err = errno;
    ::close(null), ::close(go[0]), ::close(self);
    if (dir != null) ::close(dir);
    throw RestoreError(std::string("--lazy: cannot map the page server's start-up stacks: ") + std::strerror(err));
  }
  lp->spawn_area_ = static_cast<uint8_t*>(m);
  const int net = network_pages_connection();
  auto* s = new (m) Spawn{{null, null, -1, image_fd, lp->uffd, go[0], self, dir, net >= 0 ? net : null}, {}, environ, {}, {}};
  std::snprintf(s->target, sizeof s->target, "%d", int(getpid()));
  std::memcpy(s->path, image_path.c_str(), image_path.size() + 1);
  s->argv[0] = "restore", s->argv[1] = "--page-server", s->argv[2] = s->target, s->argv[3] = s->path;
  // Both clones run on this process's memory with its TLS: no signal may
  // be handled there, so they start with every signal blocked (raw, all 64
  // bits) and the server gets the launcher's mask back just before its exec.
  x86::block_all_signals(&s->mask);
  lp->middle_ = clone(middle, lp->spawn_area_ + 3 * kSpawnStack, CLONE_VM | SIGCHLD, m);
  int err = errno;
  x86::set_signal_mask(s->mask);
  ::close(null), ::close(go[0]), ::close(self);  // the middle has copies: its fd table was copied at the clone
  if (dir != null) ::close(dir);
  if (lp->middle_ < 0) throw RestoreError(std::string("--lazy: cannot start the page server: ") + std::strerror(err));
  return lp;
}

void commit_lazy_areas(LazyPages& lp, const format::Image& image, const std::vector<bool>& lazy) {
  // With a working set beside the image (brought in after staging, unless
  // it proves bad), the server holds background copying back until the
  // program goes idle: copying while the program works slows it down
  // (mmap_lock, the other core) for pages it does not need yet.
  struct stat st;
  const bool ws = !lp.learn && stat(working_set_path(lp.image_path).c_str(), &st) == 0 && S_ISREG(st.st_mode);
  std::string line = areas_digest(image, lazy) + (lp.learn ? " learn" : "") + (lp.verbose ? " verbose" : "") +
                     (ws ? " hold" : "") +
                     (network_pages_connection() >= 0 ? " net" : "") + "\n";
  if (::write(lp.go_fd, line.data(), line.size()) != ssize_t(line.size()))
    throw RestoreError(std::string("--lazy: cannot reach the page server: ") + std::strerror(errno));
}

void confirm_page_server(LazyPages& lp) {
  int status = 0;
  pid_t r = waitpid(lp.middle_, &status, 0);
  lp.middle_ = -1;
  munmap(lp.spawn_area_, 3 * kSpawnStack);
  lp.spawn_area_ = nullptr;
  if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw RestoreError("--lazy: cannot start the page server (cannot run /proc/self/exe)");
}

namespace {

// SIGTERM, SIGHUP, SIGINT: finish now (PageServer.h). The server never
// simply stops: pages it has not copied would then read as zeros.
volatile sig_atomic_t g_finish_now = 0;
void on_finish_signal(int) { g_finish_now = 1; }

// Everything the server needs from root's powers was used by the launcher
// (the userfaultfd with fork events, CAP_SYS_PTRACE, is made; the image is
// open). What stays: CAP_KILL, if it had it, and only in case a restored
// process has since changed its user ids, so that the server can still kill
// it through its pidfd when a chunk proves corrupt. No capability can come
// back: no_new_privs is set (no exec gains any), and with CAP_SETPCAP (root)
// the bounding set is emptied and the root uid gains nothing on exec
// either (SECBIT_NOROOT, locked).
void drop_capabilities() {
  __user_cap_header_struct head{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &head, data) != 0) return;
  const bool had_kill = data[0].effective & (1u << CAP_KILL);
  prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                               SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED, 0, 0, 0);
  for (int cap = 0; cap <= 63; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);  // EINVAL past the last one
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  __user_cap_data_struct keep[2] = {};
  if (had_kill) keep[0].effective = keep[0].permitted = 1u << CAP_KILL;
  syscall(SYS_capset, &head, keep);
}

}  // namespace

int run_page_server(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "restore --page-server: internal use only\n");
    return 2;
  }
  drop_capabilities();
  for (int sig : {SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2}) signal(sig, SIG_IGN);
  struct sigaction finish = {};
  finish.sa_handler = on_finish_signal;
  finish.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGHUP, SIGINT}) sigaction(sig, &finish, nullptr);
  prctl(PR_SET_NAME, "ckpt-lazy");
  const pid_t target = pid_t(std::atol(argv[2]));
  // Once the launcher has said which areas are lazy, it goes on to its
  // point of no return without waiting: what cannot be served from then
  // on has to end the restored process, as a corrupt chunk found later does.
  std::string said;
  char c;
  while (::read(kServerGoFd, &c, 1) == 1 && c != '\n') said += c;
  if (said.empty()) return 0;  // the launcher stopped before: nothing to serve
  // The digest, then what else the launcher asks for, as words.
  bool learn = false, verbose = false, hold = false, net = false;
  for (size_t sp; (sp = said.rfind(' ')) != std::string::npos; said.resize(sp)) {
    const std::string word = said.substr(sp + 1);
    learn |= word == "learn";
    verbose |= word == "verbose";
    hold |= word == "hold";
    net |= word == "net";
  }
  auto give_up = [&](const std::string& why) {
    syscall(SYS_pidfd_send_signal, kServerPidFd, SIGKILL, nullptr, 0);
    std::fprintf(stderr, "restore --lazy: %s; the restored process %d was killed\n", why.c_str(), int(target));
    return 1;
  };
  if (chdir("/") != 0) return give_up(std::string("the page server cannot change to /: ") + std::strerror(errno));
  try {
    static format::ImageReader reader(kServerImageFd);  // static: serve_pages never returns
    std::vector<bool> lazy = choose_lazy(reader.image());
    if (areas_digest(reader.image(), lazy) != said) return give_up(std::string(argv[3]) + " changed while it was being restored");
    PageServerSetup setup;
    for (size_t i = 0; i < lazy.size(); ++i)
      if (lazy[i]) setup.areas.push_back(reader.image().vmas[i]);
    setup.uffd = kServerUffd;
    setup.go_fd = kServerGoFd;
    setup.target = target;
    setup.target_pidfd = kServerPidFd;
    setup.finish_now = &g_finish_now;
    setup.verbose = verbose;
    setup.hold_until_idle = hold;
    if (learn) {
      const std::string path = working_set_path(argv[3]);
      const size_t slash = path.rfind('/');
      setup.learn = true;
      setup.ws_dir_fd = kServerWsDir;
      setup.ws_name = slash == std::string::npos ? path : path.substr(slash + 1);
      setup.ws_shown = path;
      setup.image_id = format::image_identity(reader);
    }
    if (const char* d = std::getenv("CKPT_LAZY_PREFETCH_DELAY_MS")) setup.prefetch_delay_ms = unsigned(std::atoi(d));
    if (net) setup.pages = new NetworkPages(kServerNetFd, kServerImageFd, reader.image(), verbose);  // lives until _exit
    serve_pages(reader, setup);
  } catch (const std::exception& e) {
    return give_up(std::string("the page server cannot read ") + argv[3] + ": " + e.what());
  }
}

}  // namespace ckpt::restorer
