// Parsing of /proc/PID/maps and /proc/PID/smaps: the kernel's own view of an
// address space. Kept in x86/ because this layer is the project's interface
// to the machine and its kernel (docs/architecture.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::x86 {

struct MapsEntry {
  uint64_t start = 0, end = 0, offset = 0;
  bool read = false, write = false, exec = false, shared = false;
  uint32_t dev_major = 0, dev_minor = 0;
  uint64_t inode = 0;
  std::string path;                  // "" for anonymous, "[heap]", "/lib/...", "... (deleted)"
  std::vector<std::string> vmflags;  // smaps "VmFlags:" only
  uint64_t kernel_page_kb = 0;       // smaps "KernelPageSize:" only
  uint64_t hugetlb_kb = 0;           // smaps "Shared_Hugetlb:" + "Private_Hugetlb:" only
  bool has_flag(const char* f) const;
};

// Parses maps or smaps text; throws std::runtime_error on a malformed line.
std::vector<MapsEntry> parse_maps(const std::string& text);

// Reads a whole /proc file (they report size 0, so stat cannot size them).
std::string read_proc_file(const std::string& path);

}  // namespace ckpt::x86
