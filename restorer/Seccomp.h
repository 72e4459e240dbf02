// The carried seccomp filters (format/Seccomp.h): attached by the
// trampoline after every other step, so their decisions matter only for
// the few calls that come after them; both checks below run before the
// point of no return, so that a filter which would stop the restore is a
// refusal, never a half-restored process.
#pragma once

#include <cstdint>
#include <vector>

namespace ckpt::format {
struct Image;
}

namespace ckpt::restorer {

// The calls the trampoline makes once filters are attached: the next
// filter's seccomp() from the leader, then munmap of the home (when the
// process's own resume code finishes) and rt_sigreturn for every thread
// (threads other than the leader have closed their rendezvous fd before).
struct SeccompFinish {
  uint64_t filters_at = 0;  // the address of SeccompPlan[0] in the restored process
  bool tsync = false;       // the process has other threads
  bool unmap_home = false;  // munmap(home_start, home_length) runs before the leader's rt_sigreturn
  uint64_t home_start = 0, home_length = 0;
  int32_t first_done_fd = 0, done_fds = 0;  // the other threads' rendezvous fds: [first, first + count)
};

// Refuses (RestoreError) a chain under which one of those calls would not
// simply run (each filter must answer SECCOMP_RET_ALLOW or _LOG), and one
// that reads the instruction pointer (the calls' addresses are the
// process's own resume code or the home's, not known to the check).
void check_seccomp_finish(const format::Image& image, const SeccompFinish& finish);

// Attaches the chain in a child of the launcher (restore's credentials,
// which must be the process's, and the process's no_new_privs, set in the
// child): refuses (RestoreError, with the kernel's reason) a chain the
// kernel would not take.
void probe_seccomp(const format::Image& image);

// Both, for `restore --check`, which plans no addresses: the home's place
// is guessed (near the top of user space, as usual), so a filter that looks
// at munmap's arguments is judged exactly only by a real restore.
void check_seccomp(const format::Image& image);

}  // namespace ckpt::restorer
