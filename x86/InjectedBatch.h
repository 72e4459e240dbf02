// The code a batch of injected system calls runs in the tracee, and the
// layout of the area it is copied into (see RemoteSyscall::call_batch).
//
// Each call injected through syscall-stops costs two ptrace stops, two
// wake-ups of the thread across CPUs; reading a process's 64 signal
// actions that way takes ~75 calls and most of a short freeze. A batch
// instead copies this code into an executable area mapped in the tracee
// and lets the thread run every call of a table in one go, without any
// stop in between. The code then announces it is done and waits; the
// tracer interrupts it there (PTRACE_INTERRUPT, which is not a signal) and
// takes the registers back as after any injected call.
//
// Nothing in it ever raises a signal, and the area never outlives the
// dumper: every way back to the thread's own code goes through the code's
// tail, which closes the dumper's pidfd, unmaps the area through the
// `syscall; ret` site and lets that `ret` enter the safety frame's
// rt_sigreturn, back to exactly where the thread was.
//   - The area is mapped at a hole the tracer chose, by a call whose `ret`
//     enters a first, register-only frame that unmaps it again.
//   - The code waits for the tracer until the dumper is gone (a pidfd of
//     it, where the tracee can name it) or a timeout, then runs the tail.
//   - A single call injected while the area exists returns into the tail.
//   - The tracer's own clean-up runs the tail under syscall-stops.
//
// Entry registers (set by the tracer, all preserved across `syscall`):
//   rbx first table entry, r12 number of entries, r13 the header,
//   r14 the `syscall; ret` site, r15 the area, rbp the area's size.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ckpt::x86::batch {

inline constexpr size_t kAreaSize = 16 * 1024;
inline constexpr size_t kHeaderAt = 512;  // the code lives below
inline constexpr size_t kTableAt = 1024;

struct Header {
  uint64_t done;      // set to 1 once every call has run
  int32_t pidfd;      // struct pollfd: the dumper's pidfd in the tracee, or -1
  int16_t events, revents;
  int64_t wait_sec;   // struct timespec: how long the code waits for the tracer
  int64_t wait_nsec;
  uint64_t frame;     // the safety frame: rsp for the way back
  uint64_t tail;      // the tail's address: a single call's `ret` pops it
  int32_t dumper;     // the dumper's pid as the tracee sees it; 0: none
  int32_t pad;
};
static_assert(sizeof(Header) == 56);
// The offsets the code uses (InjectedBatch.cpp's asm) and the tracer too.
inline constexpr size_t kHeaderPidfd = 8, kHeaderWait = 16, kHeaderFrame = 32, kHeaderTail = 40, kHeaderDumper = 48;
static_assert(offsetof(Header, pidfd) == kHeaderPidfd && offsetof(Header, wait_sec) == kHeaderWait &&
              offsetof(Header, frame) == kHeaderFrame && offsetof(Header, tail) == kHeaderTail &&
              offsetof(Header, dumper) == kHeaderDumper);

struct Entry {
  int64_t nr;
  int64_t args[6];
  int64_t result;  // written by the code; kNotRun until then
};
static_assert(sizeof(Entry) == 64);

inline constexpr int64_t kNotRun = int64_t(0x7ffe'dead'beef'0000);
inline constexpr size_t kCapacity = (kAreaSize - kTableAt) / sizeof(Entry);

// The position-independent machine code (no relocations, no data outside
// the area), and its size (at most kHeaderAt).
const uint8_t* code();
size_t code_size();
// Where the tail starts in the code.
size_t tail_offset();

}  // namespace ckpt::x86::batch
