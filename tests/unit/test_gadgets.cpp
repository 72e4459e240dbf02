// The code sequences found in a process for the no-trace finish and for
// syscall injection's safety frame (x86/ResumeGadgets.h, x86/RemoteSyscall.h).
#include <doctest/doctest.h>

#include <vector>

#include "x86/RemoteSyscall.h"
#include "x86/ResumeGadgets.h"

using namespace ckpt::x86;

TEST_CASE("the wrapper tail counts as a resume gadget, not as injection's strict syscall; ret") {
  // nop; syscall; cmp $-4095,%rax; jae +1; ret; nop; syscall; ret; mov $15,%rax; syscall
  std::vector<uint8_t> code = {0x90, 0x0f, 0x05, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x73, 0x01, 0xc3, 0x90,
                               0x0f, 0x05, 0xc3, 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
  GadgetScan found;
  scan_gadgets(code.data(), code.size(), 0x1000, found);
  CHECK(found.syscall == 0x1001);
  CHECK(found.syscall_ret == 0x100d);
  CHECK(found.sigreturn == 0x1010);
  CHECK(found.complete());
  CHECK(find_syscall_ret(code.data(), code.size(), 0x1000) == 0x100d);
  CHECK(find_syscall_instruction(code.data(), code.size(), 0x1000) == 0x1001);
}

TEST_CASE("without a strict syscall; ret the scan is not complete") {
  std::vector<uint8_t> code = {0x0f, 0x05, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x73, 0x01, 0xc3,
                               0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
  GadgetScan found;
  scan_gadgets(code.data(), code.size(), 0x2000, found);
  CHECK(found.syscall == 0x2000);
  CHECK(found.sigreturn == 0x200b);
  CHECK(found.syscall_ret == 0);
  CHECK_FALSE(found.complete());
  CHECK(find_syscall_ret(code.data(), code.size(), 0x2000) == 0);
}

TEST_CASE("a thread with a user shadow stack is recognised from its status") {
  CHECK_FALSE(shadow_stack_enabled("Name:\tsleep\nSeccomp:\t0\n"));  // a kernel without shadow stacks
  CHECK_FALSE(shadow_stack_enabled("Name:\tsleep\nx86_Thread_features:\t\nx86_Thread_features_locked:\tshstk wrss\n"));
  CHECK(shadow_stack_enabled("Name:\tsleep\nx86_Thread_features:\tshstk wrss\nx86_Thread_features_locked:\t\n"));
  CHECK(shadow_stack_enabled("Name:\tsleep\nx86_Thread_features:\twrss shstk\n"));
  CHECK_FALSE(shadow_stack_enabled("Name:\tsleep\nx86_Thread_features:\twrss\n"));
}
