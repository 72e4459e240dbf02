// restore's command line (see CommandLine.h).
#include "restorer/CommandLine.h"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace ckpt::restorer {

const char* const kUsage =
    "usage: restore IMAGE [--lazy [--learn]] [--check] [--verbose] [--host-clocks] [--inherit-fd N]...\n"
    "                     [--external-fds=null] [--new-pids] [--pid-ns] [--progress | --no-progress]\n"
    "       restore --listen [ADDR:]PORT [--token-file FILE] [options above]\n"
    "       restore --install-binfmt | --uninstall-binfmt\n"
    "       restore --version | --help\n"
    "  Replaces this process with the one saved in IMAGE (made by `ckpt dump`); IMAGE - reads\n"
    "  it from standard input (a pipe, a socket or a file; `ckpt dump PID -o - | restore -`).\n"
    "  --listen   wait for one image from `ckpt migrate` on TCP PORT (all addresses, or ADDR)\n"
    "             and become it; the connection must carry the token of --token-file FILE\n"
    "             (or the environment's CKPT_TOKEN); it is not encrypted: tunnel it (ssh -L)\n"
    "  --lazy     bring private anonymous memory in on first touch (and in the background)\n"
    "             instead of before the program runs again: start-up time independent of\n"
    "             memory size; a detached page server (ckpt-lazy) lives until all is in\n"
    "  --learn    with --lazy: record the pages the program touches until it first goes idle\n"
    "             (no new page for 250 ms) in IMAGE.ws; a later --lazy restore brings them\n"
    "             in before the program runs\n"
    "  --check    validate the image against this machine and exit 0, restoring nothing\n"
    "  --verbose  say what is done, on stderr\n"
    "  --host-clocks  CLOCK_MONOTONIC and CLOCK_BOOTTIME read the host's values (ahead by the\n"
    "             time since the dump) instead of going on from the dump's in a time namespace\n"
    "  --inherit-fd N  this fd N stands in for the saved process's fd N, a pipe end\n"
    "                  whose other end was outside the process\n"
    "  --external-fds=null  /dev/null stands in for every such pipe end not given\n"
    "                  with --inherit-fd (opened for reading or writing, as the end was)\n"
    "  --new-pids  the processes of a saved tree other than its root may get new pids\n"
    "             when their saved ones are taken (or cannot be asked for); their C\n"
    "             library's cached ids are rewritten, pids they stored are not\n"
    "  --pid-ns   (CAP_SYS_ADMIN) every process gets its saved pid, in a new pid namespace (and\n"
    "             a mount namespace with its own /proc) whose init restore provides; restore\n"
    "             itself stays outside, passes on the signals it is sent and exits as the\n"
    "             restored process (a tree's root) does\n"
    "  --progress     show bytes done, rate and time left while memory is staged (restores over\n"
    "             1 s), also when stderr is not a terminal (by default: only when it is one)\n"
    "  --no-progress  never show that line\n"
    "  --install-binfmt    (root) register this restore with binfmt_misc, so ./IMAGE runs\n"
    "  --uninstall-binfmt  (root) remove that registration\n"
    "  --version  print the version, the image format it reads and the commit, and exit\n"
    "  -h, --help print this help and exit\n"
    "  Exit status: 0 --check passed (or --help, --version); 1 bad image, unfit machine or failure\n"
    "  before the restored program runs; 2 usage; 120 failure after the point of no return;\n"
    "  otherwise the restored program's own.\n";

static int fd_number(const std::string& option, const char* text) {
  errno = 0;
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (!*text || *end || errno || v < INT_MIN || v > INT_MAX || std::isspace(static_cast<unsigned char>(*text)))
    throw UsageError(std::string("the argument ('") + text + "') for option '" + option + "' is invalid");
  return int(v);
}

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine cl;
  bool options_end = false, have_image = false;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (options_end || arg[0] != '-' || arg[1] == '\0') {
      if (have_image) throw UsageError("too many positional options have been specified on the command line");
      cl.image = arg;
      have_image = true;
      continue;
    }
    if (std::strcmp(arg, "--") == 0) {
      options_end = true;
      continue;
    }
    if (std::strcmp(arg, "-h") == 0) {
      cl.help = true;
      continue;
    }
    if (arg[1] != '-') throw UsageError(std::string("unrecognised option '") + arg + "'");
    std::string name = arg, value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    bool* flag = name == "--check"              ? &cl.check
                 : name == "--verbose"          ? &cl.verbose
                 : name == "--lazy"             ? &cl.lazy
                 : name == "--learn"            ? &cl.learn
                 : name == "--host-clocks"      ? &cl.host_clocks
                 : name == "--new-pids"         ? &cl.new_pids
                 : name == "--pid-ns"           ? &cl.pid_ns
                 : name == "--install-binfmt"   ? &cl.install_binfmt
                 : name == "--uninstall-binfmt" ? &cl.uninstall_binfmt
                 : name == "--help"             ? &cl.help
                 : name == "--version"          ? &cl.version
                 : name == "--progress"         ? &cl.progress
                 : name == "--no-progress"      ? &cl.no_progress
                                                : nullptr;
    if (flag) {
      if (has_value) throw UsageError("option '" + name + "' does not take any arguments");
      *flag = true;
    } else if (name == "--inherit-fd") {
      if (!has_value) {
        if (i + 1 >= argc) throw UsageError("the required argument for option '--inherit-fd' is missing");
        value = argv[++i];
      }
      cl.inherit_fds.push_back(fd_number(name, value.c_str()));
    } else if (name == "--listen" || name == "--token-file") {
      if (!has_value) {
        if (i + 1 >= argc) throw UsageError("the required argument for option '" + name + "' is missing");
        value = argv[++i];
      }
      if (value.empty()) throw UsageError("option '" + name + "' needs a value");
      (name == "--listen" ? cl.listen : cl.token_file) = value;
    } else if (name == "--external-fds") {
      if (!has_value) {
        if (i + 1 >= argc) throw UsageError("the required argument for option '--external-fds' is missing");
        value = argv[++i];
      }
      if (value != "null")
        throw UsageError("the argument ('" + value + "') for option '--external-fds' is invalid: only 'null' is known");
      cl.external_null = true;
    } else {
      throw UsageError("unrecognised option '" + name + "'");
    }
  }
  if (cl.help || cl.version) return cl;
  if (cl.progress && cl.no_progress) throw UsageError("--progress and --no-progress exclude each other");
  if (cl.install_binfmt || cl.uninstall_binfmt) {
    if (cl.install_binfmt && cl.uninstall_binfmt)
      throw UsageError("--install-binfmt and --uninstall-binfmt exclude each other");
    if (!cl.image.empty() || cl.check || cl.lazy || cl.pid_ns) throw UsageError("--install-binfmt and --uninstall-binfmt take no image");
  } else if (!cl.listen.empty()) {
    if (!cl.image.empty()) throw UsageError("--listen takes no IMAGE: the image comes over the connection");
    if (cl.pid_ns) throw UsageError("--listen does not take --pid-ns yet");
    cl.image = "(listen " + cl.listen + ")";  // how messages name the image
  } else if (cl.image.empty()) {
    throw UsageError("missing IMAGE");
  } else if (!cl.token_file.empty()) {
    throw UsageError("--token-file goes with --listen");
  }
  if (cl.learn && !cl.lazy) throw UsageError("--learn records what a --lazy restore serves: it needs --lazy");
  // The working set lives beside the image file (IMAGE.ws): a stream or a
  // connection has no such place.
  if (cl.learn && (!cl.listen.empty() || cl.image == "-"))
    throw UsageError("--learn keeps the working set beside the image file: not with --listen or - (a stream)");
  if (cl.pid_ns && cl.new_pids)
    throw UsageError("--pid-ns gives every process its saved pid: --new-pids is for restores without it");
  return cl;
}

}  // namespace ckpt::restorer
