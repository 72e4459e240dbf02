// Pseudo-terminals whose master and slave were both open in the image
// (format Pty records, fd kinds pty-master and pty-slave). Each is made
// once, in the launcher, before any fd is handed out: /dev/ptmx opened
// (a new index: the kernel picks it), the slave opened through the master
// (TIOCGPTPEER), settings applied, the queued data written back exactly
// (x86/TtyQueue.h), packet mode set; each slave fd of the image is then a
// new open of that slave, the master fd the one master description. Lock
// state, exclusive mode and the controlling terminal come last, once every
// open is done. All before the point of no return.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "format/Image.h"
#include "trampoline/Plan.h"

namespace ckpt::restorer {

struct PtyPair {
  int master = -1, slave = -1;  // the launcher's own: closed by finish_ptys
  const format::Pty* record = nullptr;
};
using PreparedPtys = std::map<uint64_t, PtyPair>;  // by saved index

// Phase 1, no side effects: /dev/ptmx and a devpts /dev/pts, and, for a
// pty that was the process's controlling terminal, whether this launcher
// can become a session leader without one. Throws RestoreError.
// `root`: the image is restore's own process (a tree's other members are
// forked, so setsid always works for them).
void check_ptys(const format::Image& image, bool root);

// Creates every pty of the image not in `ptys` yet (a tree's members share
// one PreparedPtys, so each pty is made once). Throws RestoreError.
void make_ptys(const format::Image& image, PreparedPtys& ptys);

// A new descriptor for fd record `f` (a pty end) of a pty made above.
int open_pty_end(const format::FdEntry& f, const PreparedPtys& ptys);

// For a pty whose session the image's process led: makes the calling
// launcher, which becomes that process, lead a session (setsid, unless it
// does already) with the pty as controlling terminal (TIOCSCTTY through the
// launcher fd that `moves` puts on one of its slave fds), which makes its
// group the foreground one. Throws RestoreError.
void take_controlling_terminal(const format::Image& image, const std::vector<trampoline::FdMove>& moves);

// A member that leads the saved foreground group of its session's
// controlling pty makes its group the foreground one again (TIOCSPGRP
// through /dev/tty, SIGTTOU blocked meanwhile); its session leader, forked
// before it, has taken the pty. Throws RestoreError.
void take_foreground(const format::Image& image);

// Once every description of every pty exists: lock state and exclusive
// modes, then the launcher's own ends are closed. Throws RestoreError.
void finish_ptys(PreparedPtys& ptys);

}  // namespace ckpt::restorer
