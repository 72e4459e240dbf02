// `ckpt migrate PID HOST:PORT`: moves a running process to a `restore
// --listen` over one TCP connection (format/Handshake.h for the bytes
// exchanged), in phases, one function each:
//
//   connect    the token, the hello, the destination's ACCEPT; nothing of
//              the process is touched before it
//   pre-copy   rounds of dumps while the process runs: round 0 a full
//              `--track` dump, round k an incremental dump of the pages
//              written since round k-1 (still tracked), each written to a
//              private temporary file, sent whole and checked by the
//              destination (NEXT) before the next; they stop when a round
//              is small, stops shrinking, or the round limit is reached
//   final      the dump of `ckpt dump --kill` (incremental on the last
//              round, if any) streamed into the connection: the process
//              stays frozen from its seize until the destination says it
//              has checked and staged everything and is jumping into the
//              image; only then is it killed here
//
// If the destination refuses any round or the final image or fails before
// its point of no return, or the connection breaks, the process goes on
// running, untouched: a round leaves it running anyway, a failed final
// dump releases it as a failed dump does, and the write tracking ends with
// this process (the userfaultfd is ckpt's; closing it drops every
// registration and protection in the target).
//
// Post-copy (--lazy) replaces pre-copy and the final step: one freeze,
// the state sent without its pages, which are served on request
// (dumper/MigratePages.h). docs/architecture.md, "Live migration".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dumper/Dumper.h"

namespace ckpt::dumper {

struct MigrateOptions {
  std::string destination;  // HOST:PORT ([v6 address]:PORT too)
  std::string token_file;   // empty: the environment's CKPT_TOKEN
  bool lazy = false;        // post-copy (dumper/MigratePages.h)
  struct LazyMigrationReport* lazy_report = nullptr;  // filled by a --lazy migration, if given
  // Pre-copy: at most this many rounds (round 0 included) before the final
  // freeze; 0: one full dump in one freeze, as `ckpt dump --kill`.
  uint32_t rounds = 5;
  // A round whose pages come to at most this many bytes is the last one:
  // the final dump will be about as small.
  uint64_t threshold_bytes = 8ull << 20;
};

struct RoundReport {
  uint64_t pages = 0;         // pages saved in the round's image
  uint64_t image_bytes = 0;   // sent
  double seconds = 0;         // dump, send and the destination's check
  double frozen_seconds = 0;  // of which the process was stopped
};

struct MigrateReport {
  std::vector<RoundReport> rounds;  // the pre-copy rounds
  DumpReport final;                 // the final dump; its frozen_seconds is the downtime
  double await_seconds = 0;         // of that downtime: from the end of the stream to OK
  std::string no_precopy;           // why pre-copy was skipped ("" when it ran or --rounds 0)
};

// Connects, authenticates, runs the rounds and the final dump (`dump`'s
// output, connection, kill, tracking and parent are set here). Prints one
// line per round on stderr. Throws DumpError / std::runtime_error in one
// line; the process then runs on untouched.
MigrateReport migrate(DumpOptions dump, const MigrateOptions& options);

// The summary lines of a migration that succeeded, on stderr.
void print_migrate_summary(pid_t pid, const MigrateOptions& options, const MigrateReport& report);

// The end of a migration's stream (ImageFile::commit): half-closes the
// connection and waits for exactly "OK\n" and then EOF. Throws DumpError.
void await_destination(int connection);

}  // namespace ckpt::dumper
