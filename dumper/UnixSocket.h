// Unix sockets at dump: each socket fd of the target becomes a
// format::UnixSocket record (format/UnixSocket.h) read from the kernel's
// socket table (x86/UnixDiag.h: state, name, peer, queued connections,
// shutdown) and from a copy of the fd (pidfd_getfd: options, and the unread
// data peeked with MSG_PEEK stepping SO_PEEK_OFF through the queue, the
// socket's own SO_PEEK_OFF put back afterwards; nothing is consumed). A
// listener's queued connections become records of their own. What cannot
// come back exactly is refused with refuse_fd, naming the fd and why: a
// peer or a datagram sender outside the dumped set, a peer already closed,
// descriptors in flight (SCM_RIGHTS), data in a connection not yet
// accepted, unusual options.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "format/Image.h"
#include "x86/UnixDiag.h"

namespace ckpt::dumper {

// What the peer checks resolve against: the socket table of the dumped
// processes' network namespace, and the inodes of every socket that a
// dumped process holds an fd of (one process today, a tree tomorrow).
struct UnixSocketSet {
  std::map<uint64_t, x86::UnixDiag> table;
  std::set<uint64_t> inside;
  // Who may have sent queued messages (SCM_CREDENTIALS): the dumped pids,
  // with the real uid and gid they have now.
  std::set<pid_t> pids;
  uint32_t uid = 0, gid = 0;
  // Connected outside the set: an outside end (*outside), not a refusal.
  bool inherit_outside = false;
};

// Reads the table in `pid`'s network namespace (entering it if it is not
// the dumper's). `inside`: the socket inodes the dumped set holds.
UnixSocketSet read_unix_socket_set(pid_t pid, std::set<uint64_t> inside);

// Whether socket inode `ino` is a Unix socket of the table.
bool is_unix_socket(const UnixSocketSet& set, uint64_t ino);

// The records of the Unix socket `ino` that `pid` holds at `fd`: its own,
// then (a listener) one per queued connection. Refuses (refuse_fd) what
// cannot be restored exactly. A socket connected outside the set is refused
// too, unless set.inherit_outside: then no record, and *outside is set.
std::vector<format::UnixSocket> read_unix_socket(pid_t pid, int fd, uint64_t ino, const UnixSocketSet& set,
                                                 bool* outside);

// After every fd was read, with --ignore-fds: the records that lean on a
// socket left out (a peer, a listener, a datagram's sender) cannot come
// back either. Returns the inodes of `records` that must go too, with
// their reason, and removes them from `records` (repeatedly, until none
// leans on a missing one).
std::map<uint64_t, std::string> drop_orphaned_unix_sockets(std::vector<format::UnixSocket>& records);

}  // namespace ckpt::dumper
