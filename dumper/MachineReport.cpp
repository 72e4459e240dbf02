// `ckpt check` (see MachineReport.h). Each probe makes the very call dump or
// restore would make, in a child process when it changes anything about the
// caller (namespaces, tracing), and reports the errno it got.
#include "dumper/MachineReport.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <ostream>
#include <sstream>

#include "format/Image.h"
#include "format/Printable.h"
#include "x86/PagemapScan.h"

namespace ckpt::dumper {

namespace {

using x86::PmScanArg;
using x86::PageRegion;
using x86::kPagemapScan;

// From the kernel's uapi headers newer than Debian 12's (6.1).
constexpr int kCapCheckpointRestore = 40;
constexpr int kMadvPopulateWrite = 23;
constexpr uint64_t kUffdFeatureWpAsync = 1u << 15;
struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

// What the ptrace trial reads and writes in its target (same address in
// every forked copy of this process).
volatile uint64_t probe_word = 0x636b7074;

std::string errno_text(const char* call, int err) { return std::string(call) + ": " + std::strerror(err); }

std::string read_text(const char* path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  std::string t = s.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return in ? t : std::string();
}

bool exists(const char* path) { return access(path, F_OK) == 0; }

// Runs `trial` in a child process and returns what it returned ("" for
// success, else why it failed), or why the child did not report.
std::string in_child(const std::function<std::string()>& trial) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return errno_text("pipe", errno);
  pid_t child = fork();
  if (child < 0) {
    int err = errno;
    ::close(p[0]);
    ::close(p[1]);
    return errno_text("fork", err);
  }
  if (child == 0) {
    ::close(p[0]);
    std::string r;
    try {
      r = trial();
    } catch (const std::exception& e) {
      r = e.what();
    }
    r = "=" + r;
    (void)!::write(p[1], r.data(), r.size());
    _exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR);)
    if (n > 0) out.append(buf, size_t(n));
  ::close(p[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (out.empty() || out[0] != '=')
    return "the trial process died (wait status " + std::to_string(status) + ")";
  return out.substr(1);
}

uint64_t effective_caps() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return 0;
  return uint64_t(data[0].effective) | uint64_t(data[1].effective) << 32;
}

// Traces a sibling (never a child: Yama's scope 1 lets anyone trace their
// own descendants, which would hide the limit `ckpt dump PID` meets), reads
// and writes its memory as the dumper does. Adds ptrace, /proc and
// process_vm_readv/writev findings.
void probe_tracing(std::vector<Finding>& out) {
  std::string yama = read_text("/proc/sys/kernel/yama/ptrace_scope");
  const char* scope_text = yama == "0"   ? "Yama ptrace_scope 0: any process of the same user"
                           : yama == "1" ? "Yama ptrace_scope 1: only descendants, unless CAP_SYS_PTRACE"
                           : yama == "2" ? "Yama ptrace_scope 2: only with CAP_SYS_PTRACE"
                           : yama == "3" ? "Yama ptrace_scope 3: no tracing at all"
                                         : "no Yama restrictions";
  pid_t target = fork();
  if (target < 0) {
    out.push_back({"ptrace", false, true, errno_text("fork", errno), ""});
    return;
  }
  if (target == 0) {
    for (;;) pause();
  }
  // Three answers, one line each: ptrace, /proc, process_vm.
  std::string r = in_child([target]() -> std::string {
    std::string res[3] = {"", "", ""};
    if (ptrace(PTRACE_SEIZE, target, 0, 0) != 0) {
      int err = errno;
      res[0] = errno_text("PTRACE_SEIZE of a process that is not a child", err);
      res[2] = "not tried (no ptrace)";
    } else {
      int status = 0;
      if (ptrace(PTRACE_INTERRUPT, target, 0, 0) != 0 || waitpid(target, &status, __WALL) != target)
        res[0] = errno_text("PTRACE_INTERRUPT", errno);
      uint64_t word = 0, put = 0x636b7074;
      iovec local{&word, sizeof word}, remote{const_cast<uint64_t*>(&probe_word), sizeof word};
      if (process_vm_readv(target, &local, 1, &remote, 1, 0) != ssize_t(sizeof word))
        res[2] = errno_text("process_vm_readv", errno);
      else if (word != 0x636b7074)
        res[2] = "process_vm_readv read the wrong bytes";
      local = {&put, sizeof put};
      if (res[2].empty() && process_vm_writev(target, &local, 1, &remote, 1, 0) != ssize_t(sizeof put))
        res[2] = errno_text("process_vm_writev", errno);
      ptrace(PTRACE_DETACH, target, 0, 0);
    }
    const std::string proc = "/proc/" + std::to_string(target);
    for (const char* f : {"/maps", "/pagemap", "/mem"}) {
      int fd = ::open((proc + f).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        res[1] = errno_text(("open " + std::string("/proc/PID") + f).c_str(), errno);
        break;
      }
      ::close(fd);
    }
    return res[0] + "\n" + res[1] + "\n" + res[2];
  });
  kill(target, SIGKILL);
  while (waitpid(target, nullptr, 0) < 0 && errno == EINTR) {
  }
  std::string res[3];
  std::istringstream lines(r);
  for (std::string& s : res) std::getline(lines, s);
  if (r.find('\n') == std::string::npos) res[0] = res[1] = res[2] = r;  // the trial itself failed
  std::string advice = yama == "1" || yama == "2"
                           ? "as root: sysctl kernel.yama.ptrace_scope=0; or run ckpt with CAP_SYS_PTRACE (e.g. as root)"
                       : yama == "3" ? "kernel.yama.ptrace_scope 3 cannot be lowered until reboot; no dump is possible here"
                                     : "run ckpt as the owner of the processes to dump, or as root (CAP_SYS_PTRACE)";
  out.push_back({"ptrace", res[0].empty(), true,
                 res[0].empty() ? std::string("may trace processes it did not start (") + scope_text + ")"
                                : res[0] + " (" + scope_text + ")",
                 advice});
  out.push_back({"/proc", res[1].empty(), true,
                 res[1].empty() ? "a traced process's maps, pagemap and mem can be opened" : res[1],
                 "mount /proc (mount -t proc proc /proc) without hidepid for this user"});
  out.push_back({"process_vm_readv/writev", res[2].empty(), true,
                 res[2].empty() ? "read and write a traced process's memory" : res[2],
                 "the kernel needs CONFIG_CROSS_MEMORY_ATTACH, and seccomp must allow the calls"});
}

void probe_caps(std::vector<Finding>& out) {
  const uint64_t caps = effective_caps();
  struct Cap {
    int bit;
    const char* name;
    const char* use;
  };
  const Cap list[] = {
      {CAP_SYS_PTRACE, "CAP_SYS_PTRACE", "dump processes of other users; userfaultfd fork events for restore --lazy"},
      {kCapCheckpointRestore, "CAP_CHECKPOINT_RESTORE", "saved pids for a tree's members, the saved exe link, map_files"},
      {CAP_SYS_ADMIN, "CAP_SYS_ADMIN", "restore --pid-ns, time namespaces (with CAP_SYS_TIME), a process's own seccomp filters (read, "
                                       "suspended for ckpt's calls; also needs ckpt outside seccomp), what CAP_CHECKPOINT_RESTORE allows"},
      {CAP_NET_ADMIN, "CAP_NET_ADMIN", "dump --tcp-established and the restore of those connections (TCP_REPAIR)"},
      {CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE", "the saved [heap]/[stack] layout (PR_SET_MM), raising limits"},
  };
  for (const Cap& c : list) {
    bool has = caps >> c.bit & 1;
    out.push_back({c.name, has, false, std::string(has ? "held (for: " : "not held (needed for: ") + c.use + ")",
                   "run as root, or grant it (e.g. setcap, or a capability-aware service manager)"});
  }
}

int open_userfaultfd(int* err) {
  int fd = int(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (fd >= 0) return fd;
  *err = errno;
  int dev = ::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev >= 0) {
    fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    ::close(dev);
  }
  return fd;
}

void probe_userfaultfd(std::vector<Finding>& out) {
  int err = 0;
  int fd = open_userfaultfd(&err);
  if (fd < 0) {
    const std::string why = errno_text("userfaultfd", err);
    out.push_back({"userfaultfd", false, false, why,
                   "as root: sysctl vm.unprivileged_userfaultfd=1, or give this user access to /dev/userfaultfd"});
    out.push_back({"--lazy", false, false, "restore --lazy needs a userfaultfd: " + why, "restore without --lazy"});
    return;
  }
  uffdio_api all{UFFD_API, 0, 0};
  std::string features;
  if (ioctl(fd, UFFDIO_API, &all) == 0) {
    features = std::string("write-protect ") + (all.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP ? "yes" : "no") +
               ", asynchronous write-protect " + (all.features & kUffdFeatureWpAsync ? "yes" : "no") +
               ", minor faults on shmem " + (all.features & UFFD_FEATURE_MINOR_SHMEM ? "yes" : "no");
  }
  ::close(fd);
  out.push_back({"userfaultfd", true, false, "can be created" + (features.empty() ? "" : " (" + features + ")"), ""});

  // What restore --lazy asks of it (restorer/LazyPages.cpp).
  fd = open_userfaultfd(&err);
  std::string lazy;
  uffdio_api api{UFFD_API, UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE |
                               UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_THREAD_ID, 0};
  if (fd < 0) {
    lazy = errno_text("userfaultfd", err);
  } else if (ioctl(fd, UFFDIO_API, &api) != 0) {
    lazy = errno == EPERM ? "its fork events need CAP_SYS_PTRACE" : errno_text("UFFDIO_API with fork and unmap events", errno);
  } else {
    void* page = mmap(nullptr, format::kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uffdio_register reg{{uint64_t(page), format::kPageSize}, UFFDIO_REGISTER_MODE_MISSING, 0};
    if (page == MAP_FAILED || ioctl(fd, UFFDIO_REGISTER, &reg) != 0)
      lazy = errno_text("UFFDIO_REGISTER of anonymous memory", errno);
    else if (!(reg.ioctls & (uint64_t(1) << _UFFDIO_COPY)) || !(reg.ioctls & (uint64_t(1) << _UFFDIO_ZEROPAGE)))
      lazy = "no UFFDIO_COPY or UFFDIO_ZEROPAGE on anonymous memory";
    else
      ioctl(fd, UFFDIO_UNREGISTER, &reg.range);
    // Closed before the unmap: with the unmap event asked for, munmap of a
    // registered range would wait for a reader of that event.
    ::close(fd);
    fd = -1;
    if (page != MAP_FAILED) munmap(page, format::kPageSize);
  }
  if (fd >= 0) ::close(fd);
  out.push_back({"--lazy", lazy.empty(), false,
                 lazy.empty() ? "restore --lazy can bring memory in on first touch" : "restore --lazy: " + lazy,
                 "run restore --lazy as root (CAP_SYS_PTRACE), or restore without --lazy"});
}

void probe_namespaces(std::vector<Finding>& out) {
  // As restore does (restorer/TimeNamespace.cpp): unshare, set the
  // offsets, then move itself in.
  std::string timens = in_child([]() -> std::string {
    if (unshare(CLONE_NEWTIME) != 0) return errno_text("unshare(CLONE_NEWTIME)", errno);
    int fd = ::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno_text("open /proc/self/timens_offsets", errno);
    const char offsets[] = "monotonic 1 0\nboottime 1 0\n";
    if (::write(fd, offsets, sizeof offsets - 1) < 0) return errno_text("write timens_offsets", errno);
    ::close(fd);
    fd = ::open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWTIME) != 0) return errno_text("setns(time_for_children)", errno);
    return "";
  });
  out.push_back({"time namespace", timens.empty(), false,
                 timens.empty() ? "restored clocks go on from the dump (CLOCK_MONOTONIC, CLOCK_BOOTTIME)"
                                : timens + "; restored CLOCK_MONOTONIC jumps ahead by the time since the dump",
                 "run restore as root (CAP_SYS_ADMIN and CAP_SYS_TIME), or accept the jump with restore --host-clocks"});

  // restore --pid-ns (restorer/PidNamespace.cpp): pid and mount namespaces,
  // an init of its own, /proc mounted in them, clone3 with set_tid.
  std::string pidns = in_child([]() -> std::string {
    if (syscall(SYS_clone3, nullptr, 0) < 0 && errno == ENOSYS) return "no clone3 (Linux 5.5)";
    if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) return errno_text("unshare(CLONE_NEWPID | CLONE_NEWNS)", errno);
    pid_t init = fork();
    if (init < 0) return errno_text("fork into the pid namespace", errno);
    if (init == 0) {
      if (getpid() != 1) _exit(10);
      if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(11);
      if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) _exit(12);
      _exit(0);
    }
    int status = 0;
    waitpid(init, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return WIFEXITED(status) && WEXITSTATUS(status) == 12 ? "cannot mount /proc in a new pid namespace"
             : WIFEXITED(status) && WEXITSTATUS(status) == 11 ? "cannot make the new mount namespace private"
                                                               : "the new pid namespace's init failed";
    return "";
  });
  out.push_back({"--pid-ns", pidns.empty(), false,
                 pidns.empty() ? "restore --pid-ns can give the saved pids in a pid namespace of its own"
                               : "restore --pid-ns: " + pidns,
                 "run restore --pid-ns as root (CAP_SYS_ADMIN), or restore without it"});

  // A tree's members get their saved pids (restorer/MemberLaunch.cpp):
  // clone3 asking for a pid that is taken (this very process's) fails with
  // EEXIST when choosing is allowed, EPERM when it is not; no process is made.
  std::string set_tid = in_child([]() -> std::string {
    pid_t wanted = getppid();
    CloneArgs args{};
    args.exit_signal = SIGCHLD;
    args.set_tid = uint64_t(&wanted);
    args.set_tid_size = 1;
    long r = syscall(SYS_clone3, &args, sizeof args);
    if (r == 0) _exit(0);  // cannot happen (the pid is taken); never run on
    if (r > 0) {
      waitpid(pid_t(r), nullptr, 0);
      return "";
    }
    return errno == EEXIST ? "" : errno_text("clone3 with set_tid", errno);
  });
  out.push_back({"saved pids", set_tid.empty(), false,
                 set_tid.empty() ? "a tree's members get their saved pids back (clone3 set_tid)"
                                 : set_tid + "; a tree's members cannot get their saved pids",
                 "restore trees as root (CAP_CHECKPOINT_RESTORE), or with restore --new-pids or --pid-ns"});
}

void probe_memory_calls(std::vector<Finding>& out) {
  void* page = mmap(nullptr, format::kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    out.push_back({"MADV_POPULATE_WRITE", false, false, errno_text("mmap", errno), ""});
    return;
  }
  bool populate = madvise(page, format::kPageSize, kMadvPopulateWrite) == 0;
  int populate_err = errno;
  out.push_back({"MADV_POPULATE_WRITE", populate, false,
                 populate ? "restore makes staged pages present in one call"
                          : errno_text("madvise(MADV_POPULATE_WRITE)", populate_err) + "; restore faults pages in one by one (slower)",
                 "Linux 5.14 or newer"});
  std::string scan;
  int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    scan = errno_text("open /proc/self/pagemap", errno);
  } else {
    PageRegion regions[4];
    PmScanArg arg{};
    arg.size = sizeof arg;
    arg.start = uint64_t(page);
    arg.end = uint64_t(page) + format::kPageSize;
    arg.vec = uint64_t(regions);
    arg.vec_len = 4;
    arg.category_anyof_mask = arg.return_mask = 0xff;
    if (ioctl(fd, kPagemapScan, &arg) < 0) scan = errno_text("ioctl(PAGEMAP_SCAN)", errno);
    ::close(fd);
  }
  munmap(page, format::kPageSize);
  out.push_back({"PAGEMAP_SCAN", scan.empty(), false,
                 scan.empty() ? "guard pages are found and kept; written-page tracking for incremental dumps"
                              : scan + "; guard pages are not seen (and incremental dumps are not possible)",
                 "Linux 6.7 or newer"});
}

void probe_huge_pages(std::vector<Finding>& out) {
  std::string thp = read_text("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode = "unknown";
  if (size_t a = thp.find('['), b = thp.find(']'); a != std::string::npos && b > a) mode = thp.substr(a + 1, b - a - 1);
  out.push_back({"transparent huge pages", !thp.empty(), false,
                 thp.empty() ? "not available (no /sys/kernel/mm/transparent_hugepage)"
                             : "mode " + mode + " (areas keep their MADV_HUGEPAGE / MADV_NOHUGEPAGE advice)",
                 "a kernel with CONFIG_TRANSPARENT_HUGEPAGE"});
  std::ifstream meminfo("/proc/meminfo");
  std::string line, total = "0", free = "0", size = "?";
  while (std::getline(meminfo, line)) {
    std::istringstream s(line);
    std::string key, value;
    s >> key >> value;
    if (key == "HugePages_Total:") total = value;
    if (key == "HugePages_Free:") free = value;
    if (key == "Hugepagesize:") size = value + " kB";
  }
  out.push_back({"hugetlb pages", free != "0", false,
                 free + " of " + total + " huge pages of " + size + " free (images with MAP_HUGETLB areas need them)",
                 "as root: sysctl vm.nr_hugepages=N before restoring images that use MAP_HUGETLB"});
}

void probe_binfmt(std::vector<Finding>& out, const std::string& restore) {
  const bool mounted = exists("/proc/sys/fs/binfmt_misc/register");
  std::string entry = read_text("/proc/sys/fs/binfmt_misc/ckpt");
  std::string interpreter;
  if (size_t at = entry.find("interpreter "); at != std::string::npos)
    interpreter = entry.substr(at + 12, entry.find('\n', at) - at - 12);
  const bool enabled = entry.rfind("enabled", 0) == 0;
  std::string detail = !mounted    ? "binfmt_misc is not mounted at /proc/sys/fs/binfmt_misc: ./IMAGE does not run"
                       : entry.empty() ? "no 'ckpt' entry: ./IMAGE does not run by itself"
                       : !enabled  ? "the 'ckpt' entry is disabled"
                                   : "./IMAGE runs " + interpreter;
  if (enabled && !restore.empty() && interpreter != restore) detail += " (not " + restore + ")";
  out.push_back({"binfmt_misc", mounted && enabled, false, detail,
                 mounted ? "as root: restore --install-binfmt"
                         : "as root: mount -t binfmt_misc none /proc/sys/fs/binfmt_misc, then restore --install-binfmt"});
}

void probe_tcp_repair(std::vector<Finding>& out) {
  std::string r;
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1, err = 0;
  if (s < 0) err = errno, r = errno_text("socket(AF_INET)", err);
  else if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) != 0) err = errno, r = errno_text("setsockopt(TCP_REPAIR)", err);
  if (s >= 0) ::close(s);
  out.push_back({"--tcp-established", r.empty(), false,
                 r.empty() ? "established TCP connections can be dumped and restored (TCP_REPAIR)"
                           : "dump --tcp-established: " + r + (err == EPERM ? " (needs CAP_NET_ADMIN)" : ""),
                 "run ckpt and restore as root (CAP_NET_ADMIN in the connection's network namespace)"});
}

void probe_restore(std::vector<Finding>& out, const std::string& restore) {
  if (restore.empty()) {
    out.push_back({"restore", false, true, "no restore program beside ckpt or on PATH",
                   "install restore beside ckpt (cmake --install) or put it on PATH"});
    return;
  }
  // Run directly, not through a shell: a minimal root (a container, the
  // package test's chroot) may have none.
  std::string version;
  int p[2];
  if (pipe2(p, O_CLOEXEC) == 0) {
    pid_t child = fork();
    if (child == 0) {
      dup2(p[1], 1);
      dup2(p[1], 2);
      execl(restore.c_str(), "restore", "--version", static_cast<char*>(nullptr));
      _exit(127);
    }
    ::close(p[1]);
    char buf[256];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR);)
      if (n > 0) version.append(buf, size_t(n));
    ::close(p[0]);
    if (child > 0)
      while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
      }
  }
  while (!version.empty() && version.back() == '\n') version.pop_back();
  const std::string wanted = "image format " + std::to_string(format::kVersion);
  const bool fits = version.find(wanted + ",") != std::string::npos || version.find(wanted + ")") != std::string::npos;
  out.push_back({"restore", fits, true,
                 restore + (version.empty() ? ": gives no version" : ": " + version) +
                     (fits ? "" : "; ckpt writes " + wanted),
                 "install ckpt and restore from the same build"});
}

}  // namespace

std::vector<Finding> probe_machine(const std::string& restore) {
  std::vector<Finding> out;
  probe_restore(out, restore);
  probe_tracing(out);
  probe_caps(out);
  probe_userfaultfd(out);
  probe_namespaces(out);
  probe_tcp_repair(out);
  probe_memory_calls(out);
  probe_huge_pages(out);
  probe_binfmt(out, restore);
  return out;
}

bool print_report(const std::vector<Finding>& findings, bool json, std::ostream& out) {
  bool fit = true;
  for (const Finding& f : findings)
    if (f.required && !f.ok) fit = false;
  if (json) {
    out << "{\"plain_dump_and_restore\":" << (fit ? "true" : "false") << ",\"findings\":[";
    for (size_t i = 0; i < findings.size(); ++i) {
      const Finding& f = findings[i];
      out << (i ? "," : "") << "{\"name\":" << format::json_string(f.name) << ",\"ok\":" << (f.ok ? "true" : "false")
          << ",\"required\":" << (f.required ? "true" : "false") << ",\"detail\":" << format::json_string(f.detail)
          << ",\"advice\":" << format::json_string(f.ok ? "" : f.advice) << "}";
    }
    out << "]}\n";
    return fit;
  }
  for (const Finding& f : findings) {
    // "ok", "no" (an optional feature is missing), "FAIL" (a plain dump or restore cannot work).
    const char* mark = f.ok ? "ok  " : f.required ? "FAIL" : "no  ";
    out << mark << "  " << f.name << ": " << format::printable(f.detail);
    if (!f.ok && !f.advice.empty()) out << "; to fix: " << f.advice;
    out << "\n";
  }
  out << (fit ? "ckpt check: a plain dump and restore work here\n"
              : "ckpt check: a plain dump or restore cannot work here (see FAIL above)\n");
  return fit;
}

}  // namespace ckpt::dumper
