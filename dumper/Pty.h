// Pseudo-terminals whose master and slave are both open in the dumped set
// (fd kinds pty-master and pty-slave, the ptys section). Identity is the
// pty index (the master's fdinfo tty-index, the slave's /dev/pts/N minor),
// so that ends held by different processes resolve to one pty. A slave
// whose master is outside the set is not handled here (it is the user's
// terminal, or refused as before). Per pty: its settings (termios2, window
// size, packet mode, lock, exclusive mode), the data queued each way
// (taken out and put straight back by a child process, so that the
// dumper's death cannot lose it: a tty cannot be peeked), and whether it
// is the controlling terminal of the dumped process.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "dumper/FdInfo.h"
#include "format/Image.h"

namespace ckpt::dumper {

// The pty ends open in the dumped set, by index (fds 0-2 left out: those
// are restore's own). Filled per process; a tree adds every member's.
struct PtyEnds {
  std::set<uint64_t> masters, slaves;
};
// `with_stdio`: fds 0-2 count too (a member other than the root: its own
// 0-2 are saved like any other fd).
void find_pty_ends(pid_t pid, bool with_stdio, PtyEnds& ends);

// Whether fd `n` (stat `st`, link `target`, fdinfo `info`) is a pty end of
// the set; if so sets f.kind and f.object. A master whose slave is not in
// the set is refused (refuse_fd); a slave whose master is not is not ours.
bool classify_pty_end(pid_t pid, int n, const struct stat& st, const FdInfo& info, const PtyEnds& ends,
                      format::FdEntry& f);

// For fds 0-2 (restore's own at restore): refuses one that is an end of a
// pty of the set, since the pair could not come back whole.
void refuse_pty_stdio(pid_t pid, int n, const struct stat& st, const FdInfo& info, const PtyEnds& ends);

// One process of the dumped set, with its open files as read_files made them.
struct PtyMember {
  pid_t pid = 0;
  format::FileTable* files = nullptr;
};

// One Pty record per pty the members' files name, sorted by index: a pty's
// master and slaves may be in different members; a holder outside the
// members is refused, and so is a session whose leader, or a foreground
// group that, is not among them. Throws DumpError.
// With `left_out` (--ignore-fds), a pty it refuses is left out of `files`
// instead, with all its fds (one line each in *left_out), as read_files
// does for one open file; queued data that could not be put back stays a
// refusal.
std::vector<format::Pty> read_ptys(const std::vector<PtyMember>& members,
                                   std::vector<std::string>* left_out = nullptr);

}  // namespace ckpt::dumper
