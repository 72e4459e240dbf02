// The seccomp record, the kernel's checks of a program, and an interpreter
// of it (see Seccomp.h).
#include "format/Seccomp.h"

#include "format/Codec.h"
#include "format/FormatError.h"

namespace ckpt::format {

namespace {

// Classic BPF opcodes (linux/bpf_common.h, linux/filter.h).
enum : uint16_t {
  kLd = 0x00, kLdx = 0x01, kSt = 0x02, kStx = 0x03, kAlu = 0x04, kJmp = 0x05, kRet = 0x06, kMisc = 0x07,
  kW = 0x00, kImm = 0x00, kAbs = 0x20, kMem = 0x60, kLen = 0x80,
  kAdd = 0x00, kSub = 0x10, kMul = 0x20, kDiv = 0x30, kOr = 0x40, kAnd = 0x50, kLsh = 0x60, kRsh = 0x70,
  kNeg = 0x80, kXor = 0xa0,
  kJa = 0x00, kJeq = 0x10, kJgt = 0x20, kJge = 0x30, kJset = 0x40,
  kK = 0x00, kX = 0x08, kA = 0x10,
  kTax = 0x00, kTxa = 0x80,
};
constexpr uint32_t kMemWords = 16;          // BPF_MEMWORDS
constexpr uint32_t kSeccompDataSize = 64;  // sizeof(struct seccomp_data)
constexpr uint32_t kRetUserNotif = 0x7fc00000, kActionMask = 0xffff0000;

bool is_cond_jump(uint16_t c) {
  return (c & 0x07) == kJmp && (c & 0xf0) != kJa;
}

// The opcodes seccomp_check_filter lets through (after bpf_check_classic):
// 32-bit loads of seccomp_data, its length, immediates, scratch memory, the
// ALU without modulo, the jumps and the returns.
bool allowed(uint16_t c) {
  switch (c) {
    case kLd | kW | kAbs: case kLd | kW | kLen: case kLdx | kW | kLen:
    case kRet | kK: case kRet | kA:
    case kAlu | kAdd | kK: case kAlu | kAdd | kX: case kAlu | kSub | kK: case kAlu | kSub | kX:
    case kAlu | kMul | kK: case kAlu | kMul | kX: case kAlu | kDiv | kK: case kAlu | kDiv | kX:
    case kAlu | kAnd | kK: case kAlu | kAnd | kX: case kAlu | kOr | kK: case kAlu | kOr | kX:
    case kAlu | kXor | kK: case kAlu | kXor | kX: case kAlu | kLsh | kK: case kAlu | kLsh | kX:
    case kAlu | kRsh | kK: case kAlu | kRsh | kX: case kAlu | kNeg:
    case kLd | kImm: case kLdx | kImm: case kMisc | kTax: case kMisc | kTxa:
    case kLd | kMem: case kLdx | kMem: case kSt: case kStx:
    case kJmp | kJa: case kJmp | kJeq | kK: case kJmp | kJeq | kX: case kJmp | kJge | kK: case kJmp | kJge | kX:
    case kJmp | kJgt | kK: case kJmp | kJgt | kX: case kJmp | kJset | kK: case kJmp | kJset | kX:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::vector<uint8_t> encode_seccomp(const std::vector<SeccompFilter>& chain) {
  ByteWriter w;
  w.u32(uint32_t(chain.size()));
  for (const SeccompFilter& f : chain) {
    w.u32(f.flags);
    w.u32(uint32_t(f.program.size()));
    for (const SeccompInsn& i : f.program) {
      w.put(&i.code, 2);
      w.put(&i.jt, 1);
      w.put(&i.jf, 1);
      w.u32(i.k);
    }
  }
  return w.bytes();
}

std::vector<SeccompFilter> decode_seccomp(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  std::vector<SeccompFilter> chain(r.count("seccomp filter count", kMaxSeccompPathInsns / 5, 16));
  for (SeccompFilter& f : chain) {
    f.flags = r.u32("seccomp filter flags");
    f.program.resize(r.count("seccomp program length", kMaxSeccompInsns, 8));
    for (SeccompInsn& i : f.program) {
      const uint32_t op = r.u32("seccomp instruction");
      i.code = uint16_t(op & 0xffff);
      i.jt = uint8_t(op >> 16);
      i.jf = uint8_t(op >> 24);
      i.k = r.u32("seccomp instruction operand");
    }
  }
  r.expect_end("seccomp section");
  return chain;
}

std::string check_seccomp_program(const std::vector<SeccompInsn>& p) {
  const size_t n = p.size();
  if (n == 0 || n > kMaxSeccompInsns) return "a program of " + std::to_string(n) + " instructions";
  auto at = [](size_t pc, const std::string& why) { return "instruction " + std::to_string(pc) + ": " + why; };
  for (size_t pc = 0; pc < n; ++pc) {
    const SeccompInsn& i = p[pc];
    if (!allowed(i.code)) return at(pc, "opcode " + std::to_string(i.code) + " is not allowed in a seccomp filter");
    switch (i.code) {
      case kLd | kW | kAbs:
        if (i.k >= kSeccompDataSize || i.k % 4) return at(pc, "loads beyond or across seccomp_data's words");
        break;
      case kAlu | kDiv | kK:
        if (i.k == 0) return at(pc, "divides by zero");
        break;
      case kAlu | kLsh | kK:
      case kAlu | kRsh | kK:
        if (i.k >= 32) return at(pc, "shifts by 32 or more");
        break;
      case kLd | kMem: case kLdx | kMem: case kSt: case kStx:
        if (i.k >= kMemWords) return at(pc, "scratch memory word beyond 15");
        break;
      case kJmp | kJa:
        if (i.k >= n - pc - 1) return at(pc, "jumps beyond the program");
        break;
      default:
        if (is_cond_jump(i.code) && (pc + i.jt + 1 >= n || pc + i.jf + 1 >= n))
          return at(pc, "jumps beyond the program");
    }
  }
  if ((p[n - 1].code & 0x07) != kRet) return "the last instruction is not a return";
  // Scratch memory read only where every path wrote it (as the kernel
  // checks: a mask of valid words per instruction, narrowed by each jump).
  std::vector<uint16_t> masks(n, 0xffff);
  uint16_t valid = 0;
  for (size_t pc = 0; pc < n; ++pc) {
    const SeccompInsn& i = p[pc];
    valid &= masks[pc];
    switch (i.code) {
      case kSt: case kStx: valid |= uint16_t(1u << i.k); break;
      case kLd | kMem: case kLdx | kMem:
        if (!(valid & (1u << i.k))) return at(pc, "reads scratch memory word " + std::to_string(i.k) + " before it is written");
        break;
      case kJmp | kJa:
        masks[pc + 1 + i.k] &= valid;
        valid = 0xffff;
        break;
      default:
        if (is_cond_jump(i.code)) {
          masks[pc + 1 + i.jt] &= valid;
          masks[pc + 1 + i.jf] &= valid;
          valid = 0xffff;
        }
    }
  }
  return "";
}

void validate_seccomp(const std::vector<SeccompFilter>& chain, const std::function<void(const std::string&)>& bad) {
  if (chain.empty()) bad("a seccomp section without filters");
  uint64_t path = 0;
  for (size_t f = 0; f < chain.size(); ++f) {
    if (chain[f].flags & ~kSeccompFlagLog) bad("filter " + std::to_string(f) + ": unknown flags " + std::to_string(chain[f].flags));
    const std::string why = check_seccomp_program(chain[f].program);
    if (!why.empty()) bad("filter " + std::to_string(f) + ": " + why);
    path += chain[f].program.size() + 4;
  }
  if (path > kMaxSeccompPathInsns) bad("the filters hold more instructions than the kernel allows a thread");
}

uint32_t run_seccomp_program(const std::vector<SeccompInsn>& p, const SeccompData& d) {
  uint32_t words[kSeccompDataSize / 4];
  words[0] = uint32_t(d.nr);
  words[1] = d.arch;
  words[2] = uint32_t(d.instruction_pointer);
  words[3] = uint32_t(d.instruction_pointer >> 32);
  for (int a = 0; a < 6; ++a) {
    words[4 + 2 * a] = uint32_t(d.args[a]);
    words[5 + 2 * a] = uint32_t(d.args[a] >> 32);
  }
  uint32_t A = 0, X = 0, M[kMemWords] = {};
  for (size_t pc = 0; pc < p.size(); ++pc) {
    const SeccompInsn& i = p[pc];
    const uint32_t src = (i.code & kX) ? X : i.k;
    switch (i.code) {
      case kLd | kW | kAbs: A = words[i.k / 4]; break;
      case kLd | kW | kLen: A = kSeccompDataSize; break;
      case kLdx | kW | kLen: X = kSeccompDataSize; break;
      case kLd | kImm: A = i.k; break;
      case kLdx | kImm: X = i.k; break;
      case kLd | kMem: A = M[i.k]; break;
      case kLdx | kMem: X = M[i.k]; break;
      case kSt: M[i.k] = A; break;
      case kStx: M[i.k] = X; break;
      case kMisc | kTax: X = A; break;
      case kMisc | kTxa: A = X; break;
      case kAlu | kNeg: A = 0u - A; break;
      case kAlu | kAdd | kK: case kAlu | kAdd | kX: A += src; break;
      case kAlu | kSub | kK: case kAlu | kSub | kX: A -= src; break;
      case kAlu | kMul | kK: case kAlu | kMul | kX: A *= src; break;
      case kAlu | kDiv | kK: case kAlu | kDiv | kX:
        if (src == 0) return 0;  // the kernel's filter returns 0 on a division by zero
        A /= src;
        break;
      case kAlu | kAnd | kK: case kAlu | kAnd | kX: A &= src; break;
      case kAlu | kOr | kK: case kAlu | kOr | kX: A |= src; break;
      case kAlu | kXor | kK: case kAlu | kXor | kX: A ^= src; break;
      case kAlu | kLsh | kK: case kAlu | kLsh | kX: A <<= (src & 31); break;
      case kAlu | kRsh | kK: case kAlu | kRsh | kX: A >>= (src & 31); break;
      case kJmp | kJa: pc += i.k; break;
      case kJmp | kJeq | kK: case kJmp | kJeq | kX: pc += A == src ? i.jt : i.jf; break;
      case kJmp | kJgt | kK: case kJmp | kJgt | kX: pc += A > src ? i.jt : i.jf; break;
      case kJmp | kJge | kK: case kJmp | kJge | kX: pc += A >= src ? i.jt : i.jf; break;
      case kJmp | kJset | kK: case kJmp | kJset | kX: pc += (A & src) ? i.jt : i.jf; break;
      case kRet | kK: return i.k;
      case kRet | kA: return A;
      default: return 0;  // not reached for a checked program
    }
  }
  return 0;
}

bool seccomp_reads_instruction_pointer(const std::vector<SeccompInsn>& p) {
  for (const SeccompInsn& i : p)
    if (i.code == (kLd | kW | kAbs) && (i.k == 8 || i.k == 12)) return true;
  return false;
}

std::string seccomp_uncarried_action(const std::vector<SeccompInsn>& p) {
  for (size_t pc = 0; pc < p.size(); ++pc) {
    if (p[pc].code == (kRet | kK) && (p[pc].k & kActionMask) == kRetUserNotif)
      return "instruction " + std::to_string(pc) + " hands calls to a user-space supervisor (SECCOMP_RET_USER_NOTIF)";
    if (p[pc].code == (kRet | kA))
      return "instruction " + std::to_string(pc) + " returns a computed action (BPF_RET | BPF_A), which could hand calls to a supervisor";
  }
  return "";
}

}  // namespace ckpt::format
