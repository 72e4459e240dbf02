// restore's command line (restorer/CommandLine.h): every option form it
// accepts, and a one-line reason for each it refuses.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "restorer/CommandLine.h"

using namespace ckpt::restorer;

namespace {

CommandLine parse(std::vector<const char*> args) {
  args.insert(args.begin(), "restore");
  return parse_command_line(int(args.size()), args.data());
}

std::string refusal(std::vector<const char*> args) {
  try {
    parse(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("command line: an image and every option") {
  CommandLine c = parse({"--verbose", "img.ckpt", "--check", "--inherit-fd", "5", "--inherit-fd=7"});
  CHECK(c.image == "img.ckpt");
  CHECK(c.check);
  CHECK(c.verbose);
  CHECK_FALSE(c.install_binfmt);
  CHECK_FALSE(c.help);
  CHECK(c.inherit_fds == std::vector<int>{5, 7});
  CHECK_FALSE(c.external_null);
  CHECK(parse({"a", "--external-fds=null"}).external_null);
  CHECK(parse({"a", "--external-fds", "null"}).external_null);
}

TEST_CASE("command line: --pid-ns") {
  CHECK(parse({"--pid-ns", "img.ckpt"}).pid_ns);
  CHECK(parse({"img.ckpt", "--pid-ns", "--check"}).pid_ns);
  CHECK_FALSE(parse({"img.ckpt"}).pid_ns);
  CHECK(refusal({"--pid-ns=1", "a"}) == "option '--pid-ns' does not take any arguments");
  CHECK(refusal({"--pid-ns", "--new-pids", "a"}) ==
        "--pid-ns gives every process its saved pid: --new-pids is for restores without it");
  CHECK(refusal({"--pid-ns", "--install-binfmt"}) == "--install-binfmt and --uninstall-binfmt take no image");
}

TEST_CASE("command line: --host-clocks") {
  CHECK(parse({"--host-clocks", "img.ckpt"}).host_clocks);
  CHECK_FALSE(parse({"img.ckpt"}).host_clocks);
  CHECK(refusal({"--host-clocks=1", "a"}) == "option '--host-clocks' does not take any arguments");
}

TEST_CASE("command line: -- ends the options; - is an image name") {
  CHECK(parse({"--", "--check"}).image == "--check");
  CHECK_FALSE(parse({"--", "--check"}).check);
  CHECK(parse({"-"}).image == "-");
}

TEST_CASE("command line: help, binfmt") {
  CHECK(parse({"-h"}).help);
  CHECK(parse({"--help"}).help);
  CHECK(parse({"--help", "a"}).help);
  CHECK(parse({"--install-binfmt"}).install_binfmt);
  CHECK(parse({"--uninstall-binfmt"}).uninstall_binfmt);
}

TEST_CASE("command line: refusals") {
  CHECK(refusal({}) == "missing IMAGE");
  CHECK(refusal({""}) == "missing IMAGE");
  CHECK(refusal({"--check"}) == "missing IMAGE");
  CHECK(refusal({"a", "b"}) == "too many positional options have been specified on the command line");
  CHECK(refusal({"--bogus", "a"}) == "unrecognised option '--bogus'");
  CHECK(refusal({"--bogus=1", "a"}) == "unrecognised option '--bogus'");
  CHECK(refusal({"-x", "a"}) == "unrecognised option '-x'");
  CHECK(refusal({"--check=yes", "a"}) == "option '--check' does not take any arguments");
  CHECK(refusal({"a", "--inherit-fd"}) == "the required argument for option '--inherit-fd' is missing");
  CHECK(refusal({"a", "--inherit-fd", "x"}) == "the argument ('x') for option '--inherit-fd' is invalid");
  CHECK(refusal({"a", "--inherit-fd=5x"}) == "the argument ('5x') for option '--inherit-fd' is invalid");
  CHECK(refusal({"a", "--inherit-fd="}) == "the argument ('') for option '--inherit-fd' is invalid");
  CHECK(refusal({"a", "--inherit-fd", "99999999999"}) ==
        "the argument ('99999999999') for option '--inherit-fd' is invalid");
  CHECK(refusal({"a", "--external-fds"}) == "the required argument for option '--external-fds' is missing");
  CHECK(refusal({"a", "--external-fds=zero"}) ==
        "the argument ('zero') for option '--external-fds' is invalid: only 'null' is known");
  CHECK(refusal({"--install-binfmt", "--uninstall-binfmt"}) == "--install-binfmt and --uninstall-binfmt exclude each other");
  CHECK(refusal({"--install-binfmt", "a"}) == "--install-binfmt and --uninstall-binfmt take no image");
  CHECK(refusal({"--uninstall-binfmt", "--check"}) == "--install-binfmt and --uninstall-binfmt take no image");
}

TEST_CASE("command line: --listen and --token-file") {
  CommandLine cl = parse({"--listen", "127.0.0.1:7001", "--token-file=t", "--new-pids"});
  CHECK(cl.listen == "127.0.0.1:7001");
  CHECK(cl.token_file == "t");
  CHECK(cl.new_pids);
  CHECK(cl.image == "(listen 127.0.0.1:7001)");
  CHECK(parse({"--listen=7001"}).listen == "7001");
  CHECK(refusal({"--listen", "7001", "app.ckpt"}) == "--listen takes no IMAGE: the image comes over the connection");
  CHECK(refusal({"--listen", "7001", "--pid-ns"}) == "--listen does not take --pid-ns yet");
  CHECK(refusal({"app.ckpt", "--token-file", "t"}) == "--token-file goes with --listen");
  CHECK(refusal({"--listen"}) == "the required argument for option '--listen' is missing");
  CHECK(refusal({"--listen="}) == "option '--listen' needs a value");
}

TEST_CASE("command line: --version, --progress, --no-progress") {
  CHECK(parse({"--version"}).version);
  CHECK(parse({"--version"}).image.empty());  // like --help: no image needed
  CHECK(parse({"app.ckpt", "--progress"}).progress);
  CHECK(parse({"--no-progress", "app.ckpt"}).no_progress);
  CHECK(!parse({"app.ckpt"}).progress);
  CHECK(refusal({"app.ckpt", "--progress", "--no-progress"}) == "--progress and --no-progress exclude each other");
  CHECK(refusal({"--version=2"}) == "option '--version' does not take any arguments");
}

TEST_CASE("command line: --learn") {
  CommandLine cl = parse({"--lazy", "--learn", "a"});
  CHECK(cl.lazy);
  CHECK(cl.learn);
  CHECK_FALSE(parse({"--lazy", "a"}).learn);
  CHECK(refusal({"--learn", "a"}) == "--learn records what a --lazy restore serves: it needs --lazy");
  CHECK(refusal({"--lazy", "--learn=1", "a"}) == "option '--learn' does not take any arguments");
  CHECK(refusal({"--lazy", "--learn", "-"}) == "--learn keeps the working set beside the image file: not with --listen or - (a stream)");
  CHECK(refusal({"--lazy", "--learn", "--listen", "7000"}) ==
        "--learn keeps the working set beside the image file: not with --listen or - (a stream)");
}
