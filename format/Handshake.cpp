// The migration handshake: the token, the frames after ACCEPT (see Handshake.h).
#include "format/Handshake.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "format/ImageStream.h"
#include "format/Printable.h"

namespace ckpt::format {

static std::string checked(std::string token, const std::string& from) {
  if (!token.empty() && token.back() == '\n') token.pop_back();
  if (token.size() < kMinTokenBytes)
    throw std::runtime_error("the token from " + from + " is " + std::to_string(token.size()) +
                             " bytes; at least " + std::to_string(kMinTokenBytes) + " are needed");
  if (token.size() > kMaxTokenBytes)
    throw std::runtime_error("the token from " + from + " is longer than " + std::to_string(kMaxTokenBytes) + " bytes");
  return token;
}

std::string load_token(const std::string& token_file) {
  if (!token_file.empty()) {
    int fd = ::open(token_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) throw std::runtime_error("cannot open the token file " + token_file + ": " + std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw std::runtime_error("the token file " + token_file + " is not a regular file");
    }
    if (st.st_mode & 077) {
      ::close(fd);
      throw std::runtime_error("the token file " + token_file + " may be read by others (mode " +
                               std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
                               std::to_string(st.st_mode & 7) + "); chmod 600 it");
    }
    std::string token;
    char buf[1024];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      token.append(buf, size_t(n));
      if (token.size() > kMaxTokenBytes + 1) break;
    }
    ::close(fd);
    return checked(token, token_file);
  }
  const char* env = std::getenv(kTokenEnv);
  if (!env || !*env)
    throw std::runtime_error(std::string("a token is needed: --token-file FILE, or the environment variable ") + kTokenEnv);
  return checked(env, kTokenEnv);
}

bool same_token(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

FrameKind frame_kind(const uint8_t tag[8]) {
  if (std::memcmp(tag, kRoundMagic.data(), 8) == 0) return FrameKind::Round;
  if (std::memcmp(tag, kFinalMagic.data(), 8) == 0) return FrameKind::Final;
  throw std::runtime_error("the sender sent '" + printable(std::string(reinterpret_cast<const char*>(tag), 8)) +
                           "' where a round (CKPTRND1) or the final image (CKPTFIN1) must begin");
}

uint64_t round_length(const uint8_t length[8]) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | length[i];
  if (n < kMinRoundBytes || n > kMaxRoundBytes)
    throw std::runtime_error("the sender announced a round of " + std::to_string(n) + " bytes; a round is " +
                             std::to_string(kMinRoundBytes) + " bytes to 1 TiB");
  return n;
}

std::array<uint8_t, 16> round_header(uint64_t length) {
  std::array<uint8_t, 16> h{};
  std::memcpy(h.data(), kRoundMagic.data(), 8);
  for (int i = 0; i < 8; ++i) h[size_t(8 + i)] = uint8_t(length >> (8 * i));
  return h;
}

int receive_round(int conn, uint64_t length, const std::string& what) {
  struct Closer {
    int fd;
    ~Closer() { if (fd >= 0) ::close(fd); }
  };
  Closer mem{memfd_create("ckpt-round", MFD_CLOEXEC | MFD_ALLOW_SEALING)};
  if (mem.fd < 0) throw std::runtime_error(what + ": cannot create a memfd for it: " + std::strerror(errno));
  std::vector<uint8_t> buf(size_t(std::min<uint64_t>(length, 1u << 20)));
  uint64_t got = 0;
  while (got < length) {
    ssize_t n = ::recv(conn, buf.data(), size_t(std::min<uint64_t>(buf.size(), length - got)), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(what + ": cannot read it: " + std::strerror(errno));
    if (n == 0)
      throw std::runtime_error(what + ": the connection ended after " + std::to_string(got) + " of its " +
                               std::to_string(length) + " bytes");
    for (size_t done = 0; done < size_t(n);) {
      ssize_t w = ::pwrite(mem.fd, buf.data() + done, size_t(n) - done, off_t(got + done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) throw std::runtime_error(what + ": cannot keep it in memory: " + std::strerror(errno));
      done += size_t(w);
    }
    got += uint64_t(n);
  }
  // Sealed for good: what is checked once it has come is what is staged (HeldImage).
  if (fcntl(mem.fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    throw std::runtime_error(what + ": cannot seal the memfd holding it: " + std::strerror(errno));
  Closer ro{::open(("/proc/self/fd/" + std::to_string(mem.fd)).c_str(), O_RDONLY | O_CLOEXEC)};
  if (ro.fd < 0) throw std::runtime_error(what + ": cannot reopen it: " + std::strerror(errno));
  return receive_image(ro.fd, what);  // a plain image: used as it is; a stream: its headers put in place
}

}  // namespace ckpt::format
