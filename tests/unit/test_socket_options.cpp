// Socket options (format/SocketOptions.h, dumper/ and restorer/
// SocketOptions.h): what the dumper reads from a socket, the restorer puts
// back on a fresh one so that every option reads the same; buffer sizes
// keep their automatic or locked nature; the record round-trips and a
// crafted one (unknown option, repeated, wrong size) is refused.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "dumper/SocketOptions.h"
#include "format/SocketOptions.h"
#include "restorer/SocketOptions.h"

using ckpt::format::SocketOption;

namespace {

struct Sock {
  int fd;
  Sock(int domain, int type) : fd(socket(domain, type | SOCK_CLOEXEC, 0)) { REQUIRE(fd >= 0); }
  ~Sock() { close(fd); }
};

std::vector<SocketOption> read_all(const Sock& s, int domain, int type) {
  return ckpt::dumper::read_socket_options(getpid(), s.fd, s.fd, domain, type, type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP);
}

void set_int(int fd, int level, int name, int v) { REQUIRE(setsockopt(fd, level, name, &v, sizeof v) == 0); }

int get_int(int fd, int level, int name) {
  int v = 0;
  socklen_t len = sizeof v;
  REQUIRE(getsockopt(fd, level, name, &v, &len) == 0);
  return v;
}

}  // namespace

TEST_CASE("fresh sockets: every option is read and nothing needs setting") {
  for (int domain : {AF_INET, AF_INET6})
    for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
      Sock a(domain, type), b(domain, type);
      auto saved = read_all(a, domain, type);
      CHECK(saved.size() > 40);
      ckpt::restorer::put_socket_options(b.fd, saved, "test");
      CHECK(read_all(b, domain, type) == saved);
    }
}

TEST_CASE("options set by a program come back on a fresh socket") {
  Sock a(AF_INET6, SOCK_STREAM), b(AF_INET6, SOCK_STREAM);
  set_int(a.fd, SOL_SOCKET, SO_REUSEADDR, 1);
  set_int(a.fd, SOL_SOCKET, SO_REUSEPORT, 1);
  set_int(a.fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  set_int(a.fd, SOL_SOCKET, SO_RCVBUF, 50000);
  set_int(a.fd, SOL_SOCKET, SO_PRIORITY, 5);
  set_int(a.fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  set_int(a.fd, IPPROTO_IPV6, IPV6_TCLASS, 0x20);
  set_int(a.fd, IPPROTO_IP, IP_TOS, 0x10);
  set_int(a.fd, IPPROTO_TCP, TCP_NODELAY, 1);
  set_int(a.fd, IPPROTO_TCP, TCP_KEEPIDLE, 77);
  set_int(a.fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5);
  set_int(a.fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 12345);
  set_int(a.fd, IPPROTO_TCP, TCP_FASTOPEN, 16);
  REQUIRE(setsockopt(a.fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4) == 0);
  REQUIRE(setsockopt(a.fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 2) == 0);
  linger l{1, 7};
  REQUIRE(setsockopt(a.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0);
  timeval tv{3, 500000};
  REQUIRE(setsockopt(a.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
  auto saved = read_all(a, AF_INET6, SOCK_STREAM);
  ckpt::restorer::put_socket_options(b.fd, saved, "test");
  CHECK(read_all(b, AF_INET6, SOCK_STREAM) == saved);
  CHECK(get_int(b.fd, SOL_SOCKET, SO_RCVBUF) == 100000);
  char cc[16] = {};
  socklen_t len = sizeof cc;
  REQUIRE(getsockopt(b.fd, IPPROTO_TCP, TCP_CONGESTION, cc, &len) == 0);
  CHECK(std::string(cc) == "reno");
}

TEST_CASE("a buffer above net.core.rmem_max comes back with SO_RCVBUFFORCE (as root)") {
  if (geteuid() != 0) return;
  Sock a(AF_INET, SOCK_DGRAM), b(AF_INET, SOCK_DGRAM);
  set_int(a.fd, SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20);
  auto saved = read_all(a, AF_INET, SOCK_DGRAM);
  ckpt::restorer::put_socket_options(b.fd, saved, "test");
  CHECK(get_int(b.fd, SOL_SOCKET, SO_RCVBUF) == 16 << 20);
}

TEST_CASE("a saved option that cannot be put back is an error naming it") {
  Sock b(AF_INET, SOCK_STREAM);
  std::vector<SocketOption> bad = {{SOL_SOCKET, SO_BINDTODEVICE, {'n', 'o', 'p', 'e', '0'}}};
  CHECK_THROWS_WITH_AS(ckpt::restorer::put_socket_options(b.fd, bad, "fd 5"),
                       doctest::Contains("SO_BINDTODEVICE \"nope0\""), std::runtime_error);
}

TEST_CASE("the dumper refuses an option it could not put back, naming it") {
  if (geteuid() != 0) return;
  Sock a(AF_INET, SOCK_DGRAM);
  set_int(a.fd, SOL_SOCKET, SO_MARK, 42);  // needs CAP_NET_ADMIN to set
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Without privileges, the scratch socket cannot take SO_MARK back.
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(2);
    try {
      read_all(a, AF_INET, SOCK_DGRAM);
    } catch (const std::exception& e) {
      _exit(std::string(e.what()).find("SO_MARK 42") != std::string::npos ? 0 : 3);
    }
    _exit(4);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("the record round-trips and a crafted one is refused") {
  std::vector<SocketOption> options = {{SOL_IP, IP_TOS, {0x10, 0, 0, 0}},
                                       {SOL_SOCKET, SO_REUSEADDR, {1, 0, 0, 0}},
                                       {IPPROTO_TCP, TCP_CONGESTION, {'r', 'e', 'n', 'o'}}};
  ckpt::format::ByteWriter w;
  ckpt::format::put_socket_options(w, options);
  ckpt::format::ByteReader r(w.bytes().data(), w.bytes().size(), 0);
  CHECK(ckpt::format::get_socket_options(r) == options);
  auto bad = [](std::vector<SocketOption> o) {
    ckpt::format::validate_socket_options(o, [](const std::string& why) { throw std::runtime_error(why); });
  };
  CHECK_NOTHROW(bad(options));
  CHECK_THROWS_WITH_AS(bad({{SOL_SOCKET, 26 /*SO_ATTACH_FILTER*/, {}}}), doctest::Contains("unknown socket option"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(bad({options[1], options[0]}), doctest::Contains("out of order"), std::runtime_error);
  CHECK_THROWS_WITH_AS(bad({options[0], options[0]}), doctest::Contains("repeated"), std::runtime_error);
  CHECK_THROWS_WITH_AS(bad({{SOL_SOCKET, SO_REUSEADDR, {1, 0}}}), doctest::Contains("2 bytes"), std::runtime_error);
  CHECK_THROWS_WITH_AS(bad({{IPPROTO_TCP, TCP_CONGESTION, {'a', 0, 'b'}}}), doctest::Contains("NUL"),
                       std::runtime_error);
}
