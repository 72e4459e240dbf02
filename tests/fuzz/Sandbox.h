// A throw-away child in which the fuzz target runs what has side effects:
// the restorer's file preparation (opens, creates and unlinks files, makes
// pipes and memfds) and staging (maps and fills memory). The child, forked
// per input, first makes the machine unreachable for writing:
//   - a user namespace of its own, in which it is uid/gid 0 (so that an
//     image saved by the caller passes the credentials check) while on the
//     machine it is nobody when the caller is root (the fuzzer's process
//     writes that mapping), else the caller itself; capabilities it has
//     hold only inside that namespace;
//   - a mount namespace owned by it, every mount made read-only, nosuid and
//     nodev (mount_setattr, recursive: no file written, no device opened),
//     and a private tmpfs on /dev/shm as the only writable place, with /tmp
//     an overlay whose writes go there (what /tmp held stays readable);
//   - a network namespace of its own (only a loopback interface, down),
//     so that the sockets of an image reach nothing;
//   - no_new_privs, RLIMIT_FSIZE 64 MiB, no core files, and
//     alarm(kSandboxSeconds) against hangs.
// Memory it may stage is bounded by the caller (kMaxSandboxPages).
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace ckpt::tests {

constexpr unsigned kSandboxSeconds = 5;
constexpr uint64_t kMaxSandboxPages = 16384;  // 64 MiB of saved pages staged at most

namespace sandbox_detail {

struct MountAttr {  // struct mount_attr (Linux 5.12), not in older headers
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};
constexpr uint64_t kAttrRdonly = 0x1, kAttrNosuid = 0x2, kAttrNodev = 0x4;
constexpr unsigned kAtRecursive = 0x8000;
#ifndef SYS_mount_setattr
constexpr long SYS_mount_setattr = 442;
#endif

// One byte through a pipe, again after a signal: libFuzzer's -timeout
// alarm interrupts reads (its handler has no SA_RESTART), and a parent
// that gave up on an interrupted read closed the pipe under the child's
// write, which then died of SIGPIPE ("the sandboxed child failed (signal 13)").
inline bool pipe_byte(int fd, bool write_it) {
  char c = 0;
  for (;;) {
    ssize_t n = write_it ? ::write(fd, &c, 1) : ::read(fd, &c, 1);
    if (n == 1) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

inline bool write_file(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t w;
  while ((w = ::write(fd, text.data(), text.size())) < 0 && errno == EINTR) {
  }
  bool ok = w == ssize_t(text.size());
  ::close(fd);
  return ok;
}

}  // namespace sandbox_detail

// In the forked child, once the fuzzer's process has written its id maps:
// locks it in. Returns false and sets *why if any step fails (the child
// must then not go on).
inline bool enter_sandbox(std::string* why) {
  using namespace sandbox_detail;
  auto fail = [&](const char* step) {
    *why = std::string(step) + ": " + std::strerror(errno);
    return false;
  };
  if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) return fail("taking the namespace's ids");
  if (setgroups(0, nullptr) != 0 && errno != EPERM) return fail("dropping groups");  // EPERM: "deny" was set
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail("making mounts private");
  MountAttr ro{kAttrRdonly | kAttrNosuid | kAttrNodev, 0, 0, 0};
  if (syscall(SYS_mount_setattr, AT_FDCWD, "/", kAtRecursive, &ro, sizeof ro) != 0) return fail("read-only mounts");
  if (mount("ckpt-fuzz", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777") != 0)
    return fail("tmpfs on /dev/shm");
  // /tmp: what it holds stays readable (the build tree, and so the files a
  // seed image maps, may well live there), writes go to the private tmpfs
  // through an overlay; where overlays cannot be mounted, an empty tmpfs.
  if (mkdir("/dev/shm/.upper", 0755) != 0 || mkdir("/dev/shm/.work", 0755) != 0) return fail("overlay folders");
  if (mount("ckpt-fuzz", "/tmp", "overlay", MS_NOSUID | MS_NODEV,
            "lowerdir=/tmp,upperdir=/dev/shm/.upper,workdir=/dev/shm/.work") != 0 &&
      mount("ckpt-fuzz", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777") != 0)
    return fail("a private /tmp");
  if (chdir("/tmp") != 0) return fail("chdir /tmp");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("no_new_privs");
  rlimit fsize{64u << 20, 64u << 20}, core{0, 0};
  if (setrlimit(RLIMIT_FSIZE, &fsize) != 0 || setrlimit(RLIMIT_CORE, &core) != 0) return fail("rlimits");
  signal(SIGALRM, SIG_DFL);
  alarm(kSandboxSeconds);
  return true;
}

// Exit statuses of the child, read by run_sandboxed's caller.
enum SandboxExit : int { kRefused = 0, kStaged = 4, kNoSandbox = 3 };

// Runs fn() in a forked, sandboxed child; fn returns a SandboxExit. The
// result: the child's exit status, or -signal (a hang ends in -SIGALRM).
template <class Fn>
int run_sandboxed(Fn fn) {
  using namespace sandbox_detail;
  int ready[2], go[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return kNoSandbox;
  if (pipe2(go, O_CLOEXEC) != 0) {
    ::close(ready[0]), ::close(ready[1]);
    return kNoSandbox;
  }
  pid_t child = fork();
  if (child == 0) {
    signal(SIGPIPE, SIG_IGN);  // as restore's main does: a write nobody reads is an error, not a death
    ::close(ready[0]), ::close(go[1]);
    // A network namespace of its own too: images may hold sockets, which
    // prepare_files creates, binds, listens on and sends to (and whose
    // multicast groups it joins); in a fresh namespace nothing is reachable.
    bool in = unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) == 0;
    if (!pipe_byte(ready[1], true) || !in || !pipe_byte(go[0], false)) {
      std::fprintf(stderr, "fuzz_image: no sandbox: %s\n", in ? "the id maps were not written" : std::strerror(errno));
      _exit(kNoSandbox);
    }
    std::string why;
    if (!enter_sandbox(&why)) {
      std::fprintf(stderr, "fuzz_image: no sandbox: %s\n", why.c_str());
      _exit(kNoSandbox);
    }
    _exit(fn());
  }
  ::close(ready[1]), ::close(go[0]);
  if (child > 0) {
    // uid/gid 0 inside: nobody outside for root, the caller itself otherwise.
    const std::string proc = "/proc/" + std::to_string(child) + "/";
    const uid_t outside_uid = getuid() == 0 ? 65534 : getuid();
    const gid_t outside_gid = getuid() == 0 ? 65534 : getgid();
    bool ok = pipe_byte(ready[0], false) &&
              (getuid() == 0 || write_file((proc + "setgroups").c_str(), "deny")) &&
              write_file((proc + "uid_map").c_str(), "0 " + std::to_string(outside_uid) + " 1") &&
              write_file((proc + "gid_map").c_str(), "0 " + std::to_string(outside_gid) + " 1");
    if (ok) (void)pipe_byte(go[1], true);
  }
  ::close(ready[0]), ::close(go[1]);
  if (child < 0) return kNoSandbox;
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace ckpt::tests
