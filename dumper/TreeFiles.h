// What the members of a tree share through their files, settled once every
// member's own FileTable is read: which fds of different members are one
// open file description (kcmp KCMP_FILE across pids: FdEntry::description),
// which pipe and FIFO ends have their partner outside the whole tree, and
// which one end carries a pipe's or FIFO's unread data (the first reading
// one, by member then fd), so that restore writes it exactly once. What
// restore cannot share yet is refused here, naming the pids.
#pragma once

#include <vector>

#include "dumper/ProcessTree.h"
#include "format/Image.h"

namespace ckpt::dumper {

// `images[i]`: member i's records, nullptr for a zombie.
void link_tree_files(const ProcessTree& tree, const std::vector<format::Image*>& images);

}  // namespace ckpt::dumper
