// Creating one member process of a restored tree: a fork of the calling
// launcher (so it inherits every open file description the root made, and
// its parent's staged memory), with the saved pid when asked for
// (clone3 set_tid: CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN over the pid
// namespace), else whatever pid the kernel gives. The C library's cached
// thread id of the child is the child's own, as after fork(). This is the
// one place a member is created, so that restore --pid-ns can create them
// inside a pid namespace of its own with the same call.
#pragma once

#include <sys/types.h>

namespace ckpt::restorer {

struct CreatedMember {
  pid_t pid = 0;    // 0 in the child
  int pidfd = -1;   // in the parent: a pidfd of the child (readable once it exits)
};

// `wanted` > 0: exactly that pid, or RestoreError naming it (EEXIST: taken;
// EPERM: no privilege). `wanted` == 0: any pid. Throws RestoreError.
CreatedMember create_member(pid_t wanted);

// Whether this caller may ask for pids (the capabilities above).
bool may_choose_pids();

}  // namespace ckpt::restorer
