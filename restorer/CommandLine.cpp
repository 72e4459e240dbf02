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
    "                     [--external-fds=null] [--new-pids] [--pid-ns]\n"
    "       restore --install-binfmt | --uninstall-binfmt\n"
    "  Replaces this process with the one saved in IMAGE (made by `ckpt dump`).\n"
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
    "  --install-binfmt    (root) register this restore with binfmt_misc, so ./IMAGE runs\n"
    "  --uninstall-binfmt  (root) remove that registration\n";

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
  if (cl.help) return cl;
  if (cl.install_binfmt || cl.uninstall_binfmt) {
    if (cl.install_binfmt && cl.uninstall_binfmt)
      throw UsageError("--install-binfmt and --uninstall-binfmt exclude each other");
    if (!cl.image.empty() || cl.check || cl.lazy || cl.pid_ns) throw UsageError("--install-binfmt and --uninstall-binfmt take no image");
  } else if (cl.image.empty()) {
    throw UsageError("missing IMAGE");
  }
  if (cl.learn && !cl.lazy) throw UsageError("--learn records what a --lazy restore serves: it needs --lazy");
  if (cl.pid_ns && cl.new_pids)
    throw UsageError("--pid-ns gives every process its saved pid: --new-pids is for restores without it");
  return cl;
}

}  // namespace ckpt::restorer
