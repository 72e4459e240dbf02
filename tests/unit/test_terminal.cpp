// The user's terminal record (format/Terminal.h): it round-trips through
// its section's encoding, and the decoder and the validation rules refuse
// what the restorer must never be handed: unknown flags, a line
// discipline other than N_TTY, a window size struct winsize cannot hold, a
// terminal fd without the record, paths that are not absolute.
#include <doctest/doctest.h>

#include <fcntl.h>

#include <string>
#include <vector>

#include "format/FormatError.h"
#include "format/Image.h"
#include "format/Terminal.h"
#include "format/Validate.h"

using namespace ckpt::format;

namespace {

TerminalInfo sample() {
  TerminalInfo t;
  t.rdev = (136ull << 8) | 3;
  t.path = "/dev/pts/3";
  t.flags = kTerminalForeground | kTerminalSessionLeader;
  t.sid = 100, t.pgid = 100, t.foreground_pgid = 100;
  t.termios.iflag = 0x4400, t.termios.oflag = 0x5, t.termios.cflag = 0xbf, t.termios.lflag = 0x8a31;
  for (size_t i = 0; i < t.termios.cc.size(); ++i) t.termios.cc[i] = uint8_t(i + 1);
  t.termios.ispeed = t.termios.ospeed = 38400;
  t.rows = 30, t.cols = 100, t.xpixel = 7, t.ypixel = 9;
  return t;
}

Image with_terminal(std::vector<FdEntry> fds, bool record) {
  Image img;
  img.files.fds = std::move(fds);
  if (record) img.terminal = sample();
  return img;
}

FdEntry terminal_fd(int32_t fd, const std::string& path) {
  FdEntry f;
  f.fd = fd;
  f.kind = FdKind::Terminal;
  f.flags = O_RDONLY;
  f.file.path = path;
  return f;
}

void refused(const Image& img, const std::string& why) {
  try {
    validate_terminal(img, [](const std::string& w) { throw FormatError(0, w); });
    FAIL("accepted, want: " << why);
  } catch (const FormatError& e) {
    CHECK_MESSAGE(std::string(e.what()).find(why) != std::string::npos, e.what());
  }
}

}  // namespace

TEST_CASE("terminal: the record round-trips, settings and special characters byte for byte") {
  TerminalInfo t = sample();
  std::vector<uint8_t> bytes = encode_terminal(t);
  TerminalInfo back = decode_terminal(bytes.data(), bytes.size(), 0);
  CHECK(back.rdev == t.rdev);
  CHECK(back.path == t.path);
  CHECK(back.flags == t.flags);
  CHECK(back.pgid == 100);
  CHECK(back.termios.lflag == 0x8a31);
  CHECK(back.termios.cc == t.termios.cc);
  CHECK(back.termios.line == 0);
  CHECK(back.termios.ospeed == 38400);
  CHECK(back.rows == 30);
  CHECK(back.cols == 100);
  CHECK(back.ypixel == 9);
}

TEST_CASE("terminal: a truncated record, trailing bytes or a window size beyond 16 bits are refused") {
  std::vector<uint8_t> bytes = encode_terminal(sample());
  CHECK_THROWS_AS(decode_terminal(bytes.data(), bytes.size() - 1, 0), FormatError);
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  CHECK_THROWS_WITH_AS(decode_terminal(longer.data(), longer.size(), 0), doctest::Contains("trailing bytes"),
                       FormatError);
  std::vector<uint8_t> wide = bytes;
  wide[wide.size() - 16 + 2] = 1;  // rows: 0x1001e
  CHECK_THROWS_WITH_AS(decode_terminal(wide.data(), wide.size(), 0), doctest::Contains("does not fit struct winsize"),
                       FormatError);
}

TEST_CASE("terminal: validation refuses unknown flags, another line discipline, missing record or paths") {
  validate_terminal(with_terminal({terminal_fd(3, "/dev/tty")}, true), [](const std::string& w) { FAIL(w); });
  validate_terminal(with_terminal({}, false), [](const std::string& w) { FAIL(w); });
  refused(with_terminal({terminal_fd(3, "/dev/pts/3")}, false), "fd 3 is on the terminal, but the image has no terminal record");
  refused(with_terminal({terminal_fd(255, "pts/3")}, true), "fd 255 (terminal) has no absolute path");
  Image img = with_terminal({}, true);
  img.terminal->flags = 4;
  refused(img, "unknown flags");
  img = with_terminal({}, true);
  img.terminal->termios.line = 2;
  refused(img, "line discipline 2 is not N_TTY");
  img = with_terminal({}, true);
  img.terminal->path = "";
  refused(img, "no absolute path");
}
