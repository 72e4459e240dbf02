// The batch code of syscall injection (x86/InjectedBatch.h), run for real
// in a forked child without any tracer: that is how a thread runs it when
// the dumper is gone. The child maps the code as RemoteSyscall does, keeps
// the header and the table in memory shared with the parent, and enters
// the code with the registers the tracer would set; the tail's way back
// (munmap from a `syscall; ret`, then `ret`) lands in a function that
// reports whether the area is gone.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "x86/InjectedBatch.h"

using namespace ckpt::x86;

extern "C" void test_batch_syscall_ret();
asm(R"(
    .text
    .globl test_batch_syscall_ret
    .hidden test_batch_syscall_ret
test_batch_syscall_ret:
    syscall
    ret
)");

namespace {

struct Shared {
  batch::Header header;
  batch::Entry table[4];
  int area_gone;  // written by the landing function
};

Shared* shared;
uint64_t area;
alignas(16) uint8_t landing_stack[64 * 1024];

// Where the tail's `ret` lands (instead of the safety frame's sigreturn).
extern "C" [[noreturn]] void landed() {
  // msync of an unmapped range fails with ENOMEM.
  shared->area_gone = msync(reinterpret_cast<void*>(area), batch::kAreaSize, MS_ASYNC) != 0 && errno == ENOMEM;
  _exit(0);
}

// Runs the code in a child with the header and table in `s`; returns the
// child's wait status.
int run_child(Shared* s, size_t entries) {
  shared = s;
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    void* a = mmap(nullptr, batch::kAreaSize, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED) _exit(3);
    area = reinterpret_cast<uint64_t>(a);
    std::memcpy(a, batch::code(), batch::code_size());
    // The slot the tail's `ret` pops: 16-byte aligned, so that landed()
    // starts with the stack as after a call.
    uint64_t* slot = reinterpret_cast<uint64_t*>(landing_stack + sizeof landing_stack - 64);
    *slot = reinterpret_cast<uint64_t>(&landed);
    s->header.frame = reinterpret_cast<uint64_t>(slot);
    const uint64_t regs[7] = {reinterpret_cast<uint64_t>(s->table), entries, reinterpret_cast<uint64_t>(&s->header),
                              reinterpret_cast<uint64_t>(&test_batch_syscall_ret), area, batch::kAreaSize, area};
    asm volatile(
        "mov 0(%0), %%rbx\n mov 8(%0), %%r12\n mov 16(%0), %%r13\n mov 24(%0), %%r14\n"
        "mov 32(%0), %%r15\n mov 40(%0), %%rbp\n jmp *48(%0)\n" ::"a"(regs)
        : "memory");
    __builtin_unreachable();
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  return status;
}

Shared* fresh_shared() {
  void* m = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(m != MAP_FAILED);
  auto* s = static_cast<Shared*>(m);
  s->header = batch::Header{0, -1, 0x1 /* POLLIN */, 0, 0, 0, 0, 0, 0, 0};
  for (batch::Entry& e : s->table) e = batch::Entry{SYS_getpid, {0, 0, 0, 0, 0, 0}, batch::kNotRun};
  return s;
}

}  // namespace

TEST_CASE("the batch code fits below its header and is position independent") {
  CHECK(batch::code_size() > 0);
  CHECK(batch::code_size() <= batch::kHeaderAt);
  CHECK(batch::tail_offset() < batch::code_size());
  CHECK(batch::kHeaderAt + sizeof(batch::Header) <= batch::kTableAt);
  CHECK(batch::kCapacity >= 80);  // the leader's getters fit one batch
}

TEST_CASE("with nobody to wait for, the code runs every call, then unmaps its area and returns") {
  Shared* s = fresh_shared();
  s->table[1] = batch::Entry{SYS_getppid, {0, 0, 0, 0, 0, 0}, batch::kNotRun};
  s->table[2] = batch::Entry{SYS_close, {-1, 0, 0, 0, 0, 0}, batch::kNotRun};
  // No dumper pid: no pidfd, and a wait of 0 s.
  const int status = run_child(s, 3);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(s->header.done == 1);
  CHECK(s->table[0].result > 0);  // the child's pid
  CHECK(s->table[1].result == getpid());
  CHECK(s->table[2].result == -EBADF);
  CHECK(s->table[3].result == batch::kNotRun);  // beyond the count
  CHECK(s->header.pidfd == -1);
  CHECK(s->area_gone == 1);
  munmap(s, sizeof(Shared));
}

TEST_CASE("the code waits on the dumper's pidfd, and ends its wait when the dumper is gone") {
  // The "dumper" is a process of our own that exits after 0.2 s; the wait
  // is 60 s, so only the pidfd can end it in time.
  pid_t dumper = fork();
  REQUIRE(dumper >= 0);
  if (dumper == 0) {
    usleep(200 * 1000);
    _exit(0);
  }
  Shared* s = fresh_shared();
  s->header.dumper = dumper;
  s->header.wait_sec = 60;
  const int status = run_child(s, 1);
  CHECK(WIFEXITED(status));
  CHECK(s->header.done == 1);
  CHECK(s->table[0].result > 0);
  CHECK(s->header.pidfd == -1);  // closed by the tail
  CHECK(s->area_gone == 1);
  CHECK(s->header.wait_sec < 60);  // ppoll counted it down: it did wait
  waitpid(dumper, nullptr, 0);
  munmap(s, sizeof(Shared));
}

TEST_CASE("a dumper already gone sends the code straight to its tail, running nothing") {
  pid_t dumper = fork();
  REQUIRE(dumper >= 0);
  if (dumper == 0) _exit(0);
  REQUIRE(waitpid(dumper, nullptr, 0) == dumper);  // reaped: pidfd_open fails with ESRCH
  Shared* s = fresh_shared();
  s->header.dumper = dumper;
  s->header.wait_sec = 60;
  const int status = run_child(s, 2);
  CHECK(WIFEXITED(status));
  CHECK(s->header.done == 0);
  CHECK(s->table[0].result == batch::kNotRun);
  CHECK(s->area_gone == 1);
  munmap(s, sizeof(Shared));
}
