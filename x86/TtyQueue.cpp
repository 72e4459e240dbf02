// Taking a pty's queues out and putting them back (see TtyQueue.h).
#include "x86/TtyQueue.h"

#include <asm/termbits.h>
#include <errno.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

namespace ckpt::x86 {

static_assert(sizeof(TtySettings) == sizeof(struct termios2), "TtySettings must be the kernel's termios2");

bool get_tty_settings(int fd, TtySettings& out) {
  struct termios2 t;
  if (ioctl(fd, TCGETS2, &t) != 0) return false;
  std::memcpy(static_cast<void*>(&out), &t, sizeof t);
  return true;
}

bool set_tty_settings(int fd, const TtySettings& s) {
  struct termios2 t;
  std::memcpy(&t, &s, sizeof t);
  return ioctl(fd, TCSETS2, &t) == 0;
}

bool tty_is_canonical(const TtySettings& s) { return (s.lflag & ICANON) && !(s.lflag & EXTPROC); }

bool tty_input_is_raw(const TtySettings& s) {
  return (s.lflag & EXTPROC) && !(s.iflag & ISTRIP) && !((s.iflag & IUCLC) && (s.lflag & IEXTEN));
}

namespace {

std::string err(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// The kernel moves what one side wrote into the other side's line
// discipline from a work queue; poll (n_tty_poll) waits for that work when
// nothing is readable yet, so after it the queue holds every byte written.
void flush(int fd) {
  pollfd p{fd, POLLIN, 0};
  poll(&p, 1, 0);
}

std::string write_all(int fd, const std::vector<uint8_t>& bytes) {
  size_t done = 0;
  int stalls = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n > 0) {
      done += size_t(n);
      stalls = 0;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return err("write");
    // Room comes back as the other side's line discipline takes the bytes.
    pollfd p{fd, POLLOUT, 1000};
    if (poll(&p, 1, 1000) == 0 && ++stalls > 10) return "write: no room for 10 s";
  }
  return "";
}

bool is_end(const TtySettings& s, uint8_t b) {
  return b == '\n' || (s.cc[VEOL] && b == s.cc[VEOL]) || ((s.lflag & IEXTEN) && s.cc[VEOL2] && b == s.cc[VEOL2]);
}

// Characters the canonical line discipline acts on under `s` (echo and
// ISIG off), which a line carries only behind VLNEXT. Disabled (0) never is.
bool is_special(const TtySettings& s, uint8_t b) {
  if (b == 0) return false;
  if (b == '\n' || b == s.cc[VEOF] || b == s.cc[VEOL] || b == s.cc[VERASE] || b == s.cc[VKILL]) return true;
  if ((s.lflag & IEXTEN) && (b == s.cc[VWERASE] || b == s.cc[VLNEXT] || b == s.cc[VEOL2])) return true;
  if ((s.iflag & IXON) && (b == s.cc[VSTART] || b == s.cc[VSTOP])) return true;
  return false;
}

}  // namespace

size_t tty_input_count(const TtySettings& s, const std::vector<TtyLine>& lines) {
  size_t n = 0;
  for (const TtyLine& l : lines)
    if (l.end != 0 || !tty_is_canonical(s)) n += l.bytes.size();
  return n;
}

int tty_queued(int fd) {
  flush(fd);
  int n = 0;
  return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

std::string take_tty_input(int slave, const TtySettings& s, std::vector<TtyLine>& lines) {
  uint8_t buf[4096];
  auto drain = [&](uint32_t end_kind) -> std::string {
    for (int i = 0; i < 8192; ++i) {
      ssize_t n = ::read(slave, buf, sizeof buf);
      if (n < 0) return errno == EAGAIN ? "" : err("read");
      TtyLine l;
      l.bytes.assign(buf, buf + n);
      if (end_kind == 0) {
        if (n == 0) return "";
        if (!lines.empty() && lines.back().end == 0) {  // raw input is one run however many reads it takes
          lines.back().bytes.insert(lines.back().bytes.end(), buf, buf + n);
          continue;
        }
        l.end = 0;
      } else {
        l.end = n > 0 && is_end(s, buf[n - 1]) ? 1 : 2;
      }
      lines.push_back(std::move(l));
    }
    return "read: the queue does not end";
  };
  if (!tty_is_canonical(s)) return drain(0);
  if (std::string e = drain(1); !e.empty()) return e;
  // The line being typed is not readable in canonical mode. Without
  // ICANON it is, and with the queue then empty, turning ICANON on again
  // leaves the line discipline as a fresh canonical one.
  TtySettings raw = s;
  raw.lflag &= ~uint32_t(ICANON);
  if (!set_tty_settings(slave, raw)) return err("TCSETS2");
  std::string e = drain(0);
  if (!set_tty_settings(slave, s)) return err("TCSETS2 (back)");
  if (e.empty() && !lines.empty() && lines.back().end == 0 && lines.back().bytes.empty()) lines.pop_back();
  return e;
}

std::string take_tty_output(int master, bool packet, std::vector<uint8_t>& out) {
  uint8_t buf[4096 + 1];
  for (int i = 0; i < 8192; ++i) {
    int n = tty_queued(master);
    if (n < 0) return err("FIONREAD");
    if (n == 0) return "";
    size_t want = size_t(n) > sizeof buf - 1 ? sizeof buf - 1 : size_t(n);
    ssize_t got = ::read(master, buf, want + (packet ? 1 : 0));
    if (got < 0) return err("read");
    size_t skip = 0;
    if (packet) {
      if (got == 0 || buf[0] != 0) return "read: a packet-mode status byte came instead of data";
      skip = 1;
    }
    out.insert(out.end(), buf + skip, buf + got);
  }
  return "read: the queue does not end";
}

std::string put_tty_input(int master, int slave, const TtySettings& s, const std::vector<TtyLine>& lines,
                          bool may_clear_ixon) {
  if (lines.empty()) return "";
  if (tty_input_is_raw(s)) {  // queued as written: no settings to change (a change would notify packet mode)
    for (const TtyLine& l : lines)
      if (std::string e = write_all(master, l.bytes); !e.empty()) return e;
    flush(slave);
    if (int n = tty_queued(slave); n != int(tty_input_count(s, lines)))
      return "the slave's queue holds " + std::to_string(n) + " bytes, not " + std::to_string(tty_input_count(s, lines));
    return "";
  }
  const bool canonical = tty_is_canonical(s);
  TtySettings w = s;
  w.iflag &= ~uint32_t(ISTRIP | INLCR | IGNCR | ICRNL | IUCLC | IXANY | IMAXBEL | PARMRK);
  w.lflag &= ~uint32_t(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOPRT | ECHOKE | ISIG);
  if (canonical) {
    w.lflag |= IEXTEN;
    if (!w.cc[VLNEXT]) w.cc[VLNEXT] = 026;  // ^V
    if (!w.cc[VEOF]) w.cc[VEOF] = 004;      // ^D
  } else if (may_clear_ixon) {
    w.iflag &= ~uint32_t(IXON);
  }
  TtySettings current = w;
  if (!set_tty_settings(slave, w)) return err("TCSETS2");
  std::string failure;
  std::vector<uint8_t> out;
  for (const TtyLine& l : lines) {
    const std::vector<uint8_t>& b = l.bytes;
    size_t body = b.size() - (l.end == 1 ? 1 : 0);
    if (!canonical) {
      for (uint8_t c : b)
        if ((w.iflag & IXON) && c && (c == w.cc[VSTART] || c == w.cc[VSTOP]))
          failure = "a START/STOP character in raw input while output flow control is on";
      out.insert(out.end(), b.begin(), b.end());
      continue;
    }
    // A line that ended with a character that is no longer an end (the
    // settings changed since it was typed) gets it as VEOL for that line.
    const bool own_end = l.end == 1 && !is_end(current, b.back());
    auto settle = [&](const TtySettings& next) {
      if ((failure = write_all(master, out)).empty()) {
        flush(slave);
        out.clear();
        current = next;
        if (!set_tty_settings(slave, current)) failure = err("TCSETS2");
      }
    };
    if (own_end) {
      TtySettings next = current;
      next.cc[VEOL] = b.back();
      settle(next);
      if (!failure.empty()) break;
    }
    for (size_t i = 0; i < body; ++i) {
      if (is_special(current, b[i])) out.push_back(current.cc[VLNEXT]);
      out.push_back(b[i]);
    }
    if (l.end == 2) out.push_back(current.cc[VEOF]);
    if (l.end == 1) out.push_back(b.back());
    if (own_end) settle(w);
    if (!failure.empty()) break;
  }
  if (failure.empty()) failure = write_all(master, out);
  flush(slave);
  if (!set_tty_settings(slave, s) && failure.empty()) failure = err("TCSETS2 (back)");
  if (int n = tty_queued(slave); failure.empty() && n != int(tty_input_count(s, lines)))
    failure = "the slave's queue holds " + std::to_string(n) + " readable bytes, not " +
              std::to_string(tty_input_count(s, lines));
  return failure;
}

std::string put_tty_output(int master, int slave, const TtySettings& s, const std::vector<uint8_t>& bytes) {
  if (bytes.empty()) return "";
  TtySettings w = s;
  w.oflag &= ~uint32_t(OPOST);
  if (w.oflag != s.oflag && !set_tty_settings(slave, w)) return err("TCSETS2");
  const int before = tty_queued(master);
  std::string failure = write_all(slave, bytes);
  flush(master);
  // A full line discipline (4095 bytes) leaves the rest in the flip buffer, which FIONREAD does not count.
  if (int n = tty_queued(master); failure.empty() && n != before + int(bytes.size()) && n < 4095)
    failure = "the master's queue holds " + std::to_string(n) + " bytes, not " + std::to_string(before + bytes.size());
  if (w.oflag != s.oflag && !set_tty_settings(slave, s) && failure.empty()) failure = err("TCSETS2 (back)");
  return failure;
}

}  // namespace ckpt::x86
