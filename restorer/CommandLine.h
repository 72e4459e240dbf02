// restore's command line. Parsed by hand: an option library (and the C++
// streams and locales it brings in) costs a process that starts in a few
// milliseconds a noticeable share of them (docs/benchmarks.md, target b).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace ckpt::restorer {

extern const char* const kUsage;

struct CommandLine {
  std::string image;
  bool check = false, verbose = false, lazy = false, learn = false, install_binfmt = false, uninstall_binfmt = false, help = false;
  bool host_clocks = false;  // no time namespace: CLOCK_MONOTONIC/BOOTTIME are the host's
  std::vector<int> inherit_fds;  // in the order given, repeats kept
  bool external_null = false;    // --external-fds=null
  bool pid_ns = false;           // --pid-ns: the saved pid, in a pid namespace of its own (PidNamespace.h)
  bool new_pids = false;         // --new-pids: a tree's members may get pids other than their saved ones
  std::string listen;            // --listen [ADDR:]PORT: the image comes over TCP (restorer/Listen.h)
  std::string token_file;        // --token-file FILE (else CKPT_TOKEN)
  bool version = false;          // --version: print it and exit (like --help, nothing else is checked)
  bool progress = false;         // --progress: the progress line also when stderr is not a terminal
  bool no_progress = false;      // --no-progress: never the progress line (common/Progress.h)
};

// A command line restore does not accept; what() says why, in one line.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Long options as `--name` or `--name=value` (`--inherit-fd N` too), `-h`,
// one positional IMAGE, `--` ending the options. With --help, nothing else
// is checked. Throws UsageError.
CommandLine parse_command_line(int argc, const char* const* argv);

}  // namespace ckpt::restorer
