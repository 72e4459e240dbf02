// `ckpt migrate --lazy PID HOST:PORT` (post-copy), the sending side: the
// process is dumped, frozen, into an image kept in this process's memory;
// the destination gets that image without its page contents (the skeleton:
// every state section and the page index with its checksums) and starts
// the process before the pages have arrived; its page server asks for each
// chunk on first touch, and the rest is pushed here in the background, so
// the migration ends in bounded time whatever the program touches. The
// bytes: format/LazyWire.h. docs/architecture.md, "Post-copy migration".
//
// The process here stays frozen throughout (it must never run on both
// machines) and is killed only once the destination has passed its point
// of no return ("OK") and then said it needs nothing more ("DONE"). After
// the point of no return:
//   - "FAIL": the destination's page server has killed the process there
//     (a chunk failed its checksum): the process goes on here, untouched;
//   - the connection breaks: whether the process there still runs is not
//     known here, so it is neither resumed nor killed: it is left stopped
//     (SIGSTOP) with all its state, and the message says how to resume or
//     end it.
#pragma once

#include <string>

#include "dumper/Dumper.h"

namespace ckpt::dumper {

struct LazyMigrationReport {
  DumpReport dump;
  double downtime_seconds = 0;   // frozen here until the destination's "OK" (the process runs there)
  double served_after_ok_seconds = 0;  // from "OK" to "DONE": the process ran there, pages still coming
  uint64_t chunks_before_start = 0;    // asked for before "OK": the areas the destination stages
  uint64_t chunks_on_demand = 0;       // asked for after "OK": the process there touched them first
  uint64_t chunks_pushed = 0;          // sent in the background
  uint64_t skeleton_bytes = 0;   // the image minus its page contents
};

// After the hello was accepted on `connection`: dumps `dump` (kill forced
// on) into memory and serves the destination as above. Throws DumpError /
// std::runtime_error in one line; the process is then released untouched,
// except when the message says it was left stopped.
LazyMigrationReport migrate_lazily(DumpOptions dump, int connection, const std::string& destination);

// ckpt migrate --lazy's summary line on stderr (downtime, total, where the
// pages came from); returns 0, the command's exit status.
int print_lazy_summary(pid_t pid, const std::string& destination, const LazyMigrationReport& r);

}  // namespace ckpt::dumper
