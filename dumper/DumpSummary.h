// What `ckpt dump` prints when it has succeeded: one summary line on
// stderr, or with --json one JSON object on stdout (the same figures, for
// scripts and the benchmarks: frozen_ms is how long the processes stood still).
#pragma once

#include <cstdio>

#include "dumper/Dumper.h"

namespace ckpt::dumper {

void print_dump_summary(const DumpOptions& o, const DumpReport& r, bool json);

}  // namespace ckpt::dumper
