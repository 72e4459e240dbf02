// `ckpt migrate PID HOST:PORT`: the dump of `ckpt dump --kill`, sent as an
// image stream over one TCP connection to a `restore --listen` that becomes
// the process (format/Handshake.h for the bytes exchanged). The process
// stays frozen from the start of the dump until the destination says it
// has checked and staged everything and is jumping into the image; only
// then is it killed here. If the destination refuses the image or fails
// before that point, or the connection breaks, the process is released
// exactly as a failed dump releases it: it goes on running, untouched.
//
// One full dump (no pre-copy rounds yet); --lazy (post-copy) is
// dumper/MigratePages.h. docs/architecture.md, "Live migration".
#pragma once

#include <string>

#include "dumper/Dumper.h"

namespace ckpt::dumper {

struct MigrateOptions {
  std::string destination;  // HOST:PORT ([v6 address]:PORT too)
  std::string token_file;   // empty: the environment's CKPT_TOKEN
  bool lazy = false;        // post-copy (dumper/MigratePages.h)
  struct LazyMigrationReport* lazy_report = nullptr;  // filled by a --lazy migration, if given
};

// Connects, authenticates, dumps `dump` (its output and connection are set
// here, kill forced on) and returns the dump's report. Throws DumpError /
// std::runtime_error in one line; the process then runs on untouched.
DumpReport migrate(DumpOptions dump, const MigrateOptions& options);

// The end of a migration's stream (ImageFile::commit): half-closes the
// connection and waits for exactly "OK\n" and then EOF. Throws DumpError.
void await_destination(int connection);

}  // namespace ckpt::dumper
