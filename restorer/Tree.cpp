// Restoring a process tree (see Tree.h).
#include "restorer/Tree.h"

#include <fcntl.h>
#include <linux/limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <algorithm>
#include <optional>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

#include "format/Printable.h"
#include "restorer/AddressPlan.h"
#include "restorer/ChildPages.h"
#include "restorer/Credentials.h"
#include "restorer/DeletedFiles.h"
#include "restorer/Launch.h"
#include "restorer/MachineCheck.h"
#include "restorer/MemberLaunch.h"
#include "restorer/PidNamespace.h"
#include "restorer/OwnFiles.h"
#include "restorer/ImageSource.h"
#include "restorer/RestoreError.h"
#include "restorer/Seccomp.h"
#include "restorer/Stager.h"
#include "restorer/UnixSocket.h"
#include "format/UnixSocket.h"
#include "restorer/SysvShm.h"
#include "restorer/TaskRestore.h"
#include "restorer/Terminal.h"
#include "restorer/TimeNamespace.h"
#include "restorer/WaitStatus.h"
#include "x86/FaultPoint.h"

namespace ckpt::restorer {

namespace {

using format::TreeMember;

// One line from a member launcher to the root: it passed every check, or
// why not. Smaller than PIPE_BUF, so each arrives whole.
struct Report {
  int32_t member;
  int32_t pid;
  int32_t ok;
  char message[1012];
};
static_assert(sizeof(Report) <= PIPE_BUF);

// Shared by every launcher (a MAP_SHARED page the root maps before the
// first fork; the trampoline unmaps it with the rest): each member's pid
// and process group once it exists, for members joining another's group
// and for the root to kill them all on a failure.
struct Slot {
  int32_t pid;   // 0 until the member has joined its session and group (futex word)
  int32_t pgid;
};

struct TreeRun {
  const format::ImageReader& reader;
  const format::ProcessTree& tree;
  bool new_pids = false;
  bool pid_ns = false;  // restore --pid-ns: threads get their saved ids too
  std::string image_path;
  std::vector<std::vector<size_t>> children;  // member -> child members, in order
  std::vector<MachineFit> fits;
  std::vector<PreparedFiles> files;
  std::vector<AddressPlan> plans;
  Slot* slots = nullptr;
  int status_r = -1, status_w = -1, go_r = -1, go_w = -1;
  int arrive_r = -1, arrive_w = -1, resume_r = -1, resume_w = -1;
  uint32_t live_others = 0;
  Terminal* terminal = nullptr;     // the user's terminal (Terminal.h)
  int32_t saved_foreground = 0;     // the terminal's foreground group at the dump (0: no record)
};

std::string who(const TreeRun& run, size_t i) {
  const TreeMember& m = run.tree.members[i];
  return "pid " + std::to_string(m.pid) + (i ? " (member " + std::to_string(i) + ")" : " (the root)");
}

const format::Image& image_of(const TreeRun& run, size_t i) { return run.reader.member(i); }
bool live(const TreeRun& run, size_t i) { return run.tree.members[i].state == format::kMemberLive; }

void report(const TreeRun& run, size_t i, bool ok, const std::string& message) {
  Report r{};
  r.member = int32_t(i);
  r.pid = int32_t(getpid());
  r.ok = ok;
  std::snprintf(r.message, sizeof r.message, "%s", message.c_str());
  while (::write(run.status_w, &r, sizeof r) < 0 && errno == EINTR) {
  }
}

long futex(int32_t* word, int op, int32_t value, const timespec* timeout) {
  return syscall(SYS_futex, word, op, value, timeout, nullptr, 0);
}

// The go is a level, not a supply of bytes: the root writes one byte that
// nobody reads, so every launcher that looks sees it for as long as the
// pipe exists, whoever looked first. (One byte per member, each taken by
// one, let a zombie member take a byte and end before its parent launcher
// saw one of its own: the parent then took its child's end for a failure.)
// EOF without that byte: the root is gone, the restore is off.
enum class Go { Wait, Given, Off };

Go go_of(short revents) {
  if (revents & POLLIN) return Go::Given;
  if (revents & (POLLHUP | POLLERR)) return Go::Off;
  return Go::Wait;
}

// The go's state now, or (`wait`) once it is no longer Wait.
Go go_state(const TreeRun& run, bool wait) {
  pollfd p{run.go_r, POLLIN, 0};
  for (;;) {
    int r = poll(&p, 1, wait ? -1 : 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Go::Off;
    return go_of(p.revents);
  }
}

// A member's session and group, as saved: setsid for a session leader,
// setpgid for a group leader or a member of another member's group; else
// its parent's, inherited across the fork.
void join_session(TreeRun& run, size_t i) {
  const TreeMember& m = run.tree.members[i];
  const TreeMember& p = run.tree.members[size_t(m.parent)];
  if (m.sid == m.pid) {
    if (setsid() < 0) throw RestoreError(who(run, i) + ": cannot start its session again: " + std::strerror(errno));
  } else if (m.pgid == m.pid) {
    if (setpgid(0, 0) != 0) throw RestoreError(who(run, i) + ": cannot lead its process group again: " + std::strerror(errno));
  } else if (m.pgid != p.pgid) {
    // Another member's group (validated: listed before this one, same
    // session): wait until that member has made it.
    size_t g = 0;
    while (run.tree.members[g].pid != m.pgid) ++g;
    for (;;) {
      int32_t pid = __atomic_load_n(&run.slots[g].pid, __ATOMIC_ACQUIRE);
      if (pid) break;
      if (go_state(run, false) == Go::Off) _exit(1);
      timespec tick{0, 100 * 1000 * 1000};
      futex(&run.slots[g].pid, FUTEX_WAIT, 0, &tick);
    }
    if (setpgid(0, run.slots[g].pgid) != 0)
      throw RestoreError(who(run, i) + ": cannot join process group " + std::to_string(m.pgid) + ": " + std::strerror(errno));
  }
  run.slots[i].pgid = int32_t(getpgid(0));
  __atomic_store_n(&run.slots[i].pid, int32_t(getpid()), __ATOMIC_RELEASE);
  futex(&run.slots[i].pid, FUTEX_WAKE, INT32_MAX, nullptr);
}

// A zombie member: it ends once the whole tree is past its checks, with
// the saved status (a signal's death by that signal; no core is written).
[[noreturn]] void end_as_zombie(const TreeRun& run, size_t i) {
  if (go_state(run, true) != Go::Given) _exit(1);  // the restore failed: nothing to be
  prctl(PR_SET_NAME, run.tree.members[i].comm.c_str());  // what ps shows for it, as before
  end_with_wait_status(run.tree.members[i].exit_status);
}

void spawn_children(TreeRun& run, size_t parent, std::vector<int>& pidfds);
[[noreturn]] void run_member(TreeRun& run, size_t i);

// Waits, before the points of no return, for the go while watching this
// launcher's own children: one that ends before the go failed (a zombie
// child ends only once it has seen the go, which stays given). Returns
// false if the restore is off (the root is gone).
bool wait_for_go(TreeRun& run, size_t self, const std::vector<int>& pidfds) {
  std::vector<pollfd> p;
  p.push_back({run.go_r, POLLIN, 0});
  for (int fd : pidfds) p.push_back({fd, POLLIN, 0});
  for (;;) {
    if (poll(p.data(), p.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw RestoreError(std::string("waiting for the tree: ") + std::strerror(errno));
    }
    // The go first: once it is given, a child that ended is a zombie member doing as told.
    if (Go go = go_of(p[0].revents); go != Go::Wait) return go == Go::Given;
    for (size_t k = 1; k < p.size(); ++k)
      if (p[k].revents) {
        report(run, self, false, "a child member of " + who(run, self) + " ended before the point of no return");
        return false;
      }
  }
}

// Waits until each zombie child has ended (without reaping it), so that it
// is a zombie before this member's program runs.
void wait_for_zombie_children(const TreeRun& run, const std::vector<std::pair<size_t, pid_t>>& made) {
  for (auto [c, pid] : made) {
    if (live(run, c)) continue;
    siginfo_t info{};
    while (waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
    }
  }
}

// This launcher's own children (member, pid): each launcher is one process
// (a fork of its parent's), so one list per process, emptied after the fork.
std::vector<std::pair<size_t, pid_t>> g_made;

void spawn_children(TreeRun& run, size_t parent, std::vector<int>& pidfds) {
  for (size_t c : run.children[parent]) {
    CreatedMember cm = create_member(run.new_pids ? 0 : run.tree.members[c].pid);
    if (cm.pid == 0) run_member(run, c);
    g_made.emplace_back(c, cm.pid);
    pidfds.push_back(cm.pidfd);
  }
}

void set_subreaper(const TreeRun& run, size_t i) {
  // The root is one while the tree is made (see kill_members), whatever was saved.
  if ((run.tree.members[i].subreaper || i == 0) &&
      prctl(PR_SET_CHILD_SUBREAPER, static_cast<unsigned long>(run.tree.members[i].subreaper)) != 0)
    throw RestoreError(who(run, i) + ": cannot set its child-subreaper flag again: " + std::strerror(errno));
}

// A failure before the barrier: every member made so far is killed and
// reaped, parents first, so that none is left and their pids are free when
// restore exits. (The root is a child subreaper meanwhile: a member whose
// parent launcher died comes to it.)
void kill_members(const TreeRun& run) {
  const size_t n = run.tree.members.size();
  for (size_t k = 1; k < n; ++k)
    if (pid_t pid = __atomic_load_n(&run.slots[k].pid, __ATOMIC_ACQUIRE); pid > 0) kill(pid, SIGKILL);
  for (auto [c, pid] : g_made) kill(pid, SIGKILL);
  for (auto [c, pid] : g_made)
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  for (size_t k = 1; k < n; ++k)
    if (pid_t pid = __atomic_load_n(&run.slots[k].pid, __ATOMIC_ACQUIRE); pid > 0)
      while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
}

void run_member(TreeRun& run, size_t i) {
  g_made.clear();
  ::close(run.go_w);
  ::close(run.status_r);
  bool released = false;  // past the go: the root no longer reads the status pipe
  try {
    join_session(run, i);
    if (live(run, i)) {  // Pty.h: its session's terminal, its group in the foreground
      take_controlling_terminal(image_of(run, i), run.files[i].moves);
      take_foreground(image_of(run, i));
    }
    if (!live(run, i)) {
      report(run, i, true, "");
      end_as_zombie(run, i);
    }
    const format::Image& image = image_of(run, i);
    // The parent's staging is dropped, except the areas whose pages this
    // member still shared with it copy-on-write (ChildPages.h).
    const size_t parent = size_t(run.tree.members[i].parent);
    ChildPages keep = plan_child_pages(image, image_of(run, parent), run.plans[parent]);
    release_parent_memory(image_of(run, parent), run.plans[parent], image, keep);
    std::vector<x86::MapsEntry> self = x86::parse_maps(x86::read_proc_file("/proc/self/maps"));
    run.plans[i] = plan_addresses(image, self, home_size(image), vdso_scratch_size(image, run.fits[i].vdso),
                                  &keep.in_place);
    place_child_pages(image, keep, run.plans[i]);
    stage_memory(run.reader, image, run.fits[i], run.plans[i], run.files[i], &keep);
    check_launch(image, run.fits[i], run.plans[i]);
    run.files[i].deleted_exe = finish_deleted_files(image, run.files[i].deleted);
    // Test-only (x86/FaultPoint.h): a member failing, or dying, before the barrier.
    x86::fault_point("tree: member staged");
    std::vector<int> pidfds;
    spawn_children(run, i, pidfds);
    report(run, i, true, "");
    if (!wait_for_go(run, i, pidfds)) _exit(1);
    released = true;
    // Test-only: a member failing, or dying, after the go, before its resume barrier.
    x86::fault_point("tree: member released");
    wait_for_zombie_children(run, g_made);
    set_subreaper(run, i);
    for (int fd : pidfds) ::close(fd);
    ::close(run.go_r);
    ::close(run.status_w);
    ::close(run.arrive_r);
    ::close(run.resume_w);
    LaunchOptions options;
    options.tree = {false, true, run.arrive_w, run.resume_r, 0};
    options.saved_tids = run.pid_ns;
    // A member of the terminal's foreground group finds SIGWINCH pending too.
    options.sigwinch = run.terminal && run.terminal->sigwinch_for(run.tree.members[i].pgid, run.saved_foreground);
    launch(image, run.fits[i], run.plans[i], run.files[i], options);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    // Phase-1 style lines already name the member; others get its name.
    const std::string line = what.rfind("pid ", 0) == 0 ? what : who(run, i) + ": " + what;
    // Past the go nobody reads reports: the line is this member's to say.
    // The root's trampoline then sees this member end (the resume barrier)
    // and the whole restore ends with exit 120.
    if (released)
      std::fprintf(stderr, "restore: %s: %s\n", format::printable(run.image_path).c_str(),
                   format::printable(line).c_str());
    else
      report(run, i, false, line);
  }
  _exit(1);
}

// The root's side of the barrier: every other member's report, while
// watching its own children. On a failure, every member made so far is
// killed and the failing member's line is thrown.
void collect_reports(TreeRun& run, const std::vector<int>& pidfds) {
  size_t expected = run.tree.members.size() - 1, got = 0;
  auto fail = [&](const std::string& why) {
    kill_members(run);
    throw RestoreError(why);
  };
  std::vector<pollfd> p;
  p.push_back({run.status_r, POLLIN, 0});
  for (int fd : pidfds) p.push_back({fd, POLLIN, 0});
  while (got < expected) {
    if (poll(p.data(), p.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fail(std::string("waiting for the tree's members: ") + std::strerror(errno));
    }
    if (p[0].revents) {
      Report r;
      ssize_t n = ::read(run.status_r, &r, sizeof r);
      if (n < 0 && errno == EINTR) continue;
      if (n != ssize_t(sizeof r)) {
        // Every launcher's end is closed: they ended without a word. Name
        // one of the root's children that did (its pidfd turns readable
        // just after its files are closed).
        std::vector<pollfd> kids(p.begin() + 1, p.end());
        if (!kids.empty() && poll(kids.data(), kids.size(), 5000) > 0)
          for (size_t k = 0; k < kids.size(); ++k)
            if (kids[k].revents) fail(who(run, g_made[k].first) + " ended before the point of no return");
        fail("a member of the tree ended before the point of no return");
      }
      r.message[sizeof r.message - 1] = 0;
      if (!r.ok) fail(r.message);
      ++got;
      continue;
    }
    for (size_t k = 1; k < p.size(); ++k)
      if (p[k].revents) {
        // Did it say why first? Then that line is the one to show.
        pollfd s{run.status_r, POLLIN, 0};
        if (poll(&s, 1, 0) > 0) break;
        fail(who(run, g_made[k - 1].first) + " ended before the point of no return");
      }
  }
}

}  // namespace

int restore_tree(const format::ImageReader& reader, const CommandLine& cl, const ExternalFds& external,
                 const std::vector<x86::MapsEntry>& self) {
  TreeRun run{reader, reader.tree()};
  run.new_pids = cl.new_pids;
  run.pid_ns = cl.pid_ns;
  run.image_path = cl.image;
  const auto& ms = run.tree.members;
  const size_t n = ms.size();
  const format::Image& root = reader.image();
  run.children.resize(n);
  for (size_t i = 1; i < n; ++i) run.children[size_t(ms[i].parent)].push_back(i);
  for (size_t i = 1; i < n; ++i) run.live_others += live(run, i);

  // Phase 1: every member, no side effect.
  if (cl.lazy)
    throw RestoreError("restore --lazy cannot restore a process tree (" + std::to_string(n) +
                       " processes) yet; restore it without --lazy");
  run.fits.resize(n);
  // The user's terminal, for every member at once (the root first).
  std::vector<const format::Image*> live_images;
  for (size_t i = 0; i < n; ++i)
    if (live(run, i)) {
      live_images.push_back(&image_of(run, i));
      if (const auto& t = image_of(run, i).terminal) run.saved_foreground = t->foreground_pgid;
    }
  Terminal terminal = Terminal::plan(live_images, cl.pid_ns);
  run.terminal = &terminal;
  // Only the root's outside pipe ends can take --inherit-fd (its numbers are restore's).
  const ExternalFds root_external{external.inherit, external.null, &terminal};
  const ExternalFds member_external{{}, external.null, &terminal};
  for (size_t i = 0; i < n; ++i) {
    if (!live(run, i)) continue;
    try {
      run.fits[i] = check_machine(image_of(run, i), self);
      check_files(image_of(run, i), i == 0 ? root_external : member_external, i == 0);
    } catch (const std::exception& e) {
      throw RestoreError(who(run, i) + ": " + e.what());
    }
  }
  // The tree's unix sockets are one set (each member's records are what its
  // own sockets need): checked here, and made below, as one, from the
  // root's working directory (where the dump resolved relative names).
  std::vector<const std::vector<format::UnixSocket>*> socket_lists;
  for (size_t i = 0; i < n; ++i)
    if (live(run, i)) socket_lists.push_back(&image_of(run, i).files.unix_sockets);
  const std::vector<format::UnixSocket> unix_records = format::merge_unix_sockets(
      socket_lists, [](const std::string& why) { throw RestoreError("unix sockets: " + why); });
  check_unix_sockets(unix_records, root);
  check_sysv_shm(root);
  check_own_files(root, cl.pid_ns);
  const ClockPlan clocks = plan_clocks(root, cl.host_clocks);
  // Last: a more specific refusal comes first, and no warning precedes one.
  std::string warnings = clocks.warning;
  for (size_t i = 0; i < n; ++i) {
    if (!live(run, i)) continue;
    const std::string w = check_full_credentials(image_of(run, i));  // members usually share theirs: said once
    if (warnings.find(w) == std::string::npos) warnings += w;
  }
  if (!cl.new_pids && !cl.pid_ns) {  // with --pid-ns every pid is free in the new namespace
    if (!may_choose_pids())
      throw RestoreError("the tree's members need their saved pids, which takes CAP_CHECKPOINT_RESTORE; "
                         "restore --new-pids gives them new ones");
    // /proc/N exists for any task with that id, a thread's too (kill() would
    // not see a thread's), and clone3 set_tid wants the number itself free.
    for (size_t i = 1; i < n; ++i)
      if (access(("/proc/" + std::to_string(ms[i].pid)).c_str(), F_OK) == 0)
        throw RestoreError("pid " + std::to_string(ms[i].pid) + " (member " + std::to_string(i) +
                           ") is taken by another process; restore --new-pids gives the tree new pids");
  }
  if (cl.check) {
    for (size_t i = 0; i < n; ++i) {
      if (!live(run, i)) continue;
      trampoline::Rlimit limits[format::kRlimitCount];
      uint32_t mask = 0;
      plan_rlimits(image_of(run, i), limits, &mask);
      check_launch_layout(image_of(run, i));
      check_seccomp(image_of(run, i));
    }
    reader.verify_page_data();
    reader.verify_chunks();
    if (cl.pid_ns) probe_pid_namespace(reader);
    std::fputs(warnings.c_str(), stderr);
    std::printf("%s: can be restored here (%zu processes)\n", cl.image.c_str(), n);
    return 0;
  }
  std::fputs(warnings.c_str(), stderr);
  // restore --pid-ns: from here on this is the root, with its saved pid, in
  // a new pid namespace where every member is created (PidNamespace.h).
  std::vector<x86::MapsEntry> own_maps;
  if (cl.pid_ns) {
    enter_pid_namespace(reader, terminal.leads_own_group());
    terminal.lead_saved_group();  // before any member is made: those of its group join it
    own_maps = x86::parse_maps(x86::read_proc_file("/proc/self/maps"));
  }
  const std::vector<x86::MapsEntry>& maps = cl.pid_ns ? own_maps : self;

  // The root launcher: shared objects of the whole tree, its own memory.
  SharedDescriptions shared;
  for (size_t i = 0; i < n; ++i)
    if (live(run, i)) shared.base = std::max(shared.base, fd_base(image_of(run, i)));
  run.plans.resize(n);
  run.files.resize(n);
  run.plans[0] = plan_addresses(root, maps, home_size(root), vdso_scratch_size(root, run.fits[0].vdso));
  for (size_t i = 0; i < n; ++i)
    if (live(run, i)) run.files[i] = prepare_objects(image_of(run, i), &shared);
  stage_memory(reader, root, run.fits[0], run.plans[0], run.files[0]);
  check_launch(root, run.fits[0], run.plans[0]);
  if (clocks.time_namespace) enter_time_namespace(root);  // every member is forked into it
  SysvSegments sysv = create_sysv_shm(root);
  OwnFiles own = create_own_files(root, cl.pid_ns);
  stage_outside(root, run.plans[0], sysv, own);
  sysv.mark_removed(root);
  // Every unix socket of the tree at once (a pair's ends may be two
  // members'), then every open file description of the tree, once, held
  // above every saved number.
  std::optional<UnixSockets> unix_sockets;
  unix_sockets.emplace(create_unix_sockets(unix_records, root));
  shared.unix_sockets = &*unix_sockets;
  // The root last: a deleted working directory is entered here, and the
  // root's is the one the launcher must be in.
  for (size_t k = 1; k <= n; ++k) {
    const size_t i = k % n;
    if (!live(run, i)) continue;
    try {
      prepare_fds(image_of(run, i), i == 0 ? root_external : member_external, run.files[i], &shared);
    } catch (const std::exception& e) {
      throw RestoreError(who(run, i) + ": " + e.what());
    }
  }
  unix_sockets->commit();  // every member's fds hold them now: the holders go
  shared.unix_sockets = nullptr;
  unix_sockets.reset();
  // Every pty's descriptions exist: the root's controlling terminal (a
  // member takes its own after joining its session), lock and exclusive modes.
  take_controlling_terminal(root, run.files[0].moves);
  finish_ptys(shared.ptys);
  for (size_t i = 0; i < n; ++i)
    if (live(run, i)) fill_pipes(run.files[i]);
  // The root's deleted files are finished now; another member's once it
  // has staged its memory (its mappings of them need the descriptors).
  run.files[0].deleted_exe = finish_deleted_files(root, run.files[0].deleted);

  // The barrier's pipes, above every created fd (kept by each trampoline).
  int close_upto = 3;
  for (size_t i = 0; i < n; ++i) close_upto = std::max(close_upto, run.files[i].close_upto);
  int arrive[2], resume[2], status[2], go[2];
  if (pipe2(arrive, O_CLOEXEC) != 0 || pipe2(resume, O_CLOEXEC) != 0 || pipe2(status, O_CLOEXEC) != 0 ||
      pipe2(go, O_CLOEXEC) != 0)
    throw RestoreError(std::string("cannot make the tree's barrier: ") + std::strerror(errno));
  auto place = [&](int fd) {
    int high = fcntl(fd, F_DUPFD_CLOEXEC, close_upto);
    if (high < 0) throw RestoreError(std::string("cannot place the tree's barrier: ") + std::strerror(errno));
    ::close(fd);
    return high;
  };
  run.arrive_r = place(arrive[0]);
  run.arrive_w = place(arrive[1]);
  run.resume_r = place(resume[0]);
  run.resume_w = place(resume[1]);
  const int barrier_hi = std::max({run.arrive_r, run.arrive_w, run.resume_r, run.resume_w});
  for (PreparedFiles& f : run.files) f.close_upto = std::max(f.close_upto, barrier_hi + 1);
  run.status_r = status[0], run.status_w = status[1], run.go_r = go[0], run.go_w = go[1];
  void* page = mmap(nullptr, sizeof(Slot) * n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) throw RestoreError(std::string("cannot map the tree's pid table: ") + std::strerror(errno));
  run.slots = static_cast<Slot*>(page);
  run.slots[0] = {int32_t(getpid()), int32_t(getpgid(0))};

  // The members, parents before children; then the barrier.
  std::vector<int> pidfds;
  g_made.clear();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    throw RestoreError(std::string("cannot become a child subreaper while the tree is made: ") + std::strerror(errno));
  try {
    spawn_children(run, 0, pidfds);
  } catch (const std::exception& e) {
    kill_members(run);
    throw;
  }
  ::close(run.status_w);
  run.status_w = -1;
  collect_reports(run, pidfds);
  for (const PreparedFiles& f : run.files) seal_memfds(f);
  try {
    confirm_image_source();  // a migration's sender kills its tree now (ImageSource.h)
  } catch (const std::exception&) {
    kill_members(run);
    throw;
  }
  // Go: every member passes its point of no return. (The root's read end
  // stays open until the byte is in, so that the write cannot fail.)
  const char byte = 'g';
  ssize_t w;
  do w = ::write(run.go_w, &byte, 1);
  while (w < 0 && errno == EINTR);
  if (w != 1) {
    kill_members(run);
    throw RestoreError(std::string("cannot release the tree: ") + std::strerror(errno));
  }
  ::close(run.go_w);
  ::close(run.go_r);
  wait_for_zombie_children(run, g_made);
  set_subreaper(run, 0);
  for (int fd : pidfds) ::close(fd);
  ::close(run.status_r);
  ::close(run.arrive_w);
  ::close(run.resume_r);
  LaunchOptions options;
  options.verbose = cl.verbose;
  options.tree = {true, true, run.arrive_r, run.resume_w, run.live_others};
  options.saved_tids = cl.pid_ns;
  // The terminal's foreground group, when it was another member's than the
  // root's (a shell's foreground job): that group, made again, in front.
  if (run.saved_foreground && run.saved_foreground != ms[0].pgid)
    for (size_t g = 1; g < n; ++g)
      if (live(run, g) && ms[g].pgid == run.saved_foreground) {
        terminal.hand_foreground_to(run.slots[g].pgid);
        break;
      }
  options.terminal = &terminal;
  options.sigwinch = terminal.sigwinch();
  launch(root, run.fits[0], run.plans[0], run.files[0], options);
}

}  // namespace ckpt::restorer
