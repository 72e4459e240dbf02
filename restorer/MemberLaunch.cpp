// clone3 with set_tid, glibc's cached tid kept right (see MemberLaunch.h).
#include "restorer/MemberLaunch.h"

#include <linux/capability.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "restorer/RestoreError.h"

namespace ckpt::restorer {

namespace {

// Where glibc keeps this thread's id in its thread descriptor: the one
// 4-byte slot in the first 2 KiB past the thread pointer that holds it
// (the dumper finds a target's the same way). fork() has the kernel write
// the child's id there (CLONE_CHILD_SETTID); a raw clone3 must do the same,
// or raise() and owner-checking mutexes in the child would use the parent's.
int32_t* cached_tid_slot() {
  const int32_t tid = int32_t(syscall(SYS_gettid));
  auto* base = reinterpret_cast<int32_t*>(__builtin_thread_pointer());
  int32_t* found = nullptr;
  for (size_t i = 0; i < 2048 / 4; ++i)
    if (base[i] == tid) {
      if (found) return nullptr;  // ambiguous
      found = base + i;
    }
  return found;
}

bool has_capability(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

}  // namespace

bool may_choose_pids() { return has_capability(CAP_CHECKPOINT_RESTORE) || has_capability(CAP_SYS_ADMIN); }

CreatedMember create_member(pid_t wanted) {
  int32_t* slot = cached_tid_slot();
  if (!slot) throw RestoreError("cannot find the C library's cached thread id to create a process with");
  int pidfd = -1;
  pid_t want = wanted;
  clone_args args{};
  args.flags = CLONE_CHILD_SETTID | CLONE_PIDFD;
  args.pidfd = uint64_t(reinterpret_cast<uintptr_t>(&pidfd));
  args.child_tid = uint64_t(reinterpret_cast<uintptr_t>(slot));
  args.exit_signal = SIGCHLD;
  if (wanted > 0) {
    args.set_tid = uint64_t(reinterpret_cast<uintptr_t>(&want));
    args.set_tid_size = 1;
  }
  long r = syscall(SYS_clone3, &args, sizeof args);
  if (r < 0) {
    int e = errno;
    if (wanted > 0 && e == EEXIST)
      throw RestoreError("pid " + std::to_string(wanted) + " is taken by another process (restore --new-pids gives "
                         "the tree new pids)");
    if (wanted > 0 && e == EPERM)
      throw RestoreError("creating pid " + std::to_string(wanted) + " needs CAP_CHECKPOINT_RESTORE (restore --new-pids "
                         "gives the tree new pids)");
    throw RestoreError("cannot create a process" + (wanted > 0 ? " with pid " + std::to_string(wanted) : std::string()) +
                       ": " + std::strerror(e));
  }
  if (r == 0) return {0, -1};
  return {pid_t(r), pidfd};
}

}  // namespace ckpt::restorer
