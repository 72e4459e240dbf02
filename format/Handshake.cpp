// Token loading for the migration handshake (see Handshake.h).
#include "format/Handshake.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

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

}  // namespace ckpt::format
