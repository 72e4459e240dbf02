// A process's seccomp filters, carried (SectionType::Seccomp, optional, one
// per member; docs/format.md §5.17): the classic BPF programs of its
// filter chain, oldest first, each with the flags it was attached with.
// Every thread had the same chain at the dump. Also the two things restore
// needs to know about a program before it attaches it after the point of no
// return: whether the kernel will take it (check_seccomp_program mirrors
// the kernel's checks) and what it answers for a given call
// (run_seccomp_program, an interpreter of the same instructions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ckpt::format {

// struct sock_filter.
struct SeccompInsn {
  uint16_t code = 0;
  uint8_t jt = 0, jf = 0;
  uint32_t k = 0;
  bool operator==(const SeccompInsn& o) const { return code == o.code && jt == o.jt && jf == o.jf && k == o.k; }
};
static_assert(sizeof(SeccompInsn) == 8, "laid out as struct sock_filter");

struct SeccompFilter {
  uint32_t flags = 0;  // SECCOMP_FILTER_FLAG_LOG, the one flag the kernel reports (PTRACE_SECCOMP_GET_METADATA)
  std::vector<SeccompInsn> program;
  bool operator==(const SeccompFilter& o) const { return flags == o.flags && program == o.program; }
};

// The kernel's limits: BPF_MAXINSNS per program, MAX_INSNS_PER_PATH for a
// chain (each filter counting 4 more, as the kernel counts it).
inline constexpr uint32_t kMaxSeccompInsns = 4096;
inline constexpr uint32_t kMaxSeccompPathInsns = 32768;
inline constexpr uint32_t kSeccompFlagLog = 2;  // SECCOMP_FILTER_FLAG_LOG

std::vector<uint8_t> encode_seccomp(const std::vector<SeccompFilter>& chain);
std::vector<SeccompFilter> decode_seccomp(const uint8_t* data, size_t n, uint64_t base);

// "" if the kernel would attach the program (the instructions seccomp
// allows, loads only of struct seccomp_data's 32-bit words, jumps inside
// the program, scratch memory written before it is read, a return last),
// else why not, naming the instruction.
std::string check_seccomp_program(const std::vector<SeccompInsn>& program);

// A non-empty chain, every program passing check_seccomp_program, only
// known flags, within the kernel's total.
void validate_seccomp(const std::vector<SeccompFilter>& chain, const std::function<void(const std::string&)>& bad);

// struct seccomp_data.
struct SeccompData {
  int32_t nr = 0;
  uint32_t arch = 0xc000003e;  // AUDIT_ARCH_X86_64
  uint64_t instruction_pointer = 0;
  uint64_t args[6] = {};
};

// What a program that passed check_seccomp_program returns for `d` (its
// SECCOMP_RET_* action and data).
uint32_t run_seccomp_program(const std::vector<SeccompInsn>& program, const SeccompData& d);

// Whether the program ever reads seccomp_data's instruction pointer.
bool seccomp_reads_instruction_pointer(const std::vector<SeccompInsn>& program);

// Why a program's answers cannot be carried, or "": a filter that can hand
// a call to a supervisor (SECCOMP_RET_USER_NOTIF: the supervisor and its
// listener descriptor stay behind), or that returns a computed value
// (BPF_RET | BPF_A), which could be that.
std::string seccomp_uncarried_action(const std::vector<SeccompInsn>& program);

}  // namespace ckpt::format
