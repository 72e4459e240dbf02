// format/Seccomp.h: the checks restore makes of a carried filter before it
// attaches it, and its interpreter of the programs, each against the
// kernel itself: a child of the test attaches the same program and reports
// whether the kernel took it and what it answered.
#include <doctest/doctest.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "format/Seccomp.h"

using namespace ckpt::format;

namespace {

SeccompInsn stmt(uint16_t code, uint32_t k) { return {code, 0, 0, k}; }
SeccompInsn jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return {code, jt, jf, k}; }

constexpr uint16_t kLdAbs = BPF_LD | BPF_W | BPF_ABS;
constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr long kProbeCall = SYS_getpgid;  // harmless, takes one argument, answered by the filter below

// In a child: attaches `p` (no_new_privs first); then, if `call`, makes
// getpgid(a0) with the other argument registers a1..a5 and reports its
// errno. Returns -1 if the kernel refused the program (EINVAL), else the
// errno of the call (0: it ran), or -2 if the child died otherwise.
int kernel_answer(const std::vector<SeccompInsn>& p, bool call = false, const uint64_t* args = nullptr) {
  auto* shared = static_cast<int*>(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  REQUIRE(shared != MAP_FAILED);
  shared[0] = -2;
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::vector<sock_filter> f;
    for (const SeccompInsn& i : p) f.push_back({i.code, i.jt, i.jf, i.k});
    sock_fprog prog{uint16_t(f.size()), f.data()};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
      shared[0] = errno == EINVAL ? -1 : -3;
      _exit(0);
    }
    int e = 0;
    if (call) {
      register long r10 asm("r10") = long(args[3]);
      register long r8 asm("r8") = long(args[4]);
      register long r9 asm("r9") = long(args[5]);
      long ret;
      asm volatile("syscall"
                   : "=a"(ret)
                   : "a"(kProbeCall), "D"(args[0]), "S"(args[1]), "d"(args[2]), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
      e = ret < 0 && ret > -4096 ? int(-ret) : 0;
    }
    shared[0] = e;
    _exit(0);
  }
  int status;
  REQUIRE(waitpid(child, &status, 0) == child);
  const int r = shared[0];
  munmap(shared, 4096);
  return r;
}

// A program answering getpgid with ERRNO(1 + f(args) % 1000) where f uses
// every kind of instruction; everything else allowed.
std::vector<SeccompInsn> computing_program() {
  return {
      stmt(kLdAbs, 0),                                  // 0: nr
      jump(BPF_JMP | BPF_JEQ | BPF_K, kProbeCall, 1, 0),
      stmt(BPF_RET | BPF_K, kAllow),
      stmt(kLdAbs, 16),                                 // 3: args[0] low
      stmt(BPF_ST, 0),
      stmt(kLdAbs, 20),                                 // args[0] high
      stmt(BPF_MISC | BPF_TAX, 0),
      stmt(BPF_LD | BPF_MEM, 0),
      stmt(BPF_ALU | BPF_XOR | BPF_X, 0),
      stmt(BPF_ALU | BPF_MUL | BPF_K, 2654435761u),
      stmt(BPF_ALU | BPF_RSH | BPF_K, 7),
      stmt(BPF_STX, 1),
      stmt(kLdAbs, 24),                                 // args[1] low
      stmt(BPF_ALU | BPF_ADD | BPF_K, 12345),
      stmt(BPF_ALU | BPF_LSH | BPF_K, 3),
      stmt(BPF_ALU | BPF_OR | BPF_K, 5),
      stmt(BPF_LDX | BPF_MEM, 1),
      stmt(BPF_ALU | BPF_SUB | BPF_X, 0),
      stmt(BPF_ALU | BPF_NEG, 0),
      stmt(BPF_ST, 2),
      stmt(kLdAbs, 32),                                 // args[2] low: a divisor, maybe zero
      stmt(BPF_MISC | BPF_TAX, 0),
      stmt(BPF_LD | BPF_MEM, 2),
      stmt(BPF_ALU | BPF_DIV | BPF_X, 0),
      stmt(BPF_ALU | BPF_AND | BPF_K, 0xffff),
      jump(BPF_JMP | BPF_JGT | BPF_K, 40000, 0, 2),
      stmt(BPF_ALU | BPF_RSH | BPF_K, 1),
      stmt(BPF_JMP | BPF_JA, 1),
      stmt(BPF_ALU | BPF_ADD | BPF_K, 7),
      jump(BPF_JMP | BPF_JSET | BPF_K, 0x10, 0, 1),
      stmt(BPF_ALU | BPF_ADD | BPF_K, 3),
      stmt(BPF_LDX | BPF_IMM, 1000),
      jump(BPF_JMP | BPF_JGE | BPF_X, 0, 0, 2),         // A >= 1000?
      stmt(BPF_ALU | BPF_DIV | BPF_K, 3),
      stmt(BPF_JMP | BPF_JA, 1),
      stmt(BPF_ALU | BPF_ADD | BPF_K, 1),
      stmt(BPF_ST, 3),                                  // A % 1000, by A - (A / 1000) * 1000
      stmt(BPF_ALU | BPF_DIV | BPF_K, 1000),
      stmt(BPF_ALU | BPF_MUL | BPF_K, 1000),
      stmt(BPF_MISC | BPF_TAX, 0),
      stmt(BPF_LD | BPF_MEM, 3),
      stmt(BPF_ALU | BPF_SUB | BPF_X, 0),
      stmt(BPF_ALU | BPF_ADD | BPF_K, 1),
      stmt(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO),
      stmt(BPF_RET | BPF_A, 0),
  };
}

}  // namespace

TEST_CASE("the interpreter answers every call as the kernel does") {
  const std::vector<SeccompInsn> p = computing_program();
  REQUIRE(check_seccomp_program(p) == "");
  CHECK(kernel_answer(p) == 0);  // taken
  std::mt19937_64 rng(42);
  for (int round = 0; round < 40; ++round) {
    SeccompData d;
    d.nr = int32_t(kProbeCall);
    for (uint64_t& a : d.args) a = rng();
    if (round % 4 == 0) d.args[2] = 0;  // division by zero: the filter answers 0 (kill)
    if (round % 8 == 1) d.args[2] = 1;
    const uint32_t mine = run_seccomp_program(p, d);
    if ((mine & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_ERRNO) {
      CHECK(mine == 0);
      CHECK(kernel_answer(p, true, d.args) == -2);  // killed before it could report
      continue;
    }
    CHECK(kernel_answer(p, true, d.args) == int(mine & SECCOMP_RET_DATA));
  }
  SeccompData other;
  other.nr = SYS_getpid;
  CHECK(run_seccomp_program(p, other) == kAllow);
}

TEST_CASE("the checks refuse what the kernel refuses, and take what it takes") {
  const SeccompInsn ret = stmt(BPF_RET | BPF_K, kAllow);
  struct Case {
    const char* name;
    std::vector<SeccompInsn> program;
    const char* why;  // nullptr: taken
  } cases[] = {
      {"a plain allow", {ret}, nullptr},
      {"the LEN loads", {stmt(BPF_LD | BPF_W | BPF_LEN, 0), stmt(BPF_LDX | BPF_W | BPF_LEN, 0), ret}, nullptr},
      {"an empty program", {}, "a program of 0 instructions"},
      {"a byte load", {stmt(BPF_LD | BPF_B | BPF_ABS, 0), ret}, "is not allowed"},
      {"a load beyond seccomp_data", {stmt(kLdAbs, 64), ret}, "loads beyond"},
      {"a misaligned load", {stmt(kLdAbs, 2), ret}, "loads beyond or across"},
      {"a division by zero", {stmt(BPF_ALU | BPF_DIV | BPF_K, 0), ret}, "divides by zero"},
      {"a shift by 32", {stmt(BPF_ALU | BPF_LSH | BPF_K, 32), ret}, "shifts by 32"},
      {"a modulo", {stmt(BPF_ALU | BPF_MOD | BPF_K, 3), ret}, "is not allowed"},
      {"scratch word 16", {stmt(BPF_ST, 16), ret}, "beyond 15"},
      {"a jump past the end", {stmt(BPF_JMP | BPF_JA, 1), ret}, "jumps beyond"},
      {"a conditional jump past the end", {jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), ret}, "jumps beyond"},
      {"no return at the end", {ret, stmt(BPF_LD | BPF_IMM, 1)}, "last instruction"},
      {"memory read before any write", {stmt(BPF_LD | BPF_MEM, 3), ret}, "before it is written"},
      {"memory written on one path only",
       {stmt(kLdAbs, 0), jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1), stmt(BPF_ST, 5), stmt(BPF_LD | BPF_MEM, 5), ret},
       "before it is written"},
      {"memory written on both paths",
       {stmt(kLdAbs, 0), jump(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 2), stmt(BPF_ST, 5), stmt(BPF_JMP | BPF_JA, 1),
        stmt(BPF_ST, 5), stmt(BPF_LD | BPF_MEM, 5), ret},
       nullptr},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::string why = check_seccomp_program(c.program);
    if (c.why) {
      CHECK(why.find(c.why) != std::string::npos);
      if (!c.program.empty()) CHECK(kernel_answer(c.program) == -1);
    } else {
      CHECK(why == "");
      CHECK(kernel_answer(c.program) == 0);
    }
  }
}

TEST_CASE("the record round-trips, and the chain rules") {
  std::vector<SeccompFilter> chain{{kSeccompFlagLog, computing_program()}, {0, {stmt(BPF_RET | BPF_K, kAllow)}}};
  const std::vector<uint8_t> bytes = encode_seccomp(chain);
  CHECK(decode_seccomp(bytes.data(), bytes.size(), 0) == chain);
  int refusals = 0;
  auto bad = [&](const std::string&) { ++refusals; };
  validate_seccomp(chain, bad);
  CHECK(refusals == 0);
  validate_seccomp({}, bad);
  CHECK(refusals == 1);
  validate_seccomp({{4, {stmt(BPF_RET | BPF_K, kAllow)}}}, bad);  // SECCOMP_FILTER_FLAG_SPEC_ALLOW: not reported, not known
  CHECK(refusals == 2);
  std::vector<SeccompFilter> long_chain(8, {0, std::vector<SeccompInsn>(4096, stmt(BPF_RET | BPF_K, kAllow))});
  validate_seccomp(long_chain, bad);  // 8 × (4096 + 4) instructions: over the kernel's 32768
  CHECK(refusals == 3);
}

TEST_CASE("what cannot be carried, and what reads the instruction pointer") {
  CHECK(seccomp_uncarried_action({stmt(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF)}).find("USER_NOTIF") != std::string::npos);
  CHECK(seccomp_uncarried_action({stmt(BPF_RET | BPF_A, 0)}).find("computed") != std::string::npos);
  CHECK(seccomp_uncarried_action({stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1), stmt(BPF_RET | BPF_K, kAllow)}) == "");
  CHECK(seccomp_reads_instruction_pointer({stmt(kLdAbs, 8), stmt(BPF_RET | BPF_K, kAllow)}));
  CHECK(seccomp_reads_instruction_pointer({stmt(kLdAbs, 12), stmt(BPF_RET | BPF_K, kAllow)}));
  CHECK_FALSE(seccomp_reads_instruction_pointer(computing_program()));
}
