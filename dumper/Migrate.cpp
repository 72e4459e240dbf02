// The sending side of a migration (see Migrate.h).
#include "dumper/Migrate.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <string>

#include "dumper/MigratePages.h"
#include "dumper/Tracee.h"
#include "format/Handshake.h"

namespace ckpt::dumper {

namespace {

// How long the destination may take to answer the hello (it answers at once).
constexpr int kHelloTimeoutMs = 30000;

struct Fd {
  int fd = -1;
  ~Fd() { if (fd >= 0) ::close(fd); }
};

void send_all(int fd, const void* p, size_t n, const std::string& dest) {
  auto c = static_cast<const uint8_t*>(p);
  while (n > 0) {
    ssize_t w = ::send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw DumpError("migrate to " + dest + ": cannot send: " + std::strerror(errno));
    c += w, n -= size_t(w);
  }
}

int connect_to(const std::string& dest) {
  size_t colon = dest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == dest.size())
    throw DumpError("migrate: the destination must be HOST:PORT, not '" + dest + "'");
  std::string host = dest.substr(0, colon), port = dest.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int e = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); e != 0)
    throw DumpError("migrate: cannot resolve " + dest + ": " + gai_strerror(e));
  int last = 0;
  for (addrinfo* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = errno;
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      freeaddrinfo(found);
      return fd;
    }
    last = errno;
    ::close(fd);
  }
  freeaddrinfo(found);
  throw DumpError("migrate: cannot connect to " + dest + ": " + std::strerror(last));
}

// Reads until EOF or `limit` bytes, waiting at most `timeout_ms` per read (-1: forever).
std::string read_reply(int fd, size_t limit, int timeout_ms, const std::string& dest, bool until_eof) {
  std::string got;
  char buf[64];
  while (got.size() < limit) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) throw DumpError("migrate to " + dest + ": no answer from the destination");
    ssize_t n = ::recv(fd, buf, std::min(sizeof buf, limit - got.size()), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF, or the connection reset: what came is what counts
    got.append(buf, size_t(n));
    if (!until_eof && got.back() == '\n') break;
  }
  return got;
}

}  // namespace

void await_destination(int fd) {
  if (::shutdown(fd, SHUT_WR) != 0)
    throw DumpError(std::string("migrate: cannot end the stream: ") + std::strerror(errno));
  // No time limit: the destination validates and stages all memory first.
  std::string reply = read_reply(fd, 64, -1, "the destination", true);
  if (reply != "OK\n") {
    std::string said = reply.empty() ? "closed the connection" : "answered '" + reply.substr(0, reply.find('\n')) + "'";
    throw DumpError("migrate: the destination " + said +
                    " before its point of no return (its own output says why); the process goes on running here, untouched");
  }
}

DumpReport migrate(DumpOptions dump_options, const MigrateOptions& m) {
  std::string token;
  try {
    token = format::load_token(m.token_file);
  } catch (const std::exception& e) {
    throw DumpError(std::string("migrate: ") + e.what());
  }
  Fd conn{connect_to(m.destination)};
  std::string hello(reinterpret_cast<const char*>(format::kHelloMagic.data()), 8);
  uint32_t len = uint32_t(token.size());
  hello.append(reinterpret_cast<const char*>(&len), 4);
  hello += token;
  send_all(conn.fd, hello.data(), hello.size(), m.destination);
  std::string answer = read_reply(conn.fd, 16, kHelloTimeoutMs, m.destination, false);
  if (answer != "ACCEPT\n")
    throw DumpError("migrate: " + m.destination +
                    (answer == "REFUSED\n" ? " refused the token"
                                            : " closed the connection without accepting it (a wrong token, or not a restore --listen)") +
                    "; nothing was dumped");
  if (m.lazy) {  // post-copy: the rest is dumper/MigratePages.h
    LazyMigrationReport lazy = migrate_lazily(dump_options, conn.fd, m.destination);
    if (m.lazy_report) *m.lazy_report = lazy;
    return lazy.dump;
  }
  // How the dump's messages name the image: a warning's `restore --inherit-fd N IMAGE`
  // becomes `restore --inherit-fd N --listen=PORT`, the destination's command.
  dump_options.output = "--listen=" + m.destination.substr(m.destination.rfind(':') + 1);
  dump_options.connection = conn.fd;
  dump_options.kill = true;
  return dump(dump_options);
}

}  // namespace ckpt::dumper
