// The sending side of a migration, one function per phase (see Migrate.h).
#include "dumper/Migrate.h"

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "dumper/MigratePages.h"
#include "dumper/Tracee.h"
#include "format/Handshake.h"
#include "format/Image.h"
#include "format/Printable.h"

namespace ckpt::dumper {

namespace {

// How long the destination may take to answer the hello (it answers at once).
constexpr int kHelloTimeoutMs = 30000;

struct Fd {
  int fd = -1;
  ~Fd() { if (fd >= 0) ::close(fd); }
};

void send_all(int fd, const void* p, size_t n, const std::string& dest) {
  auto c = static_cast<const uint8_t*>(p);
  while (n > 0) {
    ssize_t w = ::send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw DumpError("migrate to " + dest + ": cannot send: " + std::strerror(errno));
    c += w, n -= size_t(w);
  }
}

int connect_to(const std::string& dest) {
  size_t colon = dest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == dest.size())
    throw DumpError("migrate: the destination must be HOST:PORT, not '" + dest + "'");
  std::string host = dest.substr(0, colon), port = dest.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int e = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); e != 0)
    throw DumpError("migrate: cannot resolve " + dest + ": " + gai_strerror(e));
  int last = 0;
  for (addrinfo* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = errno;
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      freeaddrinfo(found);
      return fd;
    }
    last = errno;
    ::close(fd);
  }
  freeaddrinfo(found);
  throw DumpError("migrate: cannot connect to " + dest + ": " + std::strerror(last));
}

// Reads until EOF or `limit` bytes, waiting at most `timeout_ms` per read (-1: forever).
std::string read_reply(int fd, size_t limit, int timeout_ms, const std::string& dest, bool until_eof) {
  std::string got;
  char buf[64];
  while (got.size() < limit) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) throw DumpError("migrate to " + dest + ": no answer from the destination");
    ssize_t n = ::recv(fd, buf, std::min(sizeof buf, limit - got.size()), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF, or the connection reset: what came is what counts
    got.append(buf, size_t(n));
    if (!until_eof && got.back() == '\n') break;
  }
  return got;
}

// When await_destination began waiting and when the answer came, for the
// report's split of the downtime (one migration per ckpt process).
std::chrono::steady_clock::time_point g_await_start, g_await_end;

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Phase 1: the token, the connection, the hello and ACCEPT.
int open_connection(const MigrateOptions& m) {
  std::string token;
  try {
    token = format::load_token(m.token_file);
  } catch (const std::exception& e) {
    throw DumpError(std::string("migrate: ") + e.what());
  }
  Fd conn{connect_to(m.destination)};
  std::string hello(reinterpret_cast<const char*>(format::kHelloMagic.data()), 8);
  uint32_t len = uint32_t(token.size());
  hello.append(reinterpret_cast<const char*>(&len), 4);
  hello += token;
  send_all(conn.fd, hello.data(), hello.size(), m.destination);
  std::string answer = read_reply(conn.fd, 16, kHelloTimeoutMs, m.destination, false);
  if (answer != "ACCEPT\n")
    throw DumpError("migrate: " + m.destination +
                    (answer == "REFUSED\n" ? " refused the token"
                                            : " closed the connection without accepting it (a wrong token, or not a restore --listen)") +
                    "; nothing was dumped");
  int fd = conn.fd;
  conn.fd = -1;
  return fd;
}

// Whether any thread of `pid` has a child: incremental dumps are of one
// process, so a tree moves in one freeze.
bool has_children(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(tasks.c_str());
  if (!d) return false;  // the dump names the problem
  bool any = false;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(tasks + "/" + e->d_name + "/children");
    std::string child;
    if (in >> child) any = true;
  }
  closedir(d);
  return any;
}

// A private folder for the rounds' images (mode 0700), removed with what is
// left in it: in $TMPDIR when set, else in /dev/shm when there is one
// (memory: no disk write and fsync in the way of the next round), else /tmp.
class RoundFolder {
 public:
  RoundFolder() {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = tmp && *tmp ? tmp : access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string templ = base + "/ckpt-migrate-XXXXXX";
    if (!mkdtemp(templ.data()))
      throw DumpError("migrate: cannot create a folder for the pre-copy rounds in " + base + ": " + std::strerror(errno));
    dir_ = templ;
  }
  ~RoundFolder() {
    for (uint32_t k = 0; k <= made_; ++k) ::unlink(path(k).c_str());
    ::rmdir(dir_.c_str());
  }
  RoundFolder(const RoundFolder&) = delete;
  RoundFolder& operator=(const RoundFolder&) = delete;
  std::string path(uint32_t k) {
    made_ = std::max(made_, k);
    return dir_ + "/round-" + std::to_string(k) + ".ckpt";
  }

 private:
  std::string dir_;
  uint32_t made_ = 0;
};

// One round's image, whole, in a round frame; then the destination's NEXT.
void send_round(int conn, const std::string& path, uint32_t k, const std::string& dest) {
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  struct stat st;
  if (file.fd < 0 || fstat(file.fd, &st) != 0)
    throw DumpError("migrate: cannot read back round " + std::to_string(k) + ": " + std::strerror(errno));
  ::unlink(path.c_str());  // sent from the open file: nothing is left behind if ckpt dies now
  const auto header = format::round_header(uint64_t(st.st_size));
  send_all(conn, header.data(), header.size(), dest);
  off_t at = 0;
  while (at < st.st_size) {
    ssize_t n = ::sendfile(conn, file.fd, &at, size_t(std::min<off_t>(st.st_size - at, 1 << 30)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw DumpError("migrate to " + dest + ": cannot send round " + std::to_string(k) + ": " +
                      (n == 0 ? "the file ended early" : std::strerror(errno)) +
                      "; the process goes on running here, untouched");
  }
  // No time limit: the destination checks every page of the round first.
  std::string reply = read_reply(conn, 16, -1, dest, false);
  if (reply != format::kNextReply) {
    std::string said = reply.empty() ? "closed the connection" : "answered '" + reply.substr(0, reply.find('\n')) + "'";
    throw DumpError("migrate: the destination " + said + " after pre-copy round " + std::to_string(k) +
                    " (its own output says why); the process goes on running here, untouched");
  }
}

// Phase 2: the pre-copy rounds, the process running between (and mostly
// during) them. Returns the rounds; `last` is the last round's image.
std::vector<RoundReport> precopy(int conn, const DumpOptions& base, const MigrateOptions& m,
                                 std::shared_ptr<DirtyTracker>& tracker, ParentRef& last, RoundFolder& folder) {
  std::vector<RoundReport> rounds;
  for (uint32_t k = 0; k < m.rounds; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    DumpOptions o = base;
    o.output = folder.path(k);
    o.connection = -1;
    o.kill = false;
    o.snapshot = false;
    o.track = true;
    o.in_process = &tracker;
    o.parent_ref = k ? &last : nullptr;
    o.on_memory_written = nullptr;
    DumpReport r = dump(o);
    send_round(conn, o.output, k, m.destination);
    last = r.as_parent;  // its identity: the file is gone, the destination holds the image
    RoundReport rr{r.pages_saved, r.image_bytes, since(t0), r.frozen_seconds};
    std::fprintf(stderr, "ckpt: migrate round %u: %llu pages, %llu bytes, %.0f ms (frozen %.1f ms)\n", k,
                 (unsigned long long)rr.pages, (unsigned long long)rr.image_bytes, rr.seconds * 1000,
                 rr.frozen_seconds * 1000);
    // The final dump repeats what concerns the process; only what concerns
    // the rounds is said here (not the lines naming the round's own file).
    for (const std::string& w : r.warnings)
      if (k == 0 && w.find(o.output) == std::string::npos)
        std::fprintf(stderr, "ckpt: warning: %s\n", format::printable(w).c_str());
    rounds.push_back(rr);
    const uint64_t bytes = rr.pages * format::kPageSize;
    if (bytes <= m.threshold_bytes) break;                          // small: the final one will be too
    if (k > 0 && rr.pages >= rounds[k - 1].pages) break;            // not shrinking: written as fast as sent
  }
  return rounds;
}

// Phase 3: the final dump, frozen from its seize until the destination's OK,
// then the kill. Incremental on `parent` when there were rounds.
DumpReport final_round(int conn, DumpOptions o, const MigrateOptions& m, std::shared_ptr<DirtyTracker>* tracker,
                       const ParentRef* parent) {
  send_all(conn, format::kFinalMagic.data(), format::kFinalMagic.size(), m.destination);
  // How the dump's messages name the image: a warning's `restore --inherit-fd N IMAGE`
  // becomes `restore --inherit-fd N --listen=PORT`, the destination's command.
  o.output = "--listen=" + m.destination.substr(m.destination.rfind(':') + 1);
  o.connection = conn;
  o.kill = true;
  o.track = false;
  o.snapshot = false;
  o.parent_ref = parent;
  o.in_process = parent ? tracker : nullptr;
  return dump(o);
}

}  // namespace

void await_destination(int fd) {
  g_await_start = std::chrono::steady_clock::now();
  if (::shutdown(fd, SHUT_WR) != 0)
    throw DumpError(std::string("migrate: cannot end the stream: ") + std::strerror(errno));
  // No time limit: the destination validates and stages all memory first.
  std::string reply = read_reply(fd, 64, -1, "the destination", true);
  g_await_end = std::chrono::steady_clock::now();
  if (reply != "OK\n") {
    std::string said = reply.empty() ? "closed the connection" : "answered '" + reply.substr(0, reply.find('\n')) + "'";
    throw DumpError("migrate: the destination " + said +
                    " before its point of no return (its own output says why); the process goes on running here, untouched");
  }
}

MigrateReport migrate(DumpOptions dump_options, const MigrateOptions& m) {
  Fd conn{open_connection(m)};
  MigrateReport report;
  if (m.lazy) {  // post-copy, in one freeze and no rounds: the rest is dumper/MigratePages.h
    LazyMigrationReport lazy = migrate_lazily(dump_options, conn.fd, m.destination);
    if (m.lazy_report) *m.lazy_report = lazy;
    report.final = lazy.dump;
    return report;
  }
  // The rounds' write tracking, held here between dumps: it ends when this
  // returns or throws (the last reference closes the userfaultfd, and the
  // kernel drops its registrations and protections in the process).
  std::shared_ptr<DirtyTracker> tracker;
  ParentRef last;
  uint32_t rounds = m.rounds;
  if (rounds && has_children(dump_options.pid)) {
    rounds = 0;
    report.no_precopy = "pid " + std::to_string(dump_options.pid) + " has children (pre-copy rounds are of one process)";
  }
  if (!report.no_precopy.empty())
    std::fprintf(stderr, "ckpt: migrate: no pre-copy rounds: %s; one full dump in one freeze\n", report.no_precopy.c_str());
  if (rounds) {
    RoundFolder folder;
    MigrateOptions mo = m;
    mo.rounds = rounds;
    report.rounds = precopy(conn.fd, dump_options, mo, tracker, last, folder);
  }
  report.final = final_round(conn.fd, dump_options, m, &tracker, report.rounds.empty() ? nullptr : &last);
  report.await_seconds = std::chrono::duration<double>(g_await_end - g_await_start).count();
  return report;
}

void print_migrate_summary(pid_t pid, const MigrateOptions& m, const MigrateReport& r) {
  for (const std::string& w : r.final.warnings) std::fprintf(stderr, "ckpt: warning: %s\n", format::printable(w).c_str());
  const DumpReport& f = r.final;
  if (r.rounds.empty()) {
    std::fprintf(stderr,
                 "ckpt: migrated pid %d to %s: %llu pages, %llu bytes, frozen %.0f ms until the destination took over "
                 "(%.0f ms of it waiting for its OK); process killed here\n",
                 pid, format::printable(m.destination).c_str(), (unsigned long long)f.pages_saved,
                 (unsigned long long)f.image_bytes, f.frozen_seconds * 1000, r.await_seconds * 1000);
    return;
  }
  uint64_t bytes = 0;
  for (const RoundReport& k : r.rounds) bytes += k.image_bytes;
  std::fprintf(stderr,
               "ckpt: migrate final: %llu pages, %llu bytes (%llu pages left to the rounds); downtime %.0f ms: "
               "frozen %.0f ms reading and sending, then %.0f ms until the destination's OK\n",
               (unsigned long long)f.pages_saved, (unsigned long long)f.image_bytes,
               (unsigned long long)f.pages_from_parent, f.frozen_seconds * 1000,
               (f.frozen_seconds - r.await_seconds) * 1000, r.await_seconds * 1000);
  std::fprintf(stderr,
               "ckpt: migrated pid %d to %s: %zu pre-copy round(s) and the final, %llu bytes in all, "
               "downtime %.0f ms; process killed here\n",
               pid, format::printable(m.destination).c_str(), r.rounds.size(),
               (unsigned long long)(bytes + f.image_bytes), f.frozen_seconds * 1000);
}

}  // namespace ckpt::dumper
