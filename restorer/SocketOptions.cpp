// Socket options put back (see SocketOptions.h).
#include "restorer/SocketOptions.h"

#include <sys/socket.h>

#include <cerrno>

#include "restorer/RestoreError.h"

namespace ckpt::restorer {

void put_socket_options(int fd, const std::vector<format::SocketOption>& options, const std::string& what) {
  format::SocketOptionAccess access{
      [fd](uint32_t level, uint32_t name, void* value, uint32_t* size) {
        socklen_t len = *size;
        if (getsockopt(fd, int(level), int(name), value, &len) != 0) return errno;
        *size = len;
        return 0;
      },
      [fd](uint32_t level, uint32_t name, const void* value, uint32_t size) {
        return setsockopt(fd, int(level), int(name), value, socklen_t(size)) == 0 ? 0 : errno;
      },
  };
  std::string why = format::apply_socket_options(options, access);
  if (!why.empty()) throw RestoreError(what + ": its options cannot be put back exactly: " + why);
}

}  // namespace ckpt::restorer
