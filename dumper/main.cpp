// `ckpt`: the command line of the dumper side. Subcommands (each with
// --help, which lists its options):
//   dump PID -o FILE [options]   save a process (and its descendants)
//   migrate PID HOST:PORT [options]  move it to a `restore --listen` (dumper/Migrate.h)
//   inspect FILE [--json]        print what an image holds
//   verify FILE                  check every byte of an image
//   run FILE [options]           exec `restore ... FILE` (beside this binary, in a build tree ../restorer/, or on PATH)
//   check [--json]               what this machine and user can do (dumper/MachineReport.h)
// Exit status: 0 success, 1 failure (one line on stderr), 2 usage.
//
// Each subcommand's options are one table below, one option per line, with
// the text its --help prints; docs/man/ckpt.1 and completion/ckpt.bash list
// them too (tests/e2e/check_cli_help.sh checks that they agree).
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "common/Progress.h"
#include "common/Version.h"
#include "dumper/DumpSize.h"
#include "dumper/Dumper.h"
#include "dumper/DumpSummary.h"
#include "dumper/Inspect.h"
#include "dumper/Migrate.h"
#include "dumper/MigratePages.h"
#include "format/Handshake.h"
#include "dumper/MachineReport.h"
#include "dumper/RunAndDump.h"
#include "dumper/Tracee.h"
#include "format/FormatError.h"
#include "format/Printable.h"

namespace po = boost::program_options;
using namespace ckpt;

namespace {

const char* kUsage =
    "usage: ckpt COMMAND [OPTIONS]    (ckpt COMMAND --help lists a command's options)\n"
    "  ckpt dump PID -o FILE [OPTIONS]  save a running process and its descendants to an image\n"
    "  ckpt migrate PID HOST:PORT [OPTIONS]  move a running process to a restore --listen there\n"
    "  ckpt inspect FILE [--json]       print what an image holds (FILE -: standard input)\n"
    "  ckpt verify FILE                 check every checksum and decode every page of an image\n"
    "  ckpt run FILE [OPTIONS]          restore an image (runs restore)\n"
    "  ckpt run -o FILE (--when-output REGEX | --after SECONDS | --on-signal SIG) [--kill] -- CMD ARGS...\n"
    "                                   start CMD and dump it at that moment (-o tells this form apart)\n"
    "  ckpt check [--json]              what this machine and user can do with ckpt\n"
    "  ckpt --version                   version, image format and commit\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What a subcommand's --help and usage errors print above its options.
struct Command {
  const char* name;
  const char* synopsis;
  const char* summary;
};
const Command kDump = {"dump", "ckpt dump PID -o FILE [OPTIONS]",
                       "Saves process PID (with its threads and, unless --single, its descendants) to FILE,\n"
                       "and leaves it running as it was (or kills it with --kill once FILE is safe on disk)."};
const Command kMigrate = {"migrate", "ckpt migrate PID HOST:PORT [OPTIONS]",
                          "Sends process PID (and its descendants) over TCP to a `restore --listen` on HOST:PORT,\n"
                          "which becomes it. Pre-copy rounds of dumps (a full one, then the pages written since)\n"
                          "are sent while PID runs; then a short final freeze. PID is killed here only once the\n"
                          "destination has passed its point of no return, and resumes untouched if it fails before.\n"
                          "The token comes from --token-file or CKPT_TOKEN. The link is not encrypted: tunnel it\n"
                          "(ssh -L) across untrusted networks."};
const Command kInspect = {"inspect", "ckpt inspect FILE [--json]",
                          "Prints what image FILE holds: the process tree, memory areas, descriptors, outside\n"
                          "pipe ends and the restore flags they need. Touches no process."};
const Command kVerify = {"verify", "ckpt verify FILE",
                         "Checks every checksum of image FILE and decodes every page chunk."};
const Command kRun = {"run", "ckpt run FILE [OPTIONS]",
                      "Restores image FILE by running restore (beside ckpt, or on PATH) with these options."};
const Command kCheck = {"check", "ckpt check [--json]",
                        "Tries, one line each, what dump and restore need on this machine for this user: tracing,\n"
                        "capabilities, userfaultfd, namespaces, huge pages, binfmt_misc, the calls each restore\n"
                        "mode makes. Exit status 0 when a plain dump and restore work here, 1 otherwise."};

// --help / -h anywhere before "--".
bool wants_help(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--") return false;
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

constexpr unsigned kHelpWidth = 100;

// The subcommand being run, for usage errors.
const Command* current = nullptr;

int print_help(const Command& c, const po::options_description& visible) {
  po::options_description help(kHelpWidth, kHelpWidth / 2), with_help(kHelpWidth, kHelpWidth / 2);
  help.add_options()("help,h", "print this help and exit");
  with_help.add(visible).add(help);
  std::cout << "usage: " << c.synopsis << "\n" << c.summary << "\n\nOptions:\n" << with_help;
  return 0;
}

format::Compression parse_compression(const std::string& s) {
  format::Compression c;
  if (s == "none") {
    c.encoding = format::ChunkEncoding::Raw;
    return c;
  }
  if (s == "zstd") return c;
  if (s.rfind("zstd:", 0) == 0) {
    try {
      size_t used = 0;
      int level = std::stoi(s.substr(5), &used);
      if (used == s.size() - 5 && level >= 1 && level <= 19) {
        c.level = level;
        return c;
      }
    } catch (const std::exception&) {
    }
  }
  throw UsageError("--compress takes none, zstd or zstd:LEVEL (LEVEL 1-19), not '" + s + "'");
}

// Parses `args` against `all` (options and hidden positionals, placed by
// `pos`); a parse error is a UsageError.
po::variables_map parse_all(const std::vector<std::string>& args, const po::options_description& all,
                            const po::positional_options_description& pos) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return vm;
}

// The subcommand's options (`visible`, with their descriptions) plus its
// positional argument (hidden from --help; the synopsis names it).
po::variables_map parse(const std::vector<std::string>& args, const po::options_description& visible,
                        const char* positional_name, const std::string* positional_value = nullptr) {
  po::options_description all;
  all.add(visible);
  if (positional_value) all.add_options()(positional_name, po::value(const_cast<std::string*>(positional_value)));
  po::positional_options_description pos;
  if (positional_value) pos.add(positional_name, 1);
  po::variables_map vm = parse_all(args, all, pos);
  if (positional_value && !vm.count(positional_name))
    throw UsageError(std::string("missing ") + positional_name);
  return vm;
}

pid_t parse_pid(const std::string& text) {
  try {
    size_t used = 0;
    long pid = std::stol(text, &used);
    if (used == text.size() && pid > 0 && pid <= 0x3fffffff) return pid_t(pid);
  } catch (const std::exception&) {
  }
  throw UsageError("'" + text + "' is not a process id");
}

common::ProgressMode progress_mode(bool on, bool off) {
  if (on && off) throw UsageError("--progress and --no-progress exclude each other");
  return on ? common::ProgressMode::On : off ? common::ProgressMode::Off : common::ProgressMode::Auto;
}

int cmd_dump(const std::vector<std::string>& args) {
  std::string pid_text, compress = "zstd:3";
  bool progress = false, no_progress = false, json = false;
  dumper::DumpOptions o;
  po::options_description opts(kHelpWidth, kHelpWidth / 2);
  opts.add_options()
      ("output,o", po::value(&o.output)->value_name("FILE")->required(), "the image file to write (required)")
      ("kill", po::bool_switch(&o.kill), "kill the saved processes once the image is safe on disk")
      ("single", po::bool_switch(&o.single), "save PID alone; refused if it has children")
      ("compress", po::value(&compress)->value_name("none|zstd[:LEVEL]"), "page data compression (default zstd:3; LEVEL 1-19)")
      ("ignore-fds", po::bool_switch(&o.ignore_fds), "leave out, with a warning each, the descriptors ckpt would refuse")
      ("inherit-outside-sockets", po::bool_switch(&o.inherit_outside_sockets), "save a Unix socket connected outside the processes as an outside end (restore --inherit-fd)")
      ("tcp-established", po::bool_switch(&o.tcp_established), "carry established TCP connections (TCP_REPAIR; needs CAP_NET_ADMIN)")
      ("executable", po::bool_switch(&o.executable), "make the image executable, to run as ./FILE through binfmt_misc")
      ("copies-return", po::value(&o.copies_return)->value_name("TID:FD:VALUE"), "(libckpt) in the image, thread TID's read(FD) returns VALUE and FD is left out")
      ("track", po::bool_switch(&o.track), "go on tracking the process's writes, for a later dump with --parent")
      ("parent", po::value(&o.parent)->value_name("IMAGE"), "save only the pages written since IMAGE (made with --track); restore follows the chain")
      ("json", po::bool_switch(&json), "print the summary as one JSON object on stdout (frozen_ms, sizes, warnings)")
      ("snapshot", po::bool_switch(&o.snapshot), "stop the processes only to write-protect their memory; each page is copied before its first write")
      ("progress", po::bool_switch(&progress), "show bytes done, rate and time left even when stderr is not a terminal")
      ("no-progress", po::bool_switch(&no_progress), "never show the progress line");
  if (wants_help(args)) return print_help(kDump, opts);
  parse(args, opts, "pid", &pid_text);
  o.pid = parse_pid(pid_text);
  o.compression = parse_compression(compress);
  if (o.track && o.kill) throw UsageError("--track keeps the process running to track its writes: not with --kill");
  if (o.snapshot && (o.track || !o.parent.empty()))
    throw UsageError("--snapshot and --track/--parent each write-protect the memory with a userfaultfd of their own: "
                     "use one or the other");
  const common::ProgressMode mode = progress_mode(progress, no_progress);
  common::Progress line("ckpt", "dumping", common::progress_wanted(mode) ? dumper::estimate_dump_bytes(o.pid, o.single) : 0, mode);
  if (line.enabled()) o.on_memory_written = [&line](uint64_t bytes) { line.set(bytes); };
  dumper::DumpReport r = dumper::dump(o);
  line.finish();
  // Messages carry names the target chose (paths, memfd names): printed escaped.
  for (const std::string& w : r.warnings) std::fprintf(stderr, "ckpt: warning: %s\n", format::printable(w).c_str());
  dumper::print_dump_summary(o, r, json);
  return 0;
}

int cmd_migrate(const std::vector<std::string>& args) {
  std::string pid_text, compress = "zstd:3";
  dumper::DumpOptions o;
  dumper::MigrateOptions m;
  uint64_t threshold_mib = m.threshold_bytes >> 20;
  po::options_description opts(kHelpWidth, kHelpWidth / 2);
  opts.add_options()
      ("token-file", po::value(&m.token_file)->value_name("FILE"), "the shared token (mode 0600 or stricter; else CKPT_TOKEN)")
      ("lazy", po::bool_switch(&m.lazy), "post-copy: start on the destination before all memory has arrived; the rest follows on first touch and in the background")
      ("rounds", po::value(&m.rounds)->value_name("N"), "pre-copy: at most N rounds of dumps while the process runs, then the final freeze (default 5; 0: one dump in one freeze; not with --lazy)")
      ("precopy-threshold", po::value(&threshold_mib)->value_name("MIB"), "pre-copy ends after a round of at most MIB MiB of pages (default 8)")
      ("single", po::bool_switch(&o.single), "move PID alone; refused if it has children")
      ("compress", po::value(&compress)->value_name("none|zstd[:LEVEL]"), "page data compression on the wire (default zstd:3; none with --lazy)")
      ("ignore-fds", po::bool_switch(&o.ignore_fds), "leave out, with a warning each, the descriptors ckpt would refuse")
      ("inherit-outside-sockets", po::bool_switch(&o.inherit_outside_sockets), "save a Unix socket connected outside the processes as an outside end")
      ("tcp-established", po::bool_switch(&o.tcp_established), "carry established TCP connections (TCP_REPAIR; needs CAP_NET_ADMIN)");
  if (wants_help(args)) return print_help(kMigrate, opts);
  po::options_description all;
  all.add(opts).add_options()("pid", po::value(&pid_text))("destination", po::value(&m.destination));
  po::positional_options_description pos;
  pos.add("pid", 1).add("destination", 1);
  po::variables_map vm = parse_all(args, all, pos);
  if (!vm.count("destination")) throw UsageError("migrate takes PID and HOST:PORT");
  o.pid = parse_pid(pid_text);
  // Post-copy: compressing is in the freeze and shortens only the transfer, which it leaves out (docs/benchmarks.md, p).
  if (m.lazy && !vm.count("compress")) compress = "none";
  o.compression = parse_compression(compress);
  if (m.rounds > format::kMaxRounds)
    throw UsageError("--rounds " + std::to_string(m.rounds) + ": at most " + std::to_string(format::kMaxRounds));
  if (threshold_mib > (uint64_t(1) << 30)) throw UsageError("--precopy-threshold: at most 1073741824 MiB");
  // Post-copy moves the process in one freeze: a lazy restore takes no chain.
  if (m.lazy && (vm.count("rounds") || vm.count("precopy-threshold")))
    throw UsageError("--lazy takes no pre-copy rounds (--rounds, --precopy-threshold): post-copy moves the process in one freeze");
  m.threshold_bytes = threshold_mib << 20;
  dumper::LazyMigrationReport lazy;
  m.lazy_report = &lazy;
  dumper::MigrateReport r = dumper::migrate(o, m);
  if (m.lazy) {
    for (const std::string& w : r.final.warnings) std::fprintf(stderr, "ckpt: warning: %s\n", format::printable(w).c_str());
    return dumper::print_lazy_summary(o.pid, m.destination, lazy);
  }
  dumper::print_migrate_summary(o.pid, m, r);
  return 0;
}

int cmd_inspect(const std::vector<std::string>& args) {
  std::string file;
  bool json = false;
  po::options_description opts(kHelpWidth, kHelpWidth / 2);
  opts.add_options()
      ("json", po::bool_switch(&json), "print one JSON object instead of text");
  if (wants_help(args)) return print_help(kInspect, opts);
  parse(args, opts, "FILE", &file);
  dumper::inspect_image(file, json, std::cout);
  return 0;
}

int cmd_verify(const std::vector<std::string>& args) {
  std::string file;
  po::options_description opts(kHelpWidth, kHelpWidth / 2);
  if (wants_help(args)) return print_help(kVerify, opts);
  parse(args, opts, "FILE", &file);
  dumper::verify_image(file, std::cout);
  return 0;
}

// The restore program `run` executes: beside this binary, else on PATH
// ("restore" then, for execvp). `found`: whether it was found at all.
std::string restore_program(const char* argv0, bool* found) {
  std::string self(argv0);
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) self.assign(exe, size_t(n));
  const std::string dir = self.substr(0, self.rfind('/') + 1);
  *found = true;
  // Installed, both are in one folder; in a build tree, restore is in
  // restorer/ beside the dumper/ that holds ckpt.
  for (const std::string& candidate : {dir + "restore", dir + "../restorer/restore"})
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    for (size_t at = 0; at <= p.size();) {
      size_t end = p.find(':', at);
      if (end == std::string::npos) end = p.size();
      std::string candidate = (end > at ? p.substr(at, end - at) : ".") + "/restore";
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
      at = end + 1;
    }
  }
  *found = false;
  return "restore";
}

// Options restore takes that `run` passes on as they are; restore checks
// their values. The table is for --help only (restore parses them).
int cmd_run(const std::vector<std::string>& args, const char* argv0) {
  po::options_description opts(kHelpWidth, kHelpWidth / 2);
  opts.add_options()
      ("lazy", "bring memory in on first touch (restore --lazy)")
      ("new-pids", "a tree's members other than its root may get new pids")
      ("pid-ns", "every process gets its saved pid, in a pid namespace of its own")
      ("inherit-fd", po::value<int>()->value_name("N"), "this fd N stands in for the saved process's outside fd N (repeatable)")
      ("external-fds", po::value<std::string>()->value_name("null"), "/dev/null stands in for outside pipe ends not given with --inherit-fd")
      ("progress", "show restore's progress line even when stderr is not a terminal")
      ("no-progress", "never show restore's progress line");
  if (wants_help(args)) return print_help(kRun, opts);
  std::vector<std::string> pass = {"restore"};
  std::string image;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--lazy" || a == "--new-pids" || a == "--pid-ns" || a == "--progress" || a == "--no-progress" ||
        a.rfind("--inherit-fd=", 0) == 0 || a.rfind("--external-fds=", 0) == 0) {
      pass.push_back(a);
    } else if (a == "--inherit-fd" || a == "--external-fds") {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      pass.push_back(a + "=" + args[++i]);
    } else if (a.rfind("-", 0) == 0 && a != "-") {
      throw UsageError("run passes on --lazy, --new-pids, --pid-ns, --inherit-fd N, --external-fds=null, --progress "
                       "and --no-progress, not '" + a + "'");
    } else if (!image.empty()) {
      throw UsageError("run takes exactly one image");
    } else {
      image = a;
    }
  }
  if (image.empty()) throw UsageError("run takes exactly one image");
  pass.push_back("--");
  pass.push_back(image);
  std::vector<char*> restore_args;
  for (std::string& a : pass) restore_args.push_back(a.data());
  restore_args.push_back(nullptr);
  bool found = false;
  std::string restore = restore_program(argv0, &found);
  if (found) execv(restore.c_str(), restore_args.data());
  throw std::runtime_error("cannot run restore (looked beside ckpt and on PATH)");
}

int cmd_check(const std::vector<std::string>& args, const char* argv0) {
  bool json = false;
  po::options_description opts(kHelpWidth, kHelpWidth / 2);
  opts.add_options()
      ("json", po::bool_switch(&json), "print one JSON object instead of lines");
  if (wants_help(args)) return print_help(kCheck, opts);
  parse(args, opts, "", nullptr);
  bool found = false;
  std::string restore = restore_program(argv0, &found);
  const bool fit = dumper::print_report(dumper::probe_machine(found ? restore : ""), json, std::cout);
  return fit ? 0 : 1;
}

void usage_error(const char* what) {
  std::fprintf(stderr, "ckpt: %s\n", format::printable(what).c_str());
  if (current) std::fprintf(stderr, "usage: %s    (ckpt %s --help lists its options)\n", current->synopsis, current->name);
  else std::fputs(kUsage, stderr);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::fputs(common::version_text("ckpt").c_str(), stdout);
    return 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  try {
    for (const Command* c : {&kDump, &kMigrate, &kInspect, &kVerify, &kRun, &kCheck})
      if (cmd == c->name) current = c;
    if (cmd == "dump") return cmd_dump(args);
    if (cmd == "migrate") return cmd_migrate(args);
    if (cmd == "inspect") return cmd_inspect(args);
    if (cmd == "verify") return cmd_verify(args);
    if (cmd == "run") return dumper::is_run_and_dump(args) ? dumper::run_and_dump(args) : cmd_run(args, argv[0]);
    if (cmd == "check") return cmd_check(args, argv[0]);
    throw UsageError("unknown command '" + cmd + "'");
  } catch (const UsageError& e) {
    usage_error(e.what());
    return 2;
  } catch (const po::error& e) {
    usage_error(e.what());
    return 2;
  } catch (const format::FormatError& e) {
    std::fprintf(stderr, "ckpt: %s: bad image %s\n",
                 format::printable(cmd == "dump" ? "" : args.empty() ? "" : args[0]).c_str(),
                 format::printable(e.what()).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ckpt: %s\n", format::printable(e.what()).c_str());
    return 1;
  }
}
