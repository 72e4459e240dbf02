// `ckpt run -o ... -- CMD`: see RunAndDump.h.
//
// The program starts with ckpt's fds 0-2 and nothing else (every other fd
// is close-on-exec in the child), its own signal mask and dispositions
// reset. With --when-output its stdout and stderr are pipes to ckpt, which
// passes every byte on to its own stdout and stderr and matches REGEX
// against each line (and against the line so far, for a prompt that ends
// without a newline). Those pipes are fds 1 and 2, which an image never
// holds: a restored copy writes to the fds 1 and 2 of `restore` itself.
#include "dumper/RunAndDump.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <regex>
#include <algorithm>
#include <stdexcept>

#include "dumper/Dumper.h"
#include "dumper/ImageFile.h"
#include "format/Printable.h"

namespace po = boost::program_options;

namespace ckpt::dumper {

bool is_run_and_dump(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--") return false;
    if (a == "-o" || a == "--output" || a.rfind("--output=", 0) == 0 || (a.size() > 2 && a.rfind("-o", 0) == 0))
      return true;
  }
  return false;
}

namespace {

int parse_signal(const std::string& text) {
  static const struct {
    const char* name;
    int sig;
  } names[] = {{"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
               {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"TSTP", SIGTSTP}, {"WINCH", SIGWINCH},
               {"URG", SIGURG}, {"PWR", SIGPWR}};
  std::string s = text.rfind("SIG", 0) == 0 ? text.substr(3) : text;
  for (const auto& n : names)
    if (s == n.name) return n.sig;
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (!s.empty() && *end == 0 && v > 0 && v <= SIGRTMAX && v != SIGKILL && v != SIGSTOP && v != SIGCHLD &&
      v != SIGSEGV && v != SIGBUS && v != SIGILL && v != SIGFPE && v != SIGTRAP && v != SIGPIPE)
    return int(v);
  throw po::error("--on-signal takes a signal that can be waited for (USR1, TERM, 10...), not '" + text + "'");
}

// A started program: ended (SIGKILL) and reaped by the destructor unless
// waited for.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const sigset_t& mask, int out, int err) {
    int status_pipe[2];
    if (pipe2(status_pipe, O_CLOEXEC) < 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      if ((out >= 0 && dup2(out, 1) < 0) || (err >= 0 && dup2(err, 2) < 0)) _exit(127);
      syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      for (int s = 1; s < NSIG; ++s) sigaction(s, &dfl, nullptr);
      sigprocmask(SIG_SETMASK, &mask, nullptr);
      execvp(args[0], args.data());
      int e = errno;
      ssize_t w = write(status_pipe[1], &e, sizeof e);
      (void)w;
      _exit(127);
    }
    close(status_pipe[1]);
    int e = 0;
    ssize_t n;
    while ((n = read(status_pipe[0], &e, sizeof e)) < 0 && errno == EINTR) {
    }
    close(status_pipe[0]);
    if (n == ssize_t(sizeof e)) {
      wait();
      throw std::runtime_error("cannot run " + format::printable(argv[0]) + ": " + std::strerror(e));
    }
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  pid_t pid() const { return pid_; }
  bool reaped() const { return reaped_; }
  int status() const { return status_; }
  // Reaps the program if it has ended (block: waits for it).
  bool poll_exit(bool block) {
    if (reaped_) return true;
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid_, &st, block ? 0 : WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == pid_) {
      reaped_ = true;
      status_ = st;
    }
    return reaped_;
  }
  void wait() { poll_exit(true); }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// Passes the program's output on and watches it.
class OutputWatch {
 public:
  OutputWatch(int out, int err, const std::string& regex) : re_(regex, std::regex::ECMAScript) {
    streams_[0] = {out, 1, {}};
    streams_[1] = {err, 2, {}};
  }
  // Waits up to `ms` (-1: no limit) for output; true once REGEX matched.
  bool pump(int ms) {
    pollfd p[2];
    Stream* of[2];
    int n = 0;
    for (auto& s : streams_)
      if (s.fd >= 0) {
        of[n] = &s;
        p[n++] = {s.fd, POLLIN, 0};
      }
    if (n == 0) {
      if (ms > 0) poll(nullptr, 0, ms);
      return false;
    }
    if (poll(p, nfds_t(n), ms) <= 0) return false;
    bool matched = false;
    for (int i = 0; i < n; ++i) {
      if (!p[i].revents) continue;
      Stream& s = *of[i];
      char buf[65536];
      ssize_t r = read(s.fd, buf, sizeof buf);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) {
        close(s.fd);
        s.fd = -1;
        continue;
      }
      for (ssize_t off = 0; off < r;) {
        ssize_t w = write(s.to, buf + off, size_t(r - off));
        if (w <= 0) break;  // our own output gone: the program's goes on being read
        off += w;
      }
      matched |= scan(s.line, buf, size_t(r));
    }
    return matched;
  }
  bool open() const { return streams_[0].fd >= 0 || streams_[1].fd >= 0; }

 private:
  struct Stream {
    int fd;
    int to;
    std::string line;  // the line so far
  };
  bool scan(std::string& line, const char* data, size_t n) {
    bool matched = false;
    for (size_t i = 0; i < n; ++i) {
      if (data[i] == '\n') {
        matched |= std::regex_search(line, re_);
        line.clear();
      } else if (line.size() < 65536) {
        line += data[i];
      }
    }
    return matched || (!line.empty() && std::regex_search(line, re_));
  }
  std::regex re_;
  Stream streams_[2];
};

std::string describe_status(int st) {
  if (WIFEXITED(st)) return "exit status " + std::to_string(WEXITSTATUS(st));
  return std::string("signal ") + strsignal(WTERMSIG(st));
}

}  // namespace

int run_and_dump(const std::vector<std::string>& all) {
  std::vector<std::string> args, command;
  auto sep = std::find(all.begin(), all.end(), std::string("--"));
  args.assign(all.begin(), sep);
  if (sep != all.end()) command.assign(sep + 1, all.end());
  if (command.empty()) throw po::error("run -o FILE needs the program after --: ckpt run -o FILE ... -- CMD ARGS...");

  DumpOptions o;
  std::string when_output, signal_name, compress = "zstd:3";
  double after = -1;
  po::options_description opts;
  opts.add_options()("output,o", po::value(&o.output)->required())("when-output", po::value(&when_output))(
      "after", po::value(&after))("on-signal", po::value(&signal_name))("kill", po::bool_switch(&o.kill))(
      "ignore-fds", po::bool_switch(&o.ignore_fds))("compress", po::value(&compress));
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  po::notify(vm);
  const int triggers = int(vm.count("when-output")) + int(vm.count("after")) + int(vm.count("on-signal"));
  if (triggers != 1) throw po::error("run -o FILE takes exactly one of --when-output REGEX, --after SECONDS, --on-signal SIG");
  if (vm.count("after") && (!std::isfinite(after) || after < 0 || after > 1e7))
    throw po::error("--after takes a number of seconds (0 or more)");
  if (compress == "none") {
    o.compression.encoding = format::ChunkEncoding::Raw;
  } else if (compress.rfind("zstd:", 0) == 0) {
    char* end = nullptr;
    long level = std::strtol(compress.c_str() + 5, &end, 10);
    if (*end || level < 1 || level > 19) throw po::error("--compress takes none, zstd or zstd:LEVEL (LEVEL 1-19)");
    o.compression.level = int(level);
  } else if (compress != "zstd") {
    throw po::error("--compress takes none, zstd or zstd:LEVEL (LEVEL 1-19)");
  }
  std::regex check;
  if (vm.count("when-output")) {
    try {
      check = std::regex(when_output, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw po::error("--when-output: '" + when_output + "' is not a regular expression (" + e.what() + ")");
    }
  }
  const int sig = vm.count("on-signal") ? parse_signal(signal_name) : 0;
  ImageFile::check_path(o.output);  // before anything is started

  // The signal waited for is blocked from now on, and unblocked in the program.
  sigset_t old_mask, wait_set;
  sigemptyset(&wait_set);
  if (sig) sigaddset(&wait_set, sig);
  sigprocmask(SIG_BLOCK, &wait_set, &old_mask);
  struct SignalBlock {
    sigset_t old;
    ~SignalBlock() { sigprocmask(SIG_SETMASK, &old, nullptr); }
  } unblock{old_mask};

  int out[2] = {-1, -1}, err[2] = {-1, -1};
  if (vm.count("when-output") && (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0))
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  Child child(command, old_mask, out[1], err[1]);
  if (out[1] >= 0) {
    close(out[1]);
    close(err[1]);
  }
  OutputWatch watch(out[0], err[0], vm.count("when-output") ? when_output : std::string("(?!)"));

  // Wait for the moment, passing output on; the program ending first is a failure.
  std::string moment;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(after < 0 ? 0 : after);
  for (;;) {
    if (vm.count("when-output")) {
      if (watch.pump(100)) {
        moment = "its output matched '" + when_output + "'";
        break;
      }
    } else if (sig) {
      timespec tick{0, 100 * 1000 * 1000};
      if (sigtimedwait(&wait_set, nullptr, &tick) == sig) {
        moment = std::string("ckpt got SIG") + sigabbrev_np(sig);
        break;
      }
    } else {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        char text[64];
        std::snprintf(text, sizeof text, "%g s had passed", after);
        moment = text;
        break;
      }
      poll(nullptr, 0, int(std::min<long>(left.count(), 100)));
    }
    if (child.poll_exit(false)) {
      while (watch.open()) watch.pump(-1);
      throw std::runtime_error(format::printable(command[0]) + " (pid " + std::to_string(child.pid()) +
                               ") ended before the dump, with " + describe_status(child.status()) +
                               "; nothing was written");
    }
  }

  o.pid = child.pid();
  DumpReport r = dump(o);  // on failure, ~Child ends the program
  for (const std::string& w : r.warnings) std::fprintf(stderr, "ckpt: warning: %s\n", format::printable(w).c_str());
  std::fprintf(stderr, "ckpt: dumped pid %d (%s) to %s when %s: %llu pages saved, %llu bytes, %.3f s%s\n", o.pid,
               format::printable(command[0]).c_str(), format::printable(o.output).c_str(), moment.c_str(),
               (unsigned long long)r.pages_saved, (unsigned long long)r.image_bytes, r.seconds,
               o.kill ? ", process killed" : "");
  // The original goes on (or is reaped, after --kill), its output still passed on.
  while (watch.open()) watch.pump(-1);
  child.wait();
  if (o.kill) return 0;
  const int st = child.status();
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace ckpt::dumper
