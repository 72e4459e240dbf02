// An epoll instance's interest list, each entry tied to the open file it
// watches. The kernel keys an entry by (file, fd number it was added with);
// that number may since have been closed, reused for another file, or the
// file may only be held through another fd, so the number alone does not
// say what is watched: kcmp(KCMP_EPOLL_TFD) does.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "dumper/FdInfo.h"
#include "format/Image.h"

namespace ckpt::dumper {

// Every fd of the process (0-2 included) with its inode and the FdEntry::fd
// of its open file description (the fd itself for 0-2).
struct HeldFile {
  int fd;
  uint64_t ino;
  int32_t file;
};

// The entries of epoll fd `epfd` (its fdinfo `info`). Refuses an entry
// whose file no fd of the process holds (it could not be watched again).
std::vector<format::EpollTarget> read_epoll_targets(pid_t pid, int epfd, const FdInfo& info,
                                                    const std::vector<HeldFile>& held);

}  // namespace ckpt::dumper
