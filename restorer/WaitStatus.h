// Ending a process with a given wait status: what a restored zombie member
// does once the tree is let go (its saved status), and what the outer
// restore of --pid-ns does when the root has ended (the root's status), so
// that whoever waits for either reads the very status it would have read
// from the original process.
#pragma once

namespace ckpt::restorer {

// Ends the calling (single-threaded) process so that its parent's waitpid()
// gets `status`: the same exit code, or death by the same signal through
// its default action, without a core file (the original wrote its own, if
// any). A status that is neither ends with exit code 1; a signal whose
// default action does not end a process, with 128 + its number. Does not
// flush stdio: a forked launcher must not write its parent's buffers again.
[[noreturn]] void end_with_wait_status(int status);

}  // namespace ckpt::restorer
