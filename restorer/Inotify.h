// inotify descriptors at restore: every watch is added again on its path
// with its mask, and gets its saved watch descriptor. inotify hands out wds
// in increasing order from a cursor (idr_alloc_cyclic), never reusing one
// soon, so a gap before a saved wd is filled by adding and removing a dummy
// watch (on a memfd of the restorer's own, which no saved watch can name)
// until the cursor reaches it. The IN_IGNORED events those removals queue,
// and any event on the new watches while restore runs, are read away before
// the fd is handed over: like events during the dump-to-restore gap, they
// are not seen by the process (docs/architecture.md, "Known gaps").
#pragma once

#include "format/Image.h"

namespace ckpt::restorer {

// Phase 1: every watched path exists (and is a directory for IN_ONLYDIR).
void check_inotify(const format::FdEntry& f);

// A new inotify fd (IN_NONBLOCK; the caller sets the saved flags) holding
// exactly the saved watches with their wds. Throws RestoreError.
int make_inotify(const format::FdEntry& f);

}  // namespace ckpt::restorer
