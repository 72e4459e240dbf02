// The general register set of a stopped thread, in the kernel's
// user_regs_struct layout (what PTRACE_GETREGS returns), and the selectors
// every 64-bit user thread runs with.
#pragma once

#include <sys/user.h>

#include <cstdint>

namespace ckpt::x86 {

using UserRegs = user_regs_struct;
static_assert(sizeof(UserRegs) == 27 * 8, "user_regs_struct layout changed");

inline constexpr uint16_t kUserCs = 0x33;  // __USER_CS
inline constexpr uint16_t kUserDs = 0x2b;  // __USER_DS, also the 64-bit ss

}  // namespace ckpt::x86
