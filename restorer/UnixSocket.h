// Unix sockets at restore: every record of the image (format/UnixSocket.h)
// created once, in the launcher, before any process gets an fd of it:
// connected pairs by socketpair(2); names bound again (an abstract or
// autobind name exactly; a path after removing a stale socket file nobody
// is bound to, and unlinked again if it was unlinked at the dump); each
// listener's accepted connections made by connecting a client and
// accepting, then its queued connections by connecting their clients in
// queue order; unread data sent again by the peer (datagrams by their
// sender, so recvfrom names it); one-way datagram connections; shutdown;
// options last (buffer sizes after the data they had to hold).
// check_unix_sockets finds, without side effects but a probing bind of
// abstract names, whatever would make this fail: a name taken, a path in
// use, a backlog above this machine's somaxconn.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "format/Image.h"

namespace ckpt::restorer {

// The created sockets, held until the caller has its own descriptors of
// them. Until commit(), the destructor also removes the socket files it
// bound (a failed restore leaves no file behind).
class UnixSockets {
 public:
  UnixSockets() = default;
  UnixSockets(UnixSockets&& o) noexcept;
  UnixSockets& operator=(UnixSockets&&) = delete;
  ~UnixSockets();
  int fd(uint64_t ino) const { return fds_.at(ino); }
  void commit() { bound_paths_.clear(); }

  std::map<uint64_t, int> fds_;            // record ino -> launcher fd (queued connections have none)
  std::vector<std::string> bound_paths_;   // socket files created here
};

// Throws RestoreError naming the socket and why.
void check_unix_sockets(const format::Image& image);

// Creates every socket of the image. Throws RestoreError.
UnixSockets create_unix_sockets(const format::Image& image);

}  // namespace ckpt::restorer
