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

#include "format/Image.h"

namespace ckpt::restorer {

struct PtyPair {
  int master = -1, slave = -1;  // the launcher's own: closed by finish_ptys
};
using PreparedPtys = std::map<uint64_t, PtyPair>;  // by saved index

// Phase 1, no side effects: /dev/ptmx and a devpts /dev/pts, and, for a
// pty that was the process's controlling terminal, whether this launcher
// can become a session leader without one. Throws RestoreError.
void check_ptys(const format::Image& image);

// Creates every pty of the image into `out`. Throws RestoreError.
void make_ptys(const format::Image& image, PreparedPtys& out);

// A new descriptor for fd record `f` (a pty end) of a pty made above.
int open_pty_end(const format::FdEntry& f, const PreparedPtys& ptys);

// Lock state, exclusive modes, the controlling terminal (setsid +
// TIOCSCTTY, which makes the launcher's group the foreground one), then
// closes the launcher's own ends. Throws RestoreError.
void finish_ptys(const format::Image& image, PreparedPtys& ptys);

}  // namespace ckpt::restorer
