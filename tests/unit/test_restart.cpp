// Syscall restart (x86/SyscallRestart.h): a thread checkpointed inside a
// system call resumes exactly as the kernel would have resumed it had no
// signal handler run: the call restarts, returns -EINTR, or (not in a call,
// or already completed) nothing changes but orig_rax.
#include <doctest/doctest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "x86/SyscallRestart.h"

using namespace ckpt::x86;

namespace {

constexpr uint64_t kSyscallRip = 0x401002;  // just past a 2-byte `syscall` at 0x401000
constexpr uint64_t kNrRead = 0;
constexpr uint64_t kNrNanosleep = 35;

// A thread stopped with distinctive values in every register.
UserRegs stopped_thread(uint64_t orig_rax, int64_t rax) {
  UserRegs r;
  std::memset(&r, 0, sizeof r);
  r.r15 = 0x1515, r.r14 = 0x1414, r.r13 = 0x1313, r.r12 = 0x1212;
  r.rbp = 0x7ffd0000a000, r.rbx = 0xbbbb, r.r11 = 0x246, r.r10 = 0x1010;
  r.r9 = 0x0909, r.r8 = 0x0808, r.rcx = kSyscallRip, r.rdx = 0x100;
  r.rsi = 0x7ffd00001000, r.rdi = 3;
  r.rax = uint64_t(rax);
  r.orig_rax = orig_rax;
  r.rip = kSyscallRip;
  r.cs = kUserCs, r.ss = kUserDs;
  r.eflags = 0x246;
  r.rsp = 0x7ffd00000ff8;
  r.fs_base = 0x7f0000001740, r.gs_base = 0;
  return r;
}

// Every register but the ones named is equal in a and b.
void check_same_except_rip_rax_orig(const UserRegs& a, const UserRegs& b) {
  CHECK(a.r15 == b.r15);
  CHECK(a.r14 == b.r14);
  CHECK(a.r13 == b.r13);
  CHECK(a.r12 == b.r12);
  CHECK(a.rbp == b.rbp);
  CHECK(a.rbx == b.rbx);
  CHECK(a.r11 == b.r11);
  CHECK(a.r10 == b.r10);
  CHECK(a.r9 == b.r9);
  CHECK(a.r8 == b.r8);
  CHECK(a.rcx == b.rcx);
  CHECK(a.rdx == b.rdx);
  CHECK(a.rsi == b.rsi);
  CHECK(a.rdi == b.rdi);
  CHECK(a.cs == b.cs);
  CHECK(a.eflags == b.eflags);
  CHECK(a.rsp == b.rsp);
  CHECK(a.ss == b.ss);
  CHECK(a.fs_base == b.fs_base);
  CHECK(a.gs_base == b.gs_base);
  CHECK(a.ds == b.ds);
  CHECK(a.es == b.es);
  CHECK(a.fs == b.fs);
  CHECK(a.gs == b.gs);
}

void check_unchanged_but_orig_rax(const UserRegs& before) {
  UserRegs after = resume_registers(before);
  check_same_except_rip_rax_orig(before, after);
  CHECK(after.rip == before.rip);
  CHECK(after.rax == before.rax);
  CHECK(after.orig_rax == uint64_t(-1));
}

}  // namespace

TEST_CASE("restart: a thread not in a system call resumes unchanged") {
  // orig_rax is -1 outside a call; rax may hold anything, even a value that
  // looks like -ERESTARTSYS, and must not be taken for one.
  for (int64_t rax : {int64_t(0), int64_t(42), kERESTARTSYS, kERESTARTNOINTR, kERESTARTNOHAND,
                      kERESTART_RESTARTBLOCK, int64_t(-EINTR)}) {
    CAPTURE(rax);
    UserRegs r = stopped_thread(uint64_t(-1), rax);
    CHECK(restart_action(r) == RestartAction::None);
    check_unchanged_but_orig_rax(r);
  }
}

TEST_CASE("restart: a completed system call keeps its result") {
  for (int64_t rax : {int64_t(0), int64_t(1), int64_t(4096), int64_t(0x7fff00000000), int64_t(-EAGAIN),
                      int64_t(-EINTR), int64_t(-EFAULT), int64_t(-4095), int64_t(-511), int64_t(-515),
                      int64_t(-517)}) {
    CAPTURE(rax);
    UserRegs r = stopped_thread(kNrRead, rax);
    CHECK(restart_action(r) == RestartAction::None);
    check_unchanged_but_orig_rax(r);
  }
}

TEST_CASE("restart: -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND re-run the call") {
  CHECK(kERESTARTSYS == -512);
  CHECK(kERESTARTNOINTR == -513);
  CHECK(kERESTARTNOHAND == -514);
  for (int64_t rax : {kERESTARTSYS, kERESTARTNOINTR, kERESTARTNOHAND}) {
    CAPTURE(rax);
    UserRegs before = stopped_thread(kNrRead, rax);
    CHECK(restart_action(before) == RestartAction::Restart);
    UserRegs after = resume_registers(before);
    CHECK(after.rip == kSyscallRip - 2);  // back onto the `syscall` instruction
    CHECK(after.rax == kNrRead);          // the call number again
    CHECK(after.orig_rax == uint64_t(-1));
    check_same_except_rip_rax_orig(before, after);  // arguments intact
  }
}

TEST_CASE("restart: -ERESTART_RESTARTBLOCK returns -EINTR where it stopped") {
  CHECK(kERESTART_RESTARTBLOCK == -516);
  UserRegs before = stopped_thread(kNrNanosleep, kERESTART_RESTARTBLOCK);
  CHECK(restart_action(before) == RestartAction::Interrupted);
  UserRegs after = resume_registers(before);
  CHECK(int64_t(after.rax) == -EINTR);
  CHECK(after.rip == kSyscallRip);
  CHECK(after.orig_rax == uint64_t(-1));
  check_same_except_rip_rax_orig(before, after);
}

TEST_CASE("restart: a call number of 0 (read) is a system call too") {
  // orig_rax 0 is a real call; only a negative orig_rax means "no call".
  UserRegs r = stopped_thread(0, kERESTARTSYS);
  CHECK(restart_action(r) == RestartAction::Restart);
  CHECK(resume_registers(r).rax == 0);
}

TEST_CASE("restart: poll uses a restart block; without a timeout it restarts, with one it returns -EINTR") {
  UserRegs forever = stopped_thread(kSysPoll, kERESTART_RESTARTBLOCK);
  forever.rdx = uint64_t(-1);  // timeout -1: wait forever
  CHECK(restart_action(forever) == RestartAction::Restart);
  CHECK(resume_registers(forever).rip == kSyscallRip - 2);
  CHECK(resume_registers(forever).rax == kSysPoll);

  UserRegs timed = stopped_thread(kSysPoll, kERESTART_RESTARTBLOCK);
  timed.rdx = 5000;  // 5 s: the time left died with the restart block
  CHECK(restart_action(timed) == RestartAction::Interrupted);
  CHECK(int64_t(resume_registers(timed).rax) == -EINTR);
}

TEST_CASE("restart: FUTEX_WAIT_BITSET has an absolute deadline, so it restarts; FUTEX_WAIT with a timeout does not") {
  UserRegs bitset = stopped_thread(kSysFutex, kERESTART_RESTARTBLOCK);
  bitset.rsi = kFutexWaitBitset | 128;  // FUTEX_WAIT_BITSET_PRIVATE
  CHECK(restart_action(bitset) == RestartAction::Restart);
  UserRegs relative = stopped_thread(kSysFutex, kERESTART_RESTARTBLOCK);
  relative.rsi = 0 | 128;  // FUTEX_WAIT_PRIVATE with a relative timeout
  CHECK(restart_action(relative) == RestartAction::Interrupted);
}

TEST_CASE("restart: a handler reaching a thread inside a call ends it as the kernel's signal delivery would") {
  // What the terminal's SIGWINCH does to a REPL waiting in select().
  for (int64_t code : {kERESTARTNOHAND, kERESTART_RESTARTBLOCK}) {
    UserRegs r = handler_registers(stopped_thread(23, code), true);
    CHECK(int64_t(r.rax) == -EINTR);
    CHECK(r.rip == kSyscallRip);
    CHECK(int64_t(r.orig_rax) == -1);
  }
  CHECK(int64_t(handler_registers(stopped_thread(kNrRead, kERESTARTSYS), false).rax) == -EINTR);
  UserRegs with_restart = handler_registers(stopped_thread(kNrRead, kERESTARTSYS), true);  // SA_RESTART
  CHECK(with_restart.rip == kSyscallRip - 2);
  CHECK(with_restart.rax == kNrRead);
  UserRegs nointr = handler_registers(stopped_thread(kNrRead, kERESTARTNOINTR), false);
  CHECK(nointr.rip == kSyscallRip - 2);
  UserRegs done = handler_registers(stopped_thread(kNrRead, 5), false);  // the call had completed
  CHECK(done.rax == 5);
  CHECK(done.rip == kSyscallRip);
}
