// `ckpt`: the command line of the dumper side. Subcommands:
//   dump PID -o FILE [--kill] [--single] [--compress none|zstd[:LEVEL]] [--ignore-fds] [--inherit-outside-sockets]
//        [--tcp-established] [--executable] [--track] [--parent IMAGE]
//   inspect FILE [--json]
//   verify FILE
//   run FILE [--lazy] [--new-pids] [--pid-ns] [--inherit-fd N]... [--external-fds=null]
//                     (exec `restore ... FILE`, found beside this binary or on PATH)
// Exit status: 0 success, 1 failure (one line on stderr), 2 usage.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "dumper/Dumper.h"
#include "dumper/Inspect.h"
#include "dumper/Tracee.h"
#include "format/FormatError.h"
#include "format/Printable.h"

namespace po = boost::program_options;
using namespace ckpt;

namespace {

const char* kUsage =
    "usage: ckpt dump PID -o FILE [--kill] [--single] [--compress none|zstd[:LEVEL]] [--ignore-fds] [--executable]\n"
    "                [--inherit-outside-sockets] [--tcp-established] [--track] [--parent IMAGE]\n"
    "       ckpt inspect FILE [--json]\n"
    "       ckpt verify FILE\n"
    "       ckpt run FILE [--lazy] [--new-pids] [--pid-ns] [--inherit-fd N]... [--external-fds=null]\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

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

po::variables_map parse(const std::vector<std::string>& args, po::options_description& opts,
                        const char* positional_name, int positional_count) {
  po::positional_options_description pos;
  pos.add(positional_name, positional_count);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
  po::notify(vm);
  if (!vm.count(positional_name)) throw UsageError(std::string("missing ") + positional_name);
  return vm;
}

int cmd_dump(const std::vector<std::string>& args) {
  std::string pid_text, compress = "zstd:3";
  dumper::DumpOptions o;
  po::options_description opts;
  opts.add_options()("pid", po::value(&pid_text))("output,o", po::value(&o.output)->required())(
      "kill", po::bool_switch(&o.kill))("single", po::bool_switch(&o.single))("ignore-fds", po::bool_switch(&o.ignore_fds))(
      "inherit-outside-sockets", po::bool_switch(&o.inherit_outside_sockets))(
      "compress", po::value(&compress))("executable", po::bool_switch(&o.executable))(
      "tcp-established", po::bool_switch(&o.tcp_established))("track", po::bool_switch(&o.track))(
      "parent", po::value(&o.parent));
  parse(args, opts, "pid", 1);
  if (o.track && o.kill) throw UsageError("--track keeps the process running to track its writes: not with --kill");
  size_t used = 0;
  try {
    long pid = std::stol(pid_text, &used);
    if (used != pid_text.size() || pid <= 0 || pid > 0x3fffffff) throw std::out_of_range("pid");
    o.pid = pid_t(pid);
  } catch (const std::exception&) {
    throw UsageError("'" + pid_text + "' is not a process id");
  }
  o.compression = parse_compression(compress);
  dumper::DumpReport r = dumper::dump(o);
  // Messages carry names the target chose (paths, memfd names): printed escaped.
  for (const std::string& w : r.warnings) std::fprintf(stderr, "ckpt: warning: %s\n", format::printable(w).c_str());
  std::string tree = r.members > 1 ? " and " + std::to_string(r.members - 1) + (r.members == 2 ? " descendant" : " descendants") : "";
  if (r.pages_inherited) tree += " (" + std::to_string(r.pages_inherited) + " of their pages shared with their parents)";
  if (!o.parent.empty()) tree += " (incremental: " + std::to_string(r.pages_from_parent) + " pages left to the parent image)";
  std::fprintf(stderr, "ckpt: dumped pid %d%s to %s: %zu memory areas, %llu pages saved (%llu zero pages skipped), "
                       "%llu bytes, %.3f s%s\n",
               o.pid, tree.c_str(), format::printable(o.output).c_str(), r.vmas, (unsigned long long)r.pages_saved,
               (unsigned long long)r.zero_pages_skipped, (unsigned long long)r.image_bytes, r.seconds,
               o.kill ? ", process killed" : "");
  return 0;
}

int cmd_inspect(const std::vector<std::string>& args) {
  std::string file;
  bool json = false;
  po::options_description opts;
  opts.add_options()("file", po::value(&file))("json", po::bool_switch(&json));
  parse(args, opts, "file", 1);
  dumper::inspect_image(file, json, std::cout);
  return 0;
}

int cmd_verify(const std::vector<std::string>& args) {
  std::string file;
  po::options_description opts;
  opts.add_options()("file", po::value(&file));
  parse(args, opts, "file", 1);
  dumper::verify_image(file, std::cout);
  return 0;
}

// Options restore takes that `run` passes on as they are: --lazy,
// --new-pids, --pid-ns, --inherit-fd N (or =N), --external-fds=null. restore checks their values.
int cmd_run(const std::vector<std::string>& args, const char* argv0) {
  std::vector<std::string> pass = {"restore"};
  std::string image;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--lazy" || a == "--new-pids" || a == "--pid-ns" || a.rfind("--inherit-fd=", 0) == 0 || a.rfind("--external-fds=", 0) == 0) {
      pass.push_back(a);
    } else if (a == "--inherit-fd" || a == "--external-fds") {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      pass.push_back(a + "=" + args[++i]);
    } else if (a.rfind("-", 0) == 0 && a != "-") {
      throw UsageError("run passes on --lazy, --new-pids, --pid-ns, --inherit-fd N and --external-fds=null, not '" + a + "'");
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
  std::string self(argv0);
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) self.assign(exe, size_t(n));
  std::string beside = self.substr(0, self.rfind('/') + 1) + "restore";
  if (access(beside.c_str(), X_OK) == 0) execv(beside.c_str(), restore_args.data());
  execvp("restore", restore_args.data());
  throw std::runtime_error("cannot run restore (looked beside ckpt and on PATH)");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "dump") return cmd_dump(args);
    if (cmd == "inspect") return cmd_inspect(args);
    if (cmd == "verify") return cmd_verify(args);
    if (cmd == "run") return cmd_run(args, argv[0]);
    throw UsageError("unknown command '" + cmd + "'");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "ckpt: %s\n%s", format::printable(e.what()).c_str(), kUsage);
    return 2;
  } catch (const po::error& e) {
    std::fprintf(stderr, "ckpt: %s\n%s", format::printable(e.what()).c_str(), kUsage);
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
