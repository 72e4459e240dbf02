// `ckpt run -o FILE [--when-output REGEX | --after SECONDS | --on-signal SIG]
// [--kill] [--compress C] [--ignore-fds] -- CMD ARGS...`: start a program
// and dump it at a moment chosen from outside, for programs that cannot be
// changed (libckpt is the way from inside). `ckpt run FILE` (restore an
// image) is the other form: is_run_and_dump tells them apart by -o.
// docs/architecture.md, "Run and dump (ckpt run -o)".
#pragma once

#include <string>
#include <vector>

namespace ckpt::dumper {

// True when the arguments of `ckpt run` (after "run") ask for this form:
// an -o/--output option before any "--".
bool is_run_and_dump(const std::vector<std::string>& args);

// Runs the program, dumps it at the trigger, and returns ckpt's exit
// status: without --kill the program's own once it ends (its output passed
// on meanwhile), with --kill 0. Usage errors throw
// boost::program_options::error; a failed start or dump throws
// std::runtime_error (one line), after ending the program it started.
int run_and_dump(const std::vector<std::string>& args);

}  // namespace ckpt::dumper
