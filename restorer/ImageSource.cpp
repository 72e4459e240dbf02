// restore's image sources: path, standard input, one TCP connection (see ImageSource.h).
#include "restorer/ImageSource.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "format/Handshake.h"
#include "format/ImageChain.h"
#include "format/ImageReader.h"
#include "format/ParentLink.h"
#include "format/ImageStream.h"
#include "format/LazyWire.h"
#include "format/Printable.h"
#include "restorer/NetworkPages.h"
#include "restorer/RestoreError.h"
#include "x86/FaultPoint.h"

namespace ckpt::restorer {

namespace {

// How long a connection may take to send its hello before it is dropped.
constexpr int kHelloTimeoutSeconds = 30;

// The migration's connection, from the image's arrival until the jump, with
// its identity: the exit handler writes "FAIL" only to that very socket.
int g_sender = -1;
dev_t g_sender_dev = 0;
ino_t g_sender_ino = 0;

// The pre-copy rounds received, oldest first (each a sealed memfd), for
// the final image's chain; they live as long as the restore.
format::HeldImages g_rounds;

void tell_sender_failed() {
  struct stat st;
  if (g_sender < 0 || fstat(g_sender, &st) != 0 || st.st_dev != g_sender_dev || st.st_ino != g_sender_ino) return;
  static const char kFail[] = "FAIL\n";
  (void)!::send(g_sender, kFail, sizeof kFail - 1, MSG_NOSIGNAL);
}

std::string peer_name(const sockaddr_storage& a) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (a.ss_family == AF_INET) {
    auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
    inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
    port = ntohs(v4.sin_port);
  } else if (a.ss_family == AF_INET6) {
    auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
    port = ntohs(v6.sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

bool recv_exact(int fd, void* p, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::recv(fd, static_cast<uint8_t*>(p) + done, n - done, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;  // EOF, reset, or the hello timeout
    done += size_t(r);
  }
  return true;
}

// Reads the hello: whether it carries the token. Nothing beyond the token
// is read from a connection that does not.
bool accept_hello(int conn, const std::string& token) {
  timeval tv{kHelloTimeoutSeconds, 0};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  uint8_t head[12];
  bool ok = recv_exact(conn, head, sizeof head) && std::memcmp(head, format::kHelloMagic.data(), 8) == 0;
  uint32_t len = 0;
  if (ok) std::memcpy(&len, head + 8, 4);
  ok = ok && len == token.size();
  std::string got(ok ? len : 0, '\0');
  ok = ok && recv_exact(conn, got.data(), len) && format::same_token(got, token);
  tv = {0, 0};  // the image itself may be slow to come: no limit
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return ok;
}

// One pre-copy round, checked whole while the source still runs: an image
// of one process, the child of the round before it (round 0: a full
// image), every checksum of its page data and chunks, its chain resolved
// against the rounds held.
// Returns its trailer checksum, its identity for the next round.
uint64_t check_round(int fd, uint32_t round, const std::string& name) {
  format::ImageReader reader(fd);
  if (reader.member_count() > 1) throw std::runtime_error(name + " is a process tree; rounds are of one process");
  const auto& parent = reader.image().parent;
  if (round == 0 && parent) throw std::runtime_error(name + " is an incremental image; round 0 must be a full one");
  if (round > 0 && (!parent || parent->checksum != g_rounds.back().checksum))
    throw std::runtime_error(name + " is not an incremental image of round " + std::to_string(round - 1));
  // Every byte and every chunk of its own (before the chain is resolved
  // into it: the rounds below were checked when they came), so that its
  // raw chunks need no checksum again when they are staged (HeldImage).
  reader.verify_page_data();
  reader.verify_chunks();
  if (parent) format::follow_chain(reader, name, &g_rounds);
  return format::image_checksum(reader);
}

// The frames after ACCEPT: pre-copy rounds, each answered NEXT once checked,
// then the final image, whose stream is received as `restore -` receives one.
int receive_frames(int conn, const std::string& peer, bool lazy, bool check) {
  for (uint32_t round = 0;; ++round) {
    uint8_t head[8];
    if (!recv_exact(conn, head, sizeof head))
      throw RestoreError("the sender " + peer + " closed the connection before the final image" +
                         (round ? " (after " + std::to_string(round) + " pre-copy round(s))" : std::string()));
    // ckpt migrate --lazy, which sends no rounds: restorer/NetworkPages.h.
    if (round == 0 && std::memcmp(head, format::kLazyMagic.data(), sizeof head) == 0)
      return receive_skeleton(conn, "the image from " + peer, check, head);
    if (format::frame_kind(head) == format::FrameKind::Final) return format::receive_image(conn, "the image from " + peer);
    // Refused at the first round rather than after the last: the chain
    // they make is not something a lazy restore can serve (main.cpp).
    if (lazy)
      throw RestoreError("the sender " + peer + " sends pre-copy rounds, which restore --listen --lazy cannot take "
                         "(an incremental image); run ckpt migrate with --rounds 0");
    if (round >= format::kMaxRounds)
      throw RestoreError("the sender " + peer + " sent more than " + std::to_string(format::kMaxRounds) +
                         " pre-copy rounds");
    if (!recv_exact(conn, head, sizeof head))
      throw RestoreError("the sender " + peer + " closed the connection in the header of round " + std::to_string(round));
    const uint64_t length = format::round_length(head);
    const std::string name = "round " + std::to_string(round) + " from " + peer;
    int fd = format::receive_round(conn, length, name);
    const uint64_t checksum = check_round(fd, round, name);
    g_rounds.push_back({name, fd, checksum, true});  // checked whole, in a sealed memfd (format::receive_round)
    // For tests: a destination that fails (or dies) in the middle of the pre-copy rounds.
    x86::fault_point(("restore: round " + std::to_string(round) + " received").c_str());
    if (::send(conn, format::kNextReply, std::strlen(format::kNextReply), MSG_NOSIGNAL) != ssize_t(std::strlen(format::kNextReply)))
      throw RestoreError("the sender " + peer + " is gone after round " + std::to_string(round) + ": " + std::strerror(errno));
    std::fprintf(stderr, "restore: round %u: %llu bytes received and checked\n", round, (unsigned long long)length);
  }
}

// ADDR is a numeric address (restore is static: no name service); none
// means every address, IPv6 and IPv4 alike.
int listen_on(const std::string& spec) {
  std::string host, port = spec;
  if (size_t colon = spec.rfind(':'); colon != std::string::npos) {
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  }
  char* end = nullptr;
  long number = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end || number < 1 || number > 65535)
    throw RestoreError("--listen " + spec + ": the port must be a number from 1 to 65535");
  sockaddr_storage addr{};
  socklen_t addr_len;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (!host.empty() && inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(uint16_t(number));
    addr_len = sizeof *v4;
  } else if (host.empty() || inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;  // all zeros: in6addr_any
    v6->sin6_port = htons(uint16_t(number));
    addr_len = sizeof *v6;
  } else {
    throw RestoreError("--listen " + spec + ": '" + host + "' is not a numeric IPv4 or IPv6 address");
  }
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw RestoreError("--listen " + spec + ": socket: " + std::strerror(errno));
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (host.empty()) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);  // IPv4 too
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 || ::listen(fd, 4) != 0) {
    int e = errno;
    ::close(fd);
    throw RestoreError("--listen " + spec + ": " + std::strerror(e));
  }
  return fd;
}

int receive_from_network(const CommandLine& cl) {
  const std::string token = format::load_token(cl.token_file);  // before the port is opened
  int lfd = listen_on(cl.listen);
  std::fprintf(stderr, "restore: listening on %s for one image\n", format::printable(cl.listen).c_str());
  int conn = -1;
  std::string peer;
  for (;;) {
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    conn = ::accept4(lfd, reinterpret_cast<sockaddr*>(&from), &len, SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      int e = errno;
      ::close(lfd);
      throw RestoreError(std::string("--listen: accept: ") + std::strerror(e));
    }
    peer = peer_name(from);
    if (accept_hello(conn, token)) {
      static const char kAccept[] = "ACCEPT\n";
      (void)!::send(conn, kAccept, sizeof kAccept - 1, MSG_NOSIGNAL);  // a sender gone shows in the stream
      break;
    }
    // Said before the answer, so that whoever reads the answer finds the line.
    std::fprintf(stderr, "restore: refused a connection from %s: no valid token\n", peer.c_str());
    static const char kRefused[] = "REFUSED\n";
    (void)!::send(conn, kRefused, sizeof kRefused - 1, MSG_NOSIGNAL);
    // Closing with unread bytes would reset the connection, and a reset can
    // overtake the refusal: end our side, give the sender a moment to read
    // the answer and close its own, reading nothing more of it.
    ::shutdown(conn, SHUT_WR);
    pollfd p{conn, POLLRDHUP, 0};
    ::poll(&p, 1, 1000);
    ::close(conn);
  }
  ::close(lfd);  // one image
  struct stat st;
  fstat(conn, &st);
  g_sender = conn, g_sender_dev = st.st_dev, g_sender_ino = st.st_ino;
  std::atexit(tell_sender_failed);  // any exit before the jump; a jump never exits
  return receive_frames(conn, peer, cl.lazy, cl.check);
}

}  // namespace

int open_image_source(const CommandLine& cl) {
  if (!cl.listen.empty()) return receive_from_network(cl);
  int fd = format::open_image(cl.image);
  if (cl.image == "-") {
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0 || ::dup2(null, STDIN_FILENO) < 0)
      throw RestoreError(std::string("cannot put /dev/null on fd 0 after the stream: ") + std::strerror(errno));
    ::close(null);
  }
  return fd;
}

const format::HeldImages* received_images() { return g_rounds.empty() ? nullptr : &g_rounds; }

void confirm_image_source() {
  if (g_sender < 0) return;
  // For tests: a destination that fails (or dies) after staging, before its word.
  x86::fault_point("restore: before confirming to the sender");
  static const char kOk[] = "OK\n";
  if (::send(g_sender, kOk, sizeof kOk - 1, MSG_NOSIGNAL) != ssize_t(sizeof kOk - 1))
    throw RestoreError(std::string("the sender of the image is gone (") + std::strerror(errno) +
                       "): not starting the process, which may still run there");
}

}  // namespace ckpt::restorer
