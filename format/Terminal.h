// The user's terminal: the controlling terminal a process was started from,
// when some fd of it was on that terminal (SectionType::Terminal, optional;
// docs/format.md, "Terminal"). Its fds above 2 are FdEntries of kind
// FdKind::Terminal; restore puts them, and these settings, on the terminal
// it runs in (docs/architecture.md, "The user's terminal").
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>


namespace ckpt::format {

struct Image;

// struct termios2 as TCGETS2 gives it (asm-generic/termbits.h, x86-64).
struct Termios {
  uint32_t iflag = 0, oflag = 0, cflag = 0, lflag = 0;
  uint8_t line = 0;                // line discipline; only N_TTY (0) is carried
  std::array<uint8_t, 19> cc{};    // NCCS = 19
  uint32_t ispeed = 0, ospeed = 0;
};

// TerminalInfo::flags
enum TerminalFlag : uint32_t {
  // The process's group was the terminal's foreground group at the dump:
  // the settings were the program's own (a background job's terminal holds
  // whatever the foreground program set, typically its shell's).
  kTerminalForeground = 1u << 0,
  kTerminalSessionLeader = 1u << 1,  // the process led the terminal's session (a tmux pane's shell)
  kTerminalKnownFlags = (1u << 2) - 1,
};

struct TerminalInfo {
  uint64_t rdev = 0;      // the terminal's device number at dump (informational)
  std::string path;       // its name at dump, e.g. /dev/pts/3 (informational)
  uint32_t flags = 0;     // TerminalFlag bits
  int32_t sid = 0, pgid = 0, foreground_pgid = 0;  // at dump (informational: restore keeps its own)
  Termios termios;        // applied to restore's terminal when both were in the foreground
  uint16_t rows = 0, cols = 0, xpixel = 0, ypixel = 0;  // TIOCGWINSZ at dump (informational: the new size is kept)
};

std::vector<uint8_t> encode_terminal(const TerminalInfo& t);
TerminalInfo decode_terminal(const uint8_t* data, size_t n, uint64_t base);

// Known flags, N_TTY, an absolute path; every FdKind::Terminal fd needs the
// record. `bad` throws with the message.
void validate_terminal(const Image& image, const std::function<void(const std::string&)>& bad);

}  // namespace ckpt::format
