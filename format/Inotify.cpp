// inotify watch records (see Inotify.h).
#include "format/Inotify.h"

#include <sys/inotify.h>

#include "format/Limits.h"

namespace ckpt::format {

void put_inotify_watches(ByteWriter& w, const std::vector<InotifyWatch>& watches) {
  w.u32(uint32_t(watches.size()));
  for (const InotifyWatch& x : watches) {
    w.i32(x.wd);
    w.u32(x.mask);
    w.str(x.path);
    w.u64(x.dev);
    w.u64(x.ino);
  }
}

std::vector<InotifyWatch> get_inotify_watches(ByteReader& r) {
  std::vector<InotifyWatch> out(r.count("inotify watch count", kMaxInotifyWatches, 4 + 4 + 4 + 8 + 8));
  for (InotifyWatch& x : out) {
    x.wd = r.i32("inotify wd");
    x.mask = r.u32("inotify mask");
    x.path = r.str("inotify path", kMaxStringLength);
    x.dev = r.u64("inotify device");
    x.ino = r.u64("inotify inode");
  }
  return out;
}

void validate_inotify(const FdEntry& f, const std::function<void(const std::string&)>& bad) {
  if (f.kind != FdKind::Inotify) {
    if (!f.watches.empty()) bad("inotify watches on a " + std::string(fd_kind_name(f.kind)));
    return;
  }
  // What inotify_add_watch accepts, less IN_MASK_CREATE (meaningless once added).
  constexpr uint32_t kKnown = IN_ALL_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_ADD | IN_ONESHOT;
  int32_t prev = 0;
  for (const InotifyWatch& x : f.watches) {
    if (x.wd <= prev) bad("inotify watches must have positive wds, sorted and unique");
    if (x.wd > kMaxInotifyWd) bad("inotify wd " + std::to_string(x.wd) + " too large");
    prev = x.wd;
    if (x.mask & ~kKnown) bad("inotify wd " + std::to_string(x.wd) + " has unknown mask bits");
    if (x.path.empty() || x.path[0] != '/') bad("inotify wd " + std::to_string(x.wd) + " has no absolute path");
  }
}

}  // namespace ckpt::format
