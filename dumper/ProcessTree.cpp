// Finding and seizing every member of the tree (see ProcessTree.h).
#include "dumper/ProcessTree.h"

#include <dirent.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "x86/FaultPoint.h"
#include "x86/ProcMaps.h"

namespace ckpt::dumper {

namespace {

std::string pid_text(pid_t pid) { return "pid " + std::to_string(pid); }

// /proc/PID/stat fields after the comm, numbered as in proc(5) (f[3] is the
// state); empty if the process is gone.
std::vector<std::string> stat_of(pid_t pid) {
  std::string s;
  try {
    s = x86::read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  } catch (const std::exception&) {
    return {};
  }
  size_t close = s.rfind(')');
  if (close == std::string::npos) return {};
  std::vector<std::string> f = {"", "", ""};
  std::istringstream in(s.substr(close + 1));
  std::string tok;
  while (in >> tok) f.push_back(tok);
  return f.size() > 52 ? f : std::vector<std::string>{};
}

// TracerPid of /proc/PID/status: someone else tracing a member means ckpt
// cannot seize it, and its tracer would see it change.
pid_t tracer_of(pid_t pid) {
  try {
    std::istringstream in(x86::read_proc_file("/proc/" + std::to_string(pid) + "/status"));
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("TracerPid:", 0) == 0) return pid_t(std::stol(line.substr(10)));
  } catch (const std::exception&) {
  }
  return 0;
}

// The children of every thread of `pid`, ascending.
std::vector<pid_t> children_of(pid_t pid) {
  std::set<pid_t> out;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = opendir(task.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      try {
        std::istringstream in(x86::read_proc_file(task + "/" + e->d_name + "/children"));
        pid_t c;
        while (in >> c) out.insert(c);
      } catch (const std::exception&) {
      }
    }
    closedir(d);
  }
  return {out.begin(), out.end()};
}

}  // namespace

ProcessTree::ProcessTree(pid_t root, bool single) {
  Member r;
  r.pid = root;
  if (pid_t t = tracer_of(root); t != 0 && t != getpid())
    throw DumpError("not permitted to trace pid " + std::to_string(root) + ": it is already traced by pid " +
                    std::to_string(t));
  r.tracee = std::make_unique<Tracee>(root);
  members_.push_back(std::move(r));
  // Breadth first: every member found is stopped before its children are
  // listed, so the listing is final. A pass over all members that finds
  // nobody new ends the search.
  for (bool grew = true; grew;) {
    grew = false;
    const size_t before = members_.size();
    for (size_t i = 0; i < members_.size(); ++i)
      if (!members_[i].zombie) add_children(i);
    grew = members_.size() != before;
    if (single && members_.size() > 1) {
      std::string kids;
      for (size_t i = 1; i < members_.size(); ++i)
        kids += (i > 1 ? ", " : "") + std::to_string(members_[i].pid) + (members_[i].zombie ? " (a zombie)" : "");
      throw DumpError(pid_text(root) + " has children (" + kids +
                      "), which --single would leave out; dump without --single to save them too");
    }
  }
  x86::fault_point("tree: every member stopped");
  // Identity, now that nobody moves: groups, sessions, zombies' statuses.
  for (Member& m : members_) {
    auto f = stat_of(m.pid);
    if (f.empty()) throw DumpError(pid_text(m.pid) + " vanished while the tree was being stopped");
    m.pgid = pid_t(std::stol(f[5]));
    m.sid = pid_t(std::stol(f[6]));
    if (m.zombie) {
      m.exit_status = int(std::stol(f[52]));
      try {
        m.comm = x86::read_proc_file("/proc/" + std::to_string(m.pid) + "/comm");
      } catch (const std::exception&) {
      }
      if (!m.comm.empty() && m.comm.back() == '\n') m.comm.pop_back();
      if (m.comm.size() > 15) m.comm.resize(15);
    }
  }
  check_sessions();
}

void ProcessTree::add_children(size_t index) {
  const pid_t parent = members_[index].pid;
  for (pid_t c : children_of(parent)) {
    bool known = false;
    for (const Member& m : members_) known |= m.pid == c;
    if (known) continue;
    if (c == getpid()) throw DumpError(pid_text(c) + ", a descendant of the dumped process, is ckpt itself");
    Member m;
    m.pid = c;
    m.parent = int(index);
    auto f = stat_of(c);
    if (f.empty()) continue;  // exited and reaped meanwhile
    if (f[3] == "Z") {
      m.zombie = true;
    } else {
      if (std::stoul(f[9]) & 0x00200000) throw DumpError(pid_text(c) + " is a kernel thread");  // PF_KTHREAD
      if (pid_t t = tracer_of(c); t != 0 && t != getpid())
        throw DumpError(pid_text(c) + ", a child of pid " + std::to_string(parent) + ", is traced by pid " +
                        std::to_string(t) + ", so ckpt cannot seize it");
      try {
        m.tracee = std::make_unique<Tracee>(c);
      } catch (const DumpError&) {
        // It may have exited in between: then (its parent stopped) it is
        // a zombie now, or gone if its parent ignores SIGCHLD.
        auto again = stat_of(c);
        if (again.empty()) continue;
        if (again[3] != "Z") throw;
        m.zombie = true;
      }
    }
    members_.push_back(std::move(m));
  }
}

// What restore can make again (the same rules as format/Validate.cpp's
// validate_tree, said here before anything is read): a session of its own
// or its parent's; a group of its own, its parent's, or one led by a
// member of its session found before it. The root's own are restore's.
void ProcessTree::check_sessions() const {
  std::map<pid_t, size_t> index;
  for (size_t i = 0; i < members_.size(); ++i) index[members_[i].pid] = i;
  for (size_t i = 1; i < members_.size(); ++i) {
    const Member& m = members_[i];
    const Member& p = members_[size_t(m.parent)];
    const std::string who = pid_text(m.pid) + " (a child of pid " + std::to_string(p.pid) + ")";
    if (m.sid != m.pid && m.sid != p.sid)
      throw DumpError(who + " is in session " + std::to_string(m.sid) +
                      ", neither its own nor its parent's, which restore cannot make again");
    if (m.pgid != m.pid && m.pgid != p.pgid) {
      auto g = index.find(m.pgid);
      if (g == index.end() || g->second >= i || members_[g->second].pgid != m.pgid || members_[g->second].sid != m.sid)
        throw DumpError(who + " is in process group " + std::to_string(m.pgid) +
                        (g == index.end() ? ", whose leader is outside the dumped tree"
                                          : ", which restore cannot make before it") );
    }
  }
}

format::ProcessTree ProcessTree::record() const {
  format::ProcessTree t;
  for (const Member& m : members_) {
    format::TreeMember r;
    r.pid = m.pid;
    r.parent = m.parent;
    r.pgid = m.pgid;
    r.sid = m.sid;
    r.state = m.zombie ? format::kMemberZombie : format::kMemberLive;
    r.exit_status = m.zombie ? m.exit_status : 0;
    if (m.zombie) r.comm = m.comm;
    t.members.push_back(r);
  }
  return t;
}

void ProcessTree::release() {
  for (Member& m : members_)
    if (m.tracee) m.tracee->release();
}

void ProcessTree::kill() {
  // Children first, so that no parent runs (it never will) to see a child's end.
  for (size_t i = members_.size(); i-- > 0;)
    if (members_[i].tracee) members_[i].tracee->kill();
  // The descendants, orphaned, are reaped by init (or a subreaper) at once:
  // waited for (bounded), so that their pids are free when ckpt returns and
  // a restore right after can have them. The root is its parent's to reap.
  for (int round = 0; round < 500; ++round) {
    bool any = false;
    for (size_t i = 1; i < members_.size(); ++i) any |= ::kill(members_[i].pid, 0) == 0;
    if (!any) break;
    usleep(10000);
  }
}

void check_unshared(const ProcessTree& tree) {
  const auto& ms = tree.members();
  for (size_t i = 1; i < ms.size(); ++i) {
    if (ms[i].zombie) continue;
    const pid_t a = ms[i].pid, b = ms[size_t(ms[i].parent)].pid;
    for (auto [type, what] : {std::pair{KCMP_VM, "its memory (CLONE_VM, a vfork in progress)"},
                              std::pair{KCMP_FILES, "its fd table (CLONE_FILES)"},
                              std::pair{KCMP_FS, "its working directory and umask (CLONE_FS)"}}) {
      long r = syscall(SYS_kcmp, a, b, type, 0, 0);
      if (r == 0)
        throw DumpError(pid_text(a) + " shares " + what + " with its parent pid " + std::to_string(b) +
                        ", which this version cannot restore");
    }
  }
}

}  // namespace ckpt::dumper
