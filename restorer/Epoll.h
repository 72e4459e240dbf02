// epoll interest lists rebuilt before the point of no return. The kernel
// keys an entry by (file, fd number) and does not care whether that number
// still holds the file afterwards, so each entry is added from a child
// process that shares the launcher's open files but has its own fd table:
// there the watched file is put at exactly the saved number (whatever the
// launcher keeps at that number), then EPOLL_CTL_ADD. The entries live in
// the shared epoll instance; the child exits and the parent's fds are
// untouched. Every failure (EEXIST, EPERM, a loop) is seen here, before the
// point of no return.
#pragma once

#include <map>
#include <set>

#include "format/Image.h"

namespace ckpt::restorer {

// `created`: FdEntry::fd -> the launcher's fd of that recreated open file;
// every one of them, like `base`, is above every fd number the image uses
// (epoll keys included). Throws RestoreError naming the epoll fd and entry.
// `skip`: epoll fds whose open file description another member of the tree
// created (and filled) already.
void fill_epoll_sets(const format::Image& image, const std::map<int32_t, int>& created, int base,
                     const std::set<int32_t>& skip = {});

}  // namespace ckpt::restorer
