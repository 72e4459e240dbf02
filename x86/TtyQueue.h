// The data a pseudo-terminal holds queued, taken out and put back exactly.
// A tty cannot be peeked: every read consumes. So the dump reads the queues
// out (its own descriptions, nothing else of the target's) and writes them
// straight back, and a restore writes them into the new pty the same way.
// What the kernel needs for that to be exact (docs/architecture.md, "Pseudo-
// terminals"): input goes in through the master with echo, signals and
// input translation off, each special character of a canonical line behind
// VLNEXT, and each line's end as its own character; output goes in through
// the slave with OPOST off; the line discipline's buffer is flushed (poll)
// before the terminal settings are put back. Here because both halves
// (dumper, restorer) need it and x86/ is their shared interface to the
// kernel; no libc termios (the kernel's termios2 is used, with its speeds).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::x86 {

// The kernel's struct termios2, field for field (44 bytes).
struct TtySettings {
  uint32_t iflag = 0, oflag = 0, cflag = 0, lflag = 0;
  uint8_t line = 0;
  uint8_t cc[19] = {};
  uint32_t ispeed = 0, ospeed = 0;
};
bool get_tty_settings(int fd, TtySettings& out);        // TCGETS2
bool set_tty_settings(int fd, const TtySettings& s);    // TCSETS2 (no drain)
bool tty_is_canonical(const TtySettings& s);            // ICANON without EXTPROC
bool tty_input_is_raw(const TtySettings& s);            // EXTPROC without ISTRIP/IUCLC: bytes queued as written

// One read(2) of the slave's queue; `end` as format's PtyLineEnd (0 not
// ended, 1 ended by its last byte, 2 ended by VEOF).
struct TtyLine {
  std::vector<uint8_t> bytes;
  uint32_t end = 0;
};

// Reads every byte waiting for the slave's reader through `slave`, a
// non-blocking description of the slave's own (not the target's). In
// canonical mode complete lines come first, one per read, then the line
// still being typed, read after ICANON is turned off for a moment (the only
// way to see it); `s` is then set again. Returns "" or why it failed.
std::string take_tty_input(int slave, const TtySettings& s, std::vector<TtyLine>& lines);

// Reads every byte waiting for the master's reader (its line discipline is
// raw); in packet mode each read's leading TIOCPKT_DATA byte is dropped. The
// caller has made sure no packet status byte is waiting (poll POLLPRI).
std::string take_tty_output(int master, bool packet, std::vector<uint8_t>& out);

// Puts `lines` into the slave's input queue through the master, as the
// line discipline had them, and leaves `s` set. `may_clear_ixon`: output is
// not stopped (or packet mode is off), so IXON may be off while writing
// (non-canonical lines cannot escape START/STOP characters).
std::string put_tty_input(int master, int slave, const TtySettings& s, const std::vector<TtyLine>& lines,
                          bool may_clear_ixon);

// Puts `bytes` into the master's input queue through `slave` (non-blocking)
// with OPOST off, and leaves `s` set.
std::string put_tty_output(int master, int slave, const TtySettings& s, const std::vector<uint8_t>& bytes);

// What FIONREAD of the slave says once `lines` are queued under `s`: in
// canonical mode the complete lines only.
size_t tty_input_count(const TtySettings& s, const std::vector<TtyLine>& lines);

// Bytes the line discipline of `fd` holds for its reader (FIONREAD; in
// canonical mode only complete lines count), after flushing what the
// other side wrote into it. -1 on error.
int tty_queued(int fd);

}  // namespace ckpt::x86
