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
// dumped process holds an fd of (every member of the tree).
struct UnixSocketSet {
  std::map<uint64_t, x86::UnixDiag> table;
  std::set<uint64_t> inside;
  // Who may have sent queued messages (SCM_CREDENTIALS): the tree's root
  // alone, with the real uid and gid it has now (restore sends the data
  // again from the root launcher, so only the root's credentials come back).
  std::set<pid_t> pids;
  uint32_t uid = 0, gid = 0;
  // Whose working directory a relative name is resolved from: the root's
  // (restore binds every name from the root launcher, in the root's).
  pid_t cwd_pid = 0;
};

// Reads the table in `pid`'s network namespace (entering it if it is not
// the dumper's). `inside`: the socket inodes the dumped set holds.
UnixSocketSet read_unix_socket_set(pid_t pid, std::set<uint64_t> inside);

// The set for a whole tree (`members`, live ones; `root` first among them):
// the socket inodes every member holds (the root's fds 0-2, and another
// member's fds on those descriptions, are restore's own: outside), read in
// the root's network namespace. A member holding a socket in another
// network namespace than the root's is refused, naming it.
UnixSocketSet read_tree_unix_sockets(const std::vector<pid_t>& members, pid_t root);

// After every member's files were read (each member's unix_sockets holds
// the records of the sockets it reads): one record per socket for the
// tree, handed to each member as the records of the sockets it holds plus
// every record they lean on (peer, listener, queued connections, the
// senders of queued datagrams), sorted by inode: each member's section is
// complete on its own (docs/format.md §5.9). With `left_out`
// (--ignore-fds), records leaning on a socket left out in any member go
// too, with the fds that hold them, one line each.
void share_unix_sockets(const std::vector<format::Image*>& members, std::vector<std::string>* left_out);

// Whether socket inode `ino` is a Unix socket of the table.
bool is_unix_socket(const UnixSocketSet& set, uint64_t ino);

// The records of the Unix socket `ino` that `pid` holds at `fd`: its own,
// then (a listener) one per queued connection. Refuses (refuse_fd) what
// cannot be restored exactly. A socket connected outside the set is refused
// too, unless `outside` is given (--inherit-outside-sockets, the root
// only): then no record, and *outside is set.
std::vector<format::UnixSocket> read_unix_socket(pid_t pid, int fd, uint64_t ino, const UnixSocketSet& set,
                                                 bool* outside);

// After every fd was read, with --ignore-fds: the records that lean on a
// socket left out (a peer, a listener, a datagram's sender) cannot come
// back either. Returns the inodes of `records` that must go too, with
// their reason, and removes them from `records` (repeatedly, until none
// leans on a missing one).
std::map<uint64_t, std::string> drop_orphaned_unix_sockets(std::vector<format::UnixSocket>& records);

}  // namespace ckpt::dumper
