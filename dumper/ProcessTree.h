// The process tree a dump saves: the root (the pid `ckpt dump` was given)
// and every descendant, each live one seized with every thread (Tracee),
// zombies recorded with their exit status. The constructor seizes the root,
// then lists the children of each stopped member (/proc/PID/task/*/children)
// and seizes them, until a pass finds nobody new: a member cannot fork once
// all its threads are stopped, so a fork racing the seize is caught. On any
// failure every member seized so far is released exactly as it was (each
// Tracee's destructor). Nothing of a member is read here but /proc's stat
// and status lines that say who it is.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "dumper/Tracee.h"
#include "format/Image.h"

namespace ckpt::dumper {

class ProcessTree {
 public:
  struct Member {
    pid_t pid = 0;
    int parent = -1;  // index into members(); -1 for the root
    pid_t pgid = 0, sid = 0;
    bool zombie = false;
    int exit_status = 0;              // zombies: the wait status
    std::string comm;                 // zombies: their name
    std::unique_ptr<Tracee> tracee;   // live members
  };

  // `single`: the root alone; refused (naming them) if it has children.
  ProcessTree(pid_t root, bool single);
  ProcessTree(const ProcessTree&) = delete;
  ProcessTree& operator=(const ProcessTree&) = delete;

  // Parents before children; members()[0] is the root.
  const std::vector<Member>& members() const { return members_; }
  // The tree record (subreaper flags left 0: read by injection later).
  format::ProcessTree record() const;

  // Detaches every member (each resumes) / kills every live member while stopped.
  void release();
  void kill();

 private:
  void add_children(size_t index);
  void check_sessions() const;

  std::vector<Member> members_;
};

// Refuses (naming both pids) two members that share an fd table, fs state
// (working directory, umask) or memory (CLONE_FILES, CLONE_FS, CLONE_VM,
// told with kcmp): restore makes each member a process of its own.
void check_unshared(const ProcessTree& tree);

}  // namespace ckpt::dumper
