// /proc/PID/maps and smaps parsing (see ProcMaps.h).
#include "x86/ProcMaps.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace ckpt::x86 {

bool MapsEntry::has_flag(const char* f) const {
  for (const std::string& v : vmflags)
    if (v == f) return true;
  return false;
}

std::string read_proc_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      throw std::system_error(e, std::generic_category(), "cannot read " + path);
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  ::close(fd);
  return out;
}

static bool is_header_line(const std::string& line) {
  // "start-end perms offset dev inode [path]": the first token has a '-' and only hex digits.
  size_t sp = line.find(' ');
  if (sp == std::string::npos) return false;
  size_t dash = line.find('-');
  return dash != std::string::npos && dash < sp && line.find(':') > sp;
}

// smaps detail lines: "Name:   value" with a name of letters, digits and '_'.
static bool is_smaps_field(const std::string& line) {
  size_t colon = line.find(':');
  if (colon == 0 || colon == std::string::npos) return false;
  for (size_t i = 0; i < colon; ++i)
    if (!std::isalnum(static_cast<unsigned char>(line[i])) && line[i] != '_') return false;
  return true;
}

// Hex (or decimal) digits at *p, at least one, up to 16 (20), ending where
// the digits end; false if there are none or too many.
static bool number_at(const char*& p, const char* end, uint64_t& v, bool hex) {
  const char* start = p;
  v = 0;
  for (; p < end; ++p) {
    unsigned d;
    if (*p >= '0' && *p <= '9') d = unsigned(*p - '0');
    else if (hex && *p >= 'a' && *p <= 'f') d = unsigned(*p - 'a' + 10);
    else if (hex && *p >= 'A' && *p <= 'F') d = unsigned(*p - 'A' + 10);
    else break;
    v = v * (hex ? 16 : 10) + d;
  }
  return p > start && p - start <= (hex ? 16 : 20);
}

// "start-end perms offset major:minor inode [path]", as the kernel writes
// it (show_map_vma): cut by hand, as sscanf costs restore's start-up more
// than the read of the file. False if the line is not one.
static bool parse_header(const char* p, const char* end, MapsEntry& e) {
  uint64_t major = 0, minor = 0;
  auto skip = [&] {
    const char* was = p;
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    return p > was;
  };
  if (!number_at(p, end, e.start, true) || p == end || *p++ != '-' || !number_at(p, end, e.end, true) || !skip())
    return false;
  if (end - p < 4) return false;
  const char* perms = p;
  p += 4;
  if (!skip() || !number_at(p, end, e.offset, true) || !skip() || !number_at(p, end, major, true) || p == end ||
      *p++ != ':' || !number_at(p, end, minor, true) || !skip() || !number_at(p, end, e.inode, false))
    return false;
  if (p < end && !skip()) return false;
  e.dev_major = unsigned(major);
  e.dev_minor = unsigned(minor);
  e.read = perms[0] == 'r';
  e.write = perms[1] == 'w';
  e.exec = perms[2] == 'x';
  e.shared = perms[3] == 's';
  if (p < end) e.path.assign(p, size_t(end - p));
  return true;
}

// Lines and words are cut by hand: string streams would initialise the C++
// locales, which costs restore's start-up more than the whole parse.
std::vector<MapsEntry> parse_maps(const std::string& text) {
  std::vector<MapsEntry> out;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = text.substr(at, nl - at);
    at = nl + 1;
    if (line.empty()) continue;
    if (is_header_line(line)) {
      MapsEntry e;
      if (!parse_header(line.data(), line.data() + line.size(), e)) throw std::runtime_error("malformed maps line: " + line);
      out.push_back(std::move(e));
    } else if (line.rfind("VmFlags:", 0) == 0 && !out.empty()) {
      for (size_t w = 8; w < line.size();) {
        while (w < line.size() && std::isspace(static_cast<unsigned char>(line[w]))) ++w;
        size_t end = w;
        while (end < line.size() && !std::isspace(static_cast<unsigned char>(line[end]))) ++end;
        if (end > w) out.back().vmflags.push_back(line.substr(w, end - w));
        w = end;
      }
    } else if (line.rfind("KernelPageSize:", 0) == 0 && !out.empty()) {
      out.back().kernel_page_kb = std::strtoull(line.c_str() + 15, nullptr, 10);
    } else if ((line.rfind("Shared_Hugetlb:", 0) == 0 || line.rfind("Private_Hugetlb:", 0) == 0) && !out.empty()) {
      out.back().hugetlb_kb += std::strtoull(line.c_str() + line.find(':') + 1, nullptr, 10);
    } else if (!is_smaps_field(line) || out.empty()) {
      // A cut-off or foreign line would silently hide mappings.
      throw std::runtime_error("malformed maps line: " + line);
    }
  }
  return out;
}

}  // namespace ckpt::x86
