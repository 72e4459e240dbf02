// restore --pid-ns: the outer restore, the namespace's init and the
// creation of the root with its saved pid (see PidNamespace.h).
//
// Messages from init to the outer restore go through one pipe:
//   'E' TEXT         init could not set the namespace up (and exits);
//   'R'              the root exists: the outer restore starts relaying;
//   'S' STATUS(4)    the root ended with this wait status (init exits).
// Signals the outer restore is sent go to init through another pipe, as a
// Relay record (the signal and its sender as init would see it). init
// passes one on to the root unless it got that same signal from that same
// sender itself: then the sender signalled a set of processes that holds
// init (the caller's process group, which the outer restore, init and the
// root share; every process, with kill -1), so the root got it directly
// too and passing it on would deliver it twice. The outer restore makes
// sure init's own copy, if any, is already queued when init decides
// (settle_group_signals). docs/architecture.md, "The pid namespace mode".
#include "restorer/PidNamespace.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "restorer/CachedTid.h"
#include "restorer/RestoreError.h"
#include "restorer/Terminal.h"
#include "restorer/WaitStatus.h"
#include "x86/ProcMaps.h"

namespace ckpt::restorer {

namespace {

constexpr int kFirstRealtime = 34;        // 32 and 33 belong to the C library

// The signals the outer restore passes on. Not the stops (SIGTSTP, SIGTTIN,
// SIGTTOU keep their default action, so that a terminal's ^Z stops the
// outer restore as the shell expects, while the root, in the same process
// group, gets its own), not SIGCHLD (the outer restore's own child), not
// the synchronous faults.
bool relayed(int sig) {
  switch (sig) {
    case SIGHUP: case SIGINT: case SIGQUIT: case SIGUSR1: case SIGUSR2: case SIGPIPE: case SIGALRM:
    case SIGTERM: case SIGCONT: case SIGWINCH: case SIGURG: case SIGVTALRM: case SIGPROF: case SIGPWR:
    case SIGXCPU: case SIGXFSZ:
      return true;
    default:
      return sig >= kFirstRealtime && sig <= 64;
  }
}

sigset_t relay_set(bool with_chld) {
  sigset_t s;
  sigemptyset(&s);
  for (int sig = 1; sig <= 64; ++sig)
    if (relayed(sig)) sigaddset(&s, sig);
  if (with_chld) sigaddset(&s, SIGCHLD);
  return s;
}

// One relayed signal, outer restore -> init (one atomic pipe write).
struct Relay {
  int32_t sig;
  int32_t sender;  // its pid in the new namespace, 0 if outside it, kUnknownSender if gone
};
constexpr int32_t kUnknownSender = -1;  // matches init's own copy from any sender
constexpr size_t kMaxUnmatched = 256;   // init's own copies awaiting a relay; the oldest go first

bool has_capability(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

long pid_max() {
  try {
    return std::strtol(x86::read_proc_file("/proc/sys/kernel/pid_max").c_str(), nullptr, 10);
  } catch (const std::exception&) {
    return 4194304;  // PID_MAX_LIMIT: clone3 says so itself if the pid is beyond the real one
  }
}

void write_all(int fd, const void* data, size_t len) {
  const auto* p = static_cast<const char*>(data);
  while (len) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    len -= size_t(n);
  }
}

// In init: reports a setup failure to the outer restore and exits.
[[noreturn]] void init_fail(int report_fd, const std::string& what) {
  const std::string msg = "E" + what + ": " + std::strerror(errno);
  write_all(report_fd, msg.data(), msg.size());
  _exit(1);
}

// The namespace's own view of the file system: a mount namespace whose
// mounts still follow the caller's (slave: new mounts outside show up
// inside, nothing made inside shows up outside), with a /proc of the new
// pid namespace over the old one, so that /proc/self and /proc/PID name
// the processes by the pids they have here.
void set_up_mounts(int report_fd) {
  if (unshare(CLONE_NEWNS) != 0) init_fail(report_fd, "cannot create a mount namespace");
  if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
    init_fail(report_fd, "cannot make the mount namespace's mounts slaves of the caller's");
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    init_fail(report_fd, "cannot mount /proc for the new pid namespace");
}

// Every id the image saved: each member's pid and each of its threads' ids.
std::vector<long> saved_ids(const format::ImageReader& reader) {
  std::vector<long> ids{reader.image().process.pid};
  for (size_t i = 1; i < reader.tree().members.size(); ++i) ids.push_back(reader.tree().members[i].pid);
  for (size_t i = 0; i < reader.member_count(); ++i)
    for (const format::ThreadState& t : reader.member(i).threads) ids.push_back(t.tid);
  return ids;
}

// The kernel hands out the next pid above the last one it gave. Set above
// every saved id, so that nothing restore creates in the namespace before
// its points of no return (the stager's threads, the lazy page server)
// takes a pid or thread id that a member or thread is to get later.
void skip_saved_ids(int report_fd, long highest) {
  int fd = ::open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
  const std::string v = std::to_string(highest);
  if (fd < 0 || ::write(fd, v.data(), v.size()) != ssize_t(v.size()))
    init_fail(report_fd, "cannot set /proc/sys/kernel/ns_last_pid above the saved ids");
  ::close(fd);
}

// Creates the root with `pid` (this process is the namespace's init, so
// set_tid's one entry is the pid in this namespace). Returns as fork does.
pid_t clone_with_pid(pid_t pid) {
  clone_args args{};
  args.exit_signal = SIGCHLD;
  pid_t want = pid;
  args.set_tid = reinterpret_cast<uint64_t>(&want);
  args.set_tid_size = 1;
  if (int32_t* slot = cached_tid_slot()) {
    args.flags |= CLONE_CHILD_SETTID;  // the kernel writes the child's id into its copy of the C library's slot
    args.child_tid = reinterpret_cast<uint64_t>(slot);
  }
  return pid_t(syscall(SYS_clone3, &args, sizeof args));
}

// The signals init got itself (from kill to a process group or to every
// process) and no relay has matched yet.
class OwnCopies {
 public:
  void add(int32_t sig, int32_t sender) {
    if (seen_.size() == kMaxUnmatched) seen_.erase(seen_.begin());
    seen_.push_back({sig, sender});
  }
  // True if init got `sig` from `sender` itself; forgets every such copy
  // (the kernel merges a pending standard signal, so counts mean nothing).
  bool take(int32_t sig, int32_t sender) {
    auto same = [&](const Relay& r) { return r.sig == sig && (sender == kUnknownSender || r.sender == sender); };
    auto end = std::remove_if(seen_.begin(), seen_.end(), same);
    const bool found = end != seen_.end();
    seen_.erase(end, seen_.end());
    return found;
  }

 private:
  std::vector<Relay> seen_;
};

// init's life once the root exists: nothing held but the report pipe, the
// relay pipe and a signalfd; reaps every process that ends in the namespace
// (orphans are reparented here), passes on what the outer restore relays
// unless the root got it itself, and reports the root's end, which ends
// the namespace (the kernel kills what is left in it).
[[noreturn]] void run_init(pid_t root, int report_fd, int relay_fd) {
  const int lo = std::min(report_fd, relay_fd), hi = std::max(report_fd, relay_fd);
  close_range(0, unsigned(lo) - 1, 0);
  if (hi > lo + 1) close_range(unsigned(lo) + 1, unsigned(hi) - 1, 0);
  close_range(unsigned(hi) + 1, ~0u, 0);
  const sigset_t wanted = relay_set(true);
  int sfd = signalfd(-1, &wanted, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    kill(root, SIGKILL);  // cannot pass signals on nor see it end: do not leave it behind
    init_fail(report_fd, "cannot create a signalfd");
  }
  write_all(report_fd, "R", 1);
  OwnCopies own;
  // Everything queued for init so far: its own copies of signals, and the
  // end of processes.
  auto drain = [&] {
    signalfd_siginfo si;
    while (::read(sfd, &si, sizeof si) == ssize_t(sizeof si)) {
      if (int(si.ssi_signo) != SIGCHLD) {
        // Only what a kill() to a group or to every process gives: the
        // terminal's (SI_KERNEL) the outer restore does not relay at all.
        if (si.ssi_code == SI_USER) own.add(int32_t(si.ssi_signo), int32_t(si.ssi_pid));
        continue;
      }
      int status;
      for (pid_t p; (p = waitpid(-1, &status, WNOHANG | __WALL)) > 0;)
        if (p == root) {
          char msg[5] = {'S'};
          std::memcpy(msg + 1, &status, 4);
          write_all(report_fd, msg, sizeof msg);
          // Its own status says the same, as far as an exit code can (a
          // namespace's init cannot die of its own signal).
          _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
    }
  };
  bool relaying = true;
  for (;;) {
    pollfd fds[2] = {{sfd, POLLIN, 0}, {relay_fd, POLLIN, 0}};
    if (poll(fds, relaying ? 2 : 1, -1) < 0) continue;
    drain();  // first: a relayed signal's own copy here, if any, was queued before the relay was written
    if (!relaying || !(fds[1].revents & (POLLIN | POLLHUP))) continue;
    Relay r;
    ssize_t n = ::read(relay_fd, &r, sizeof r);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) relaying = false;  // the outer restore is gone
    if (n != ssize_t(sizeof r)) continue;
    if (!own.take(r.sig, r.sender)) kill(root, r.sig);
  }
}

// In the first process of the new pid namespace (pid 1): mounts, then the
// root. Returns in the root; init itself never returns. `probe`: the root
// exits at once and init reports its status.
void become_init(pid_t pid, long highest, int report_fd, int relay_fd, int outer_pidfd, bool probe) {
  // Ends with the outer restore, and so does the whole namespace (a pid
  // namespace dies with its init): killing the caller's child kills the
  // restored process, as without --pid-ns.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  pollfd alive{outer_pidfd, POLLIN, 0};
  if (poll(&alive, 1, 0) == 1) _exit(1);  // it died before the line above
  ::close(outer_pidfd);
  set_up_mounts(report_fd);
  skip_saved_ids(report_fd, highest);
  if (pid == 1) {
    // The process was a namespace's init: it is ours, with no init of ours.
    if (probe) _exit(0);
    prctl(PR_SET_PDEATHSIG, 0);
    write_all(report_fd, "R", 1);
    ::close(report_fd);
    if (relay_fd >= 0) ::close(relay_fd);
    return;
  }
  pid_t root = clone_with_pid(pid);
  if (root < 0) init_fail(report_fd, "cannot create a process with pid " + std::to_string(pid) + " (clone3 set_tid)");
  if (root == 0) {
    if (probe) _exit(0);
    ::close(report_fd);
    if (relay_fd >= 0) ::close(relay_fd);
    return;
  }
  if (probe) {
    int status;
    waitpid(root, &status, 0);
    _exit(0);
  }
  run_init(root, report_fd, relay_fd);
}

// Reads init's first message: "R", or throws with its "E" text.
void await_root(int report_fd, pid_t init) {
  char buf[512];
  ssize_t n;
  do n = ::read(report_fd, buf, 1);
  while (n < 0 && errno == EINTR);
  if (n == 1 && buf[0] == 'R') return;
  if (n == 1) {
    ssize_t more = ::read(report_fd, buf + 1, sizeof buf - 2);
    n += more > 0 ? more : 0;
  }
  int status = 0;
  waitpid(init, &status, 0);
  if (n >= 1 && buf[0] == 'E') throw RestoreError("--pid-ns: " + std::string(buf + 1, size_t(n - 1)));
  throw RestoreError("--pid-ns: the namespace's init ended (wait status " + std::to_string(status) +
                     ") before the restored process existed");
}

// The outer restore ends as the root did (WaitStatus.h).
[[noreturn]] void end_like(int status) {
  std::fflush(nullptr);
  take_terminal_back();  // a restored job-control shell had it (Terminal.h)
  end_with_wait_status(status);
}

// A kill() to a process group or to every process queues the signal to
// all its targets before it returns, under the kernel's task-list lock held
// for reading; setpgid() takes that lock for writing, so once it returns
// (a no-op here: into the group the outer restore is already in; EPERM for
// a session leader, after the lock), every other target of the kill that
// queued the signal just read from the signalfd has it queued too: init's
// copy, if init was one, is there before the relay is written.
void settle_group_signals() {
  setpgid(0, getpgrp());
}

// The sender of a signal as init sees it: its pid in the new namespace, 0
// if it is outside (what the kernel gives init for such a sender), or
// kUnknownSender if it has gone (its pid cannot be read any more).
int32_t sender_in_namespace(pid_t sender, ino_t namespace_inode) {
  if (sender <= 0) return 0;
  struct stat ns;
  if (stat(("/proc/" + std::to_string(sender) + "/ns/pid").c_str(), &ns) != 0) return kUnknownSender;
  if (ns.st_ino != namespace_inode) return 0;  // outside (a namespace below init's is not supported: see Known gaps)
  try {
    const std::string status = x86::read_proc_file("/proc/" + std::to_string(sender) + "/status");
    const size_t at = status.find("\nNSpid:");
    if (at == std::string::npos) return kUnknownSender;
    const size_t end = status.find('\n', at + 1);
    const size_t last = status.find_last_of(" \t", end);
    return int32_t(std::strtol(status.c_str() + last + 1, nullptr, 10));
  } catch (const std::exception&) {
    return kUnknownSender;
  }
}

// The outer restore from the moment the root exists: it holds nothing but
// stderr, the report pipe, the relay pipe and its signalfd; relays what it
// is sent (not what the terminal sends the whole process group, which the
// root got itself, nor what it caused itself), and ends as the root ends.
[[noreturn]] void run_outer(pid_t init, int report_fd, int relay_fd, bool root_is_init) {
  ::close(0);
  ::close(1);
  const int lo = std::min(report_fd, relay_fd), hi = std::max(report_fd, relay_fd);
  close_range(3, unsigned(lo) - 1, 0);
  if (hi > lo + 1) close_range(unsigned(lo) + 1, unsigned(hi) - 1, 0);
  close_range(unsigned(hi) + 1, ~0u, 0);
  const sigset_t wanted = relay_set(true);
  int sfd = signalfd(-1, &wanted, SFD_CLOEXEC);
  const pid_t self = getpid();
  struct stat init_ns{};
  stat(("/proc/" + std::to_string(init) + "/ns/pid").c_str(), &init_ns);
  for (;;) {
    signalfd_siginfo si;
    int init_status = 0;
    if (sfd < 0) {
      while (waitpid(init, &init_status, 0) < 0 && errno == EINTR) {
      }
    } else {
      if (::read(sfd, &si, sizeof si) != ssize_t(sizeof si)) continue;
      if (int(si.ssi_signo) != SIGCHLD) {
        if (si.ssi_code == SI_KERNEL || (si.ssi_code == SI_USER && pid_t(si.ssi_pid) == self)) continue;
        if (root_is_init) {
          kill(init, int(si.ssi_signo));  // the root itself: init's rules for signals apply, as they did
        } else {
          settle_group_signals();
          const Relay r{int32_t(si.ssi_signo), sender_in_namespace(pid_t(si.ssi_pid), init_ns.st_ino)};
          write_all(relay_fd, &r, sizeof r);
        }
        continue;
      }
      if (waitpid(init, &init_status, WNOHANG) != init) continue;
    }
    // init is gone, and with it every writer of the pipe: what it said is all there.
    char buf[16];
    size_t have = 0;
    for (ssize_t n; have < sizeof buf && (n = ::read(report_fd, buf + have, sizeof buf - have)) != 0;)
      if (n > 0) have += size_t(n);
      else if (errno != EINTR) break;
    // After "R" (read by await_root): "S" and the root's status; without it, the root was init
    // itself (its status is init's), or init was killed.
    if (have >= 5 && buf[0] == 'S') {
      int status;
      std::memcpy(&status, buf + 1, 4);
      end_like(status);
    }
    end_like(init_status);
  }
}

// A pipe whose ends are above 2, so that closing fds 0 and 1 or ranges
// from 3 never hits them (restore may be started with fd 0 closed).
void report_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) throw RestoreError(std::string("cannot create a pipe: ") + std::strerror(errno));
  for (int i = 0; i < 2; ++i)
    if (fds[i] < 3) {
      int high = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
      if (high < 0) throw RestoreError(std::string("cannot move a pipe above fd 2: ") + std::strerror(errno));
      ::close(fds[i]);
      fds[i] = high;
    }
}

}  // namespace

void check_pid_namespace(const format::ImageReader& reader) {
  const format::Image& root = reader.image();
  const long pid = root.process.pid;
  if (!has_capability(CAP_SYS_ADMIN))
    throw RestoreError("--pid-ns needs CAP_SYS_ADMIN (to create pid and mount namespaces, mount /proc there "
                       "and create the process with its saved pid " + std::to_string(pid) + ")");
  if (syscall(SYS_clone3, nullptr, 0) < 0 && errno == ENOSYS)
    throw RestoreError("--pid-ns needs clone3 with set_tid (Linux 5.5), which this kernel lacks");
  const long max = pid_max();
  std::vector<long> pids{pid};
  for (size_t i = 1; i < reader.tree().members.size(); ++i) pids.push_back(reader.tree().members[i].pid);
  for (size_t i = 0; i < pids.size(); ++i) {
    const std::string who = "the saved pid " + std::to_string(pids[i]) + (i ? " (member " + std::to_string(i) + ")" : "");
    if (pids[i] < 1 || pids[i] >= max)
      throw RestoreError("--pid-ns: " + who + " is not below this machine's pid_max (" + std::to_string(max) + ")");
  }
  for (size_t i = 0; i < reader.member_count(); ++i)
    for (const format::ThreadState& t : reader.member(i).threads)
      if (t.tid >= max)
        throw RestoreError("--pid-ns: the saved thread id " + std::to_string(t.tid) + " (of pid " +
                           std::to_string(reader.member(i).process.pid) + ") is not below this machine's pid_max (" +
                           std::to_string(max) + ")");
  struct stat st;
  if (stat("/proc", &st) != 0 || !S_ISDIR(st.st_mode))
    throw RestoreError("--pid-ns: there is no /proc folder to mount the namespace's /proc on");
}

void probe_pid_namespace(const format::ImageReader& reader) {
  const std::vector<long> ids = saved_ids(reader);
  const long highest = *std::max_element(ids.begin(), ids.end());
  int report[2];
  report_pipe(report);
  // The trial runs in a child of its own: after unshare(CLONE_NEWPID) this
  // process could not fork again once that namespace's init is gone.
  pid_t trial = fork();
  if (trial < 0) throw RestoreError(std::string("cannot fork: ") + std::strerror(errno));
  if (trial == 0) {
    ::close(report[0]);
    int outer = int(syscall(SYS_pidfd_open, getpid(), 0));
    if (outer < 0 || unshare(CLONE_NEWPID) != 0) init_fail(report[1], "cannot create a pid namespace");
    pid_t init = fork();
    if (init < 0) init_fail(report[1], "cannot create the pid namespace's init");
    if (init == 0) become_init(pid_t(reader.image().process.pid), highest, report[1], -1, outer, true);
    int status = 0;
    waitpid(init, &status, 0);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
  }
  ::close(report[1]);
  char buf[512];
  ssize_t n = ::read(report[0], buf, sizeof buf - 1);
  ::close(report[0]);
  int status = 0;
  waitpid(trial, &status, 0);
  if (n >= 1 && buf[0] == 'E') throw RestoreError("--pid-ns: " + std::string(buf + 1, size_t(n - 1)));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw RestoreError("--pid-ns: the trial of the pid namespace failed (wait status " + std::to_string(status) + ")");
}

void enter_pid_namespace(const format::ImageReader& reader, bool own_group) {
  const pid_t pid = pid_t(reader.image().process.pid);
  const std::vector<long> ids = saved_ids(reader);
  const long highest = *std::max_element(ids.begin(), ids.end());
  cached_tid_slot();  // found now, while this thread's id is not init's 1 (CachedTid.h)
  // Blocked from here in the outer restore and in init (the signalfds read
  // them); the root puts back the caller's mask and actions.
  const sigset_t relay = relay_set(true);
  sigset_t old_mask;
  sigprocmask(SIG_BLOCK, &relay, &old_mask);
  int report[2], relay_pipe[2];
  report_pipe(report);
  report_pipe(relay_pipe);
  int outer = int(syscall(SYS_pidfd_open, getpid(), 0));
  if (outer < 0 || unshare(CLONE_NEWPID) != 0) {
    const std::string why = std::string(outer < 0 ? "pidfd_open: " : "cannot create a pid namespace: ") + std::strerror(errno);
    for (int fd : {report[0], report[1], relay_pipe[0], relay_pipe[1], outer}) if (fd >= 0) ::close(fd);
    throw RestoreError("--pid-ns: " + why);
  }
  pid_t init = fork();
  if (init < 0) throw RestoreError(std::string("--pid-ns: cannot create the namespace's init: ") + std::strerror(errno));
  if (init == 0) {
    if (own_group) setpgid(0, 0);  // out of the caller's job group, as the root will be (PidNamespace.h)
    ::close(report[0]);
    ::close(relay_pipe[1]);
    become_init(pid, highest, report[1], relay_pipe[0], outer, false);
    sigprocmask(SIG_SETMASK, &old_mask, nullptr);  // the root: as the caller started restore
    return;
  }
  ::close(report[1]);
  ::close(relay_pipe[0]);
  ::close(outer);
  await_root(report[0], init);
  run_outer(init, report[0], relay_pipe[1], pid == 1);
}

}  // namespace ckpt::restorer
