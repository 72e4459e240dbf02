// epoll interest lists (see Epoll.h).
#include "dumper/Epoll.h"

#include <cstdio>
#include <map>

#include "dumper/OpenFiles.h"

namespace ckpt::dumper {

std::vector<format::EpollTarget> read_epoll_targets(pid_t pid, int epfd, const FdInfo& info,
                                                    const std::vector<HeldFile>& held) {
  std::multimap<uint64_t, const HeldFile*> by_inode;
  std::map<int, const HeldFile*> by_fd;
  for (const HeldFile& h : held) {
    by_inode.emplace(h.ino, &h);
    by_fd.emplace(h.fd, &h);
  }
  std::map<int, int> seen;  // tfd -> entries with that number so far: kcmp's `toff`
  std::vector<format::EpollTarget> out;
  for (const auto& [k, v] : info) {
    if (k != "tfd") continue;
    int tfd = 0;
    unsigned events = 0;
    unsigned long long data = 0, ino = 0;
    long long pos = 0;
    if (std::sscanf(v.c_str(), "%d events: %x data: %llx pos:%lld ino:%llx", &tfd, &events, &data, &pos, &ino) != 5)
      refuse_fd(pid, epfd, "unreadable epoll entry: " + v);
    const int toff = seen[tfd]++;
    // Usually the entry's own number still holds its file: one kcmp. Else
    // every fd on the inode the line names, those above 2 first (a file
    // also at 0-2 is then watched through the fd the image restores).
    int32_t file = -1;
    auto own = by_fd.find(tfd);
    if (own != by_fd.end() && own->second->ino == ino && epoll_entry_is(pid, epfd, tfd, toff, tfd))
      file = own->second->file;
    auto [lo, hi] = by_inode.equal_range(ino);
    for (int pass = 0; pass < 2 && file < 0; ++pass)
      for (auto it = lo; it != hi && file < 0; ++it)
        if ((it->second->fd > 2) == (pass == 0) && epoll_entry_is(pid, epfd, tfd, toff, it->second->fd))
          file = it->second->file;
    if (file < 0)
      refuse_fd(pid, epfd, "its epoll entry for fd " + std::to_string(tfd) +
                               " watches a file that no fd of the process holds any more (inode " + std::to_string(ino) +
                               "), which cannot be watched again");
    out.push_back({tfd, events, uint64_t(data), file});
  }
  return out;
}

}  // namespace ckpt::dumper
