// The user's terminal record (see Terminal.h).
#include "format/Terminal.h"

#include <cstring>

#include "format/Codec.h"
#include "format/FormatError.h"
#include "format/Image.h"
#include "format/Limits.h"

namespace ckpt::format {

std::vector<uint8_t> encode_terminal(const TerminalInfo& t) {
  ByteWriter w;
  w.u64(t.rdev);
  w.str(t.path);
  w.u32(t.flags);
  w.i32(t.sid);
  w.i32(t.pgid);
  w.i32(t.foreground_pgid);
  const Termios& m = t.termios;
  for (uint32_t v : {m.iflag, m.oflag, m.cflag, m.lflag}) w.u32(v);
  w.put(&m.line, 1);
  w.put(m.cc.data(), m.cc.size());
  w.u32(m.ispeed);
  w.u32(m.ospeed);
  for (uint16_t v : {t.rows, t.cols, t.xpixel, t.ypixel}) w.u32(v);
  return w.bytes();
}

TerminalInfo decode_terminal(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  TerminalInfo t;
  t.rdev = r.u64("terminal device");
  t.path = r.str("terminal path", kMaxStringLength);
  t.flags = r.u32("terminal flags");
  t.sid = r.i32("terminal session");
  t.pgid = r.i32("terminal process group");
  t.foreground_pgid = r.i32("terminal foreground group");
  Termios& m = t.termios;
  m.iflag = r.u32("termios iflag");
  m.oflag = r.u32("termios oflag");
  m.cflag = r.u32("termios cflag");
  m.lflag = r.u32("termios lflag");
  uint8_t line_cc[20];  // c_line and c_cc[19], as bytes
  for (size_t i = 0; i < sizeof line_cc; i += 4) {
    uint32_t v = r.u32("termios c_line and c_cc");
    std::memcpy(line_cc + i, &v, 4);
  }
  m.line = line_cc[0];
  std::memcpy(m.cc.data(), line_cc + 1, m.cc.size());
  m.ispeed = r.u32("termios ispeed");
  m.ospeed = r.u32("termios ospeed");
  for (uint16_t* v : {&t.rows, &t.cols, &t.xpixel, &t.ypixel}) {
    uint64_t at = r.offset();
    uint32_t x = r.u32("window size");
    if (x > kMaxWindowDimension) throw FormatError(at, "window size " + std::to_string(x) + " does not fit struct winsize");
    *v = uint16_t(x);
  }
  r.expect_end("terminal section");
  return t;
}

void validate_terminal(const Image& image, const std::function<void(const std::string&)>& bad) {
  if (!image.terminal) {
    for (const FdEntry& f : image.files.fds)
      if (f.kind == FdKind::Terminal) bad("fd " + std::to_string(f.fd) + " is on the terminal, but the image has no terminal record");
    return;
  }
  const TerminalInfo& t = *image.terminal;
  if (t.flags & ~uint32_t(kTerminalKnownFlags)) bad("terminal record has unknown flags");
  if (t.termios.line != 0) bad("terminal line discipline " + std::to_string(t.termios.line) + " is not N_TTY");
  if (t.path.empty() || t.path[0] != '/') bad("terminal record has no absolute path");
  for (const FdEntry& f : image.files.fds)
    if (f.kind == FdKind::Terminal && (f.file.path.empty() || f.file.path[0] != '/'))
      bad("fd " + std::to_string(f.fd) + " (terminal) has no absolute path");
}

}  // namespace ckpt::format
