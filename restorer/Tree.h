// Restoring an image of several processes (docs/architecture.md, "Process
// trees"). `restore` stays the root and keeps its pid; every other member
// is created by its parent's launcher (restorer/MemberLaunch.h), parents
// before children, with the saved pid unless --new-pids.
//
// Order: phase 1 checks every member with no side effect. The root
// launcher then creates every shared object and open file description of
// the whole tree once, above every member's saved fd numbers, stages its
// own memory and forks its children; each child launcher joins its session
// or group, drops the staged memory it inherited, stages its own and forks
// its own children. Each member reports on a pipe to the root once it has
// passed every check; only when all have does the root let them pass their
// points of no return (any failure: the members made so far are killed and
// restore exits 1 with that member's line). Their trampolines then wait for
// one another before the program runs (trampoline/Plan.h, tree_*).
#pragma once

#include <string>
#include <vector>

#include "format/ImageReader.h"
#include "restorer/CommandLine.h"
#include "restorer/Descriptors.h"
#include "x86/ProcMaps.h"

namespace ckpt::restorer {

// Restores the tree in `reader` (or, with --check, only checks it and
// returns 0). Does not return once the root has passed its point of no
// return. Throws RestoreError (or FormatError) before any member exists
// or after killing the members made so far.
int restore_tree(const format::ImageReader& reader, const CommandLine& cl, const ExternalFds& external,
                 const std::vector<x86::MapsEntry>& self);

}  // namespace ckpt::restorer
