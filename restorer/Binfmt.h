// Registering `restore` as the binfmt_misc handler of ckpt images, so that
// an executable image runs by itself (`./app.ckpt`): the kernel then runs
// `restore ./app.ckpt`, with the caller's credentials and fds.
//
// The entry matches the 8-byte magic at offset 0 (docs/format.md §11), names
// this very binary by its absolute path, and carries the F flag (the kernel
// opens the interpreter once, at registration, so the entry works inside
// containers and chroots that lack the path). Never the C flag: that would
// run restore with the image file's owner's credentials, making every
// setuid image an entry point to its owner's account (docs/security.md).
#pragma once

#include <string>

namespace ckpt::restorer {

inline constexpr const char* kBinfmtName = "ckpt";
inline constexpr const char* kBinfmtDir = "/proc/sys/fs/binfmt_misc";

// Registers (or re-registers, replacing an existing "ckpt" entry) this
// binary. Returns what was done, one line each. Throws RestoreError with
// what to do when binfmt_misc is not mounted or the caller may not register.
std::string install_binfmt();

// Removes the "ckpt" entry. Returns what was done (also when there was
// nothing to remove). Throws RestoreError as install_binfmt does.
std::string uninstall_binfmt();

}  // namespace ckpt::restorer
