// Encoding, decoding and validation of an inotify fd's watches
// (FdEntry::watches, appended to each fd record; docs/format.md, "Inotify").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "format/Codec.h"
#include "format/Image.h"

namespace ckpt::format {

void put_inotify_watches(ByteWriter& w, const std::vector<InotifyWatch>& watches);
std::vector<InotifyWatch> get_inotify_watches(ByteReader& r);

// Watches only on inotify fds, sorted by positive wd, absolute paths, known
// mask bits. `bad` throws with the message.
void validate_inotify(const FdEntry& f, const std::function<void(const std::string&)>& bad);

}  // namespace ckpt::format
