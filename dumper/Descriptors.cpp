// File descriptors and shared memory objects (see Descriptors.h).
#include "dumper/Descriptors.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "dumper/DeletedFiles.h"
#include "dumper/Epoll.h"
#include "dumper/FdInfo.h"
#include "dumper/Fifo.h"
#include "dumper/FileExtents.h"
#include "dumper/FileOwner.h"
#include "dumper/InetSocket.h"
#include "dumper/Inotify.h"
#include "dumper/Locks.h"
#include "dumper/OpenFiles.h"
#include "dumper/Pty.h"
#include "dumper/ScopedFd.h"
#include "dumper/TargetFile.h"
#include "dumper/TcpConnection.h"
#include "dumper/Terminal.h"
#include "dumper/TimerFd.h"
#include "dumper/UnixSocket.h"
#include "dumper/Tracee.h"
#include "format/Limits.h"

namespace ckpt::dumper {

using format::FdEntry;
using format::FdKind;
using format::SharedObject;

namespace {


std::string link_of(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

SharedObject read_object(int fd, uint64_t id, bool memfd, const std::string& name, const std::string& what) {
  struct stat st;
  if (fstat(fd, &st) != 0) throw DumpError("cannot stat " + what);
  SharedObject o;
  o.id = id;
  o.memfd = memfd;
  o.name = name;
  o.size = uint64_t(st.st_size);
  o.mode = st.st_mode & 0777;
  if (memfd) {
    int seals = fcntl(fd, F_GET_SEALS);
    o.seals = seals > 0 ? uint32_t(seals) : 0;
  }
  o.data = read_extents(fd, o.size, what);
  return o;
}

bool is_tty(dev_t rdev) {
  unsigned maj = major(rdev);
  return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143);
}

// A socket none of the socket kinds took: its family says why.
[[noreturn]] void refuse_other_socket(pid_t pid, int fd, const std::string& target) {
  ScopedFd copy(copy_open_file(pid, fd));
  int domain = -1;
  socklen_t len = sizeof domain;
  if (getsockopt(copy.get(), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) domain = -1;
  if (domain == AF_UNIX)  // not in the table read in the tree's network namespace
    refuse_fd(pid, fd, "a unix socket (" + target +
                           ") missing from the socket table of the dumped processes' network namespace "
                           "(created in another one?), which is not carried");
  static const struct {
    int family;
    const char* name;
  } kNames[] = {{AF_AX25, "AF_AX25"},       {AF_IPX, "AF_IPX"},     {AF_APPLETALK, "AF_APPLETALK"},
                {AF_X25, "AF_X25"},         {AF_KEY, "AF_KEY"},     {AF_RDS, "AF_RDS"},
                {AF_IRDA, "AF_IRDA"},       {AF_LLC, "AF_LLC"},     {AF_CAN, "AF_CAN"},
                {AF_TIPC, "AF_TIPC"},       {AF_BLUETOOTH, "AF_BLUETOOTH"}, {AF_RXRPC, "AF_RXRPC"},
                {AF_ISDN, "AF_ISDN"},       {AF_PHONET, "AF_PHONET"}, {AF_IEEE802154, "AF_IEEE802154"},
                {AF_CAIF, "AF_CAIF"},       {AF_ALG, "AF_ALG"},     {AF_NFC, "AF_NFC"},
                {AF_VSOCK, "AF_VSOCK"},     {AF_KCM, "AF_KCM"},     {AF_QIPCRTR, "AF_QIPCRTR"},
                {AF_SMC, "AF_SMC"},         {44, "AF_XDP"},         {45, "AF_MCTP"}};
  std::string name = "family " + std::to_string(domain);
  for (const auto& k : kNames)
    if (k.family == domain) name = std::string(k.name) + " (" + std::to_string(domain) + ")";
  refuse_fd(pid, fd, "a socket of " + name + " (" + target + "), a family ckpt does not carry "
                     "(unix, IPv4, IPv6 and netlink sockets are carried)");
}

}  // namespace

// For a member other than the root: which of the root's fds 0-2 shares
// the open file description of this member's `fd` (the lowest), or -1.
static int root_stdio_of(pid_t pid, pid_t root, int fd) {
  for (int k = 0; k <= 2; ++k)
    if (syscall(SYS_kcmp, pid, root, KCMP_FILE, fd, k) == 0) return k;
  return -1;
}

namespace {

// "/proc/self/REST" when `target` is "/proc/PID/REST", a file of the dumped
// process's own /proc directory on this machine's procfs; "" for any other
// path. Its pid is not kept at restore, so only the process restore becomes
// (the tree's root, whose fds the root launcher opens as itself) can have
// it again, and only under its thread group's directory, not a thread's.
std::string own_proc_path(pid_t pid, int fd, const std::string& target, bool is_root) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/";
  if (target.rfind(dir, 0) != 0 && target + "/" != dir) return "";
  struct stat proc, file;
  if (stat("/proc", &proc) != 0 || stat(target.c_str(), &file) != 0 || file.st_dev != proc.st_dev) return "";
  const std::string rest = target.size() > dir.size() ? target.substr(dir.size()) : "";
  if (!is_root)
    refuse_fd(pid, fd, "it is a file of the process's own /proc directory (" + target +
                           "), which only the tree's root can open again as its own");
  if (rest.rfind("task/", 0) == 0 && rest != "task/")
    refuse_fd(pid, fd, "it is a file of one thread's /proc directory (" + target + "), whose thread id is not kept");
  return rest.empty() ? "/proc/self" : "/proc/self/" + rest;
}

}  // namespace

format::FileTable read_files(pid_t pid, const std::vector<format::Vma>& vmas, std::vector<std::string>* left_out,
                             pid_t root, bool inherit_outside_sockets, TcpConnections* tcp,
                             const PtyEnds* tree_pty_ends, const UserTerminal& terminal,
                             std::optional<format::TerminalInfo>* terminal_record,
                             const UnixSocketSet* tree_sockets) {
  const bool is_root = root == 0 || root == pid;
  format::FileTable table;
  // Whether fd m is on the user's terminal (a pty master, 5:2, never is: it
  // answers TIOCGDEV with its slave's number); the first such fd gives the
  // terminal's record.
  auto on_terminal = [&](int m, const struct stat& st) {
    if (!terminal_record || !S_ISCHR(st.st_mode) || !is_tty(st.st_rdev) || st.st_rdev == makedev(5, 2) ||
        !on_user_terminal(pid, m, terminal))
      return false;
    if (!*terminal_record) *terminal_record = read_terminal(pid, m);
    return true;
  };
  std::map<uint64_t, size_t> object_index;  // id -> index in table.objects

  // Shared memory behind mappings, read through map_files (once per object).
  for (const format::Vma& v : vmas) {
    if (!format::vma_kind_has_object(v.kind) || object_index.count(v.file.ino)) continue;
    char link[96];
    std::snprintf(link, sizeof link, "map_files/%" PRIx64 "-%" PRIx64, v.start, v.end);
    std::string what = "the shared memory at " + std::string(link + 10);
    std::string why;
    ScopedFd fd(open_target_file(proc_path(pid, link), {S_IFREG, 0, ino_t(v.file.ino)}, &why));
    if (fd.get() < 0) throw DumpError("pid " + std::to_string(pid) + ": cannot open " + what + ": " + why);
    bool memfd = format::vma_kind_is_memfd(v.kind);
    std::string name = memfd ? v.file.path.substr(7, v.file.path.size() - 7 - 10) : "";
    object_index[v.file.ino] = table.objects.size();
    table.objects.push_back(read_object(fd.get(), v.file.ino, memfd, name, what));
  }

  std::vector<int> numbers;
  if (DIR* d = opendir(proc_path(pid, "fd").c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') numbers.push_back(std::atoi(e->d_name));
    closedir(d);
  }
  std::sort(numbers.begin(), numbers.end());
  std::map<uint64_t, unsigned> pipe_ends;  // pipe inode -> bit 1 read end seen, bit 2 write end seen
  DeletedFiles deleted(pid);
  for (const format::Vma& v : vmas)
    if (format::vma_kind_is_deleted(v.kind)) deleted.add_mapping(v);
  deleted.add_cwd();

  // Every fd grouped by open file description, 0-2 included: epoll may
  // watch them, and an fd above 2 may share one of theirs.
  std::vector<FdIdentity> ids;
  std::vector<HeldFile> held;
  for (int n : numbers) {
    struct stat st;
    if (stat(proc_path(pid, "fd/" + std::to_string(n)).c_str(), &st) != 0) {
      if (n <= 2) continue;
      refuse_fd(pid, n, "cannot stat it (" + link_of(proc_path(pid, "fd/" + std::to_string(n))) + ")");
    }
    held.push_back({n, uint64_t(st.st_ino), n});
    ids.push_back({n, uint64_t(st.st_dev), uint64_t(st.st_ino)});
  }
  // Sockets resolve their peers against every socket the dumped set holds
  // (the caller's: the whole tree's).
  UnixSocketSet own_sockets;
  if (!tree_sockets) {
    std::set<uint64_t> socket_inodes;
    for (const FdIdentity& i : ids)
      if (i.fd > 2 && link_of(proc_path(pid, "fd/" + std::to_string(i.fd))).rfind("socket:", 0) == 0)
        socket_inodes.insert(i.ino);  // (0-2 are restore's own: a peer there is outside)
    if (!socket_inodes.empty()) own_sockets = read_unix_socket_set(pid, socket_inodes);
  }
  const UnixSocketSet& sockets = tree_sockets ? *tree_sockets : own_sockets;
  std::vector<std::vector<int>> groups = group_open_files(pid, std::move(ids));
  PtyEnds own_ends;  // Pty.h: which ptys have both ends in the dump (the caller's: in the whole tree)
  if (!tree_pty_ends) find_pty_ends(pid, !is_root, own_ends);
  const PtyEnds& pty_ends = tree_pty_ends ? *tree_pty_ends : own_ends;
  std::map<int, int> description_of;  // fd -> lowest fd of its description
  for (const auto& g : groups)
    for (int n : g) description_of[n] = g.front();
  for (HeldFile& h : held) h.file = description_of.at(h.fd);

  std::set<int> skipped;  // --ignore-fds: open files (by lowest fd) refused and left out
  for (const auto& group : groups) {
    const int n = group.front();
    const int of = is_root ? -1 : root_stdio_of(pid, root, n);
    if (struct stat st; (of >= 0 || (is_root && n <= 2)) && stat(proc_path(pid, "fd/" + std::to_string(n)).c_str(), &st) == 0)
      on_terminal(n, st);  // restore's own stdio: only the terminal's record is read through it
    if (of >= 0) {
      // Restore's own fd `of` stands for the root's, and so for this too.
      for (int m : group) {
        uint32_t flags = uint32_t(std::stoul(fdinfo_field(read_fdinfo(pid, m), "flags"), nullptr, 8));
        table.stdio_dups.push_back({m, (flags & O_CLOEXEC) ? 1u : 0u, of});
      }
      continue;
    }
    if (is_root && n <= 2) {
      // The shell-job convention: fds 0-2 are restore's own stdio, so the
      // fds above 2 that share one of theirs become dups of restore's.
      // Locks held through them could not come back: refused.
      std::vector<format::FileLock> locks = read_locks(pid, n, read_fdinfo(pid, n));
      struct stat st;
      if (stat(proc_path(pid, "fd/" + std::to_string(n)).c_str(), &st) == 0)
        refuse_pty_stdio(pid, n, st, read_fdinfo(pid, n), pty_ends);
      if (!locks.empty())
        refuse_fd(pid, n, "it holds a " + std::string(format::lock_kind_name(locks[0].kind)) +
                              ", but fds 0-2 are restore's own, so it could not be held again");
      for (int m : group) {
        if (m <= 2) continue;
        uint32_t flags = uint32_t(std::stoul(fdinfo_field(read_fdinfo(pid, m), "flags"), nullptr, 8));
        table.stdio_dups.push_back({m, (flags & O_CLOEXEC) ? 1u : 0u, n});
      }
      continue;
    }
    try {  // (body not indented, to keep it easy to merge: ends at the FdRefused catch)
    const std::string path = proc_path(pid, "fd/" + std::to_string(n));
    std::string target = link_of(path);
    struct stat st;
    if (stat(path.c_str(), &st) != 0) refuse_fd(pid, n, "cannot stat it (" + target + ")");
    auto info = read_fdinfo(pid, n);
    FdEntry f;
    f.fd = n;
    uint32_t raw_flags = uint32_t(std::stoul(fdinfo_field(info, "flags"), nullptr, 8));
    f.cloexec = (raw_flags & O_CLOEXEC) ? 1 : 0;
    f.flags = raw_flags & ~uint32_t(O_CLOEXEC);
    f.pos = std::stoll(fdinfo_field(info, "pos"));
    // An O_PATH descriptor only names a file (no I/O, no offset, no lock,
    // no owner): carried for a file, directory or device that is reopened
    // by its path, the kinds below; refused for anything else.
    if (raw_flags & O_PATH) {
      std::string name;
      const bool by_path = (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || (S_ISCHR(st.st_mode) && !is_tty(st.st_rdev))) &&
                           !target.empty() && target[0] == '/' && !strip_deleted(target, &name) &&
                           target.rfind("/memfd:", 0) != 0 && own_proc_path(pid, n, target, is_root).empty();
      if (!by_path)
        refuse_fd(pid, n, "O_PATH descriptors are carried only for files, directories and devices that still have "
                          "their path (" + target + ")");
      f.pos = 0;
    }
    for (size_t i = 1; i < group.size(); ++i) {
      uint32_t dup_flags = uint32_t(std::stoul(fdinfo_field(read_fdinfo(pid, group[i]), "flags"), nullptr, 8));
      f.dups.push_back({group[i], (dup_flags & O_CLOEXEC) ? 1u : 0u});
    }
    f.locks = read_locks(pid, n, info);
    f.file.path = target;
    read_file_owner(pid, f);

    uint64_t connection = 0;
    if (target.rfind("socket:", 0) == 0) {
      if (is_unix_socket(sockets, st.st_ino)) {
        f.kind = FdKind::UnixSocket;  // UnixSocket.h
        f.object = st.st_ino;
        bool outside = false;  // --inherit-outside-sockets: no record, restore's --inherit-fd stands in
        for (format::UnixSocket& s :
             read_unix_socket(pid, n, st.st_ino, sockets, inherit_outside_sockets && is_root ? &outside : nullptr))
          table.unix_sockets.push_back(std::move(s));
        f.external = outside;
      } else if (tcp && tcp->read(pid, n, st.st_ino, &connection)) {  // TcpConnection.h: any state but LISTEN and CLOSE
        f.kind = FdKind::TcpConnection;
        f.object = connection;
      } else if (!read_inet_socket(pid, n, f, table.inet_sockets)) {  // InetSocket.h
        refuse_other_socket(pid, n, target);
      }
    } else if (classify_pty_end(pid, n, st, info, pty_ends, f)) {
      // both ends of a pty in the dump: Pty.h (its settings and queues: read_ptys)
    } else if (on_terminal(n, st)) {
      f.kind = FdKind::Terminal;  // reopened on restore's terminal (Terminal.h)
      f.rdev = st.st_rdev;
    } else if (target == "anon_inode:[eventfd]") {
      f.kind = FdKind::EventFd;
      f.count = std::stoull(fdinfo_field(info, "eventfd-count"), nullptr, 16);
      if (fdinfo_field(info, "eventfd-semaphore") == "1") f.flags |= 1;  // EFD_SEMAPHORE
    } else if (target == "anon_inode:[eventpoll]") {
      f.kind = FdKind::Epoll;
      f.targets = read_epoll_targets(pid, n, info, held);
    } else if (target == "anon_inode:[signalfd]") {
      f.kind = FdKind::SignalFd;
      f.sigmask = std::stoull(fdinfo_field(info, "sigmask"), nullptr, 16);
    } else if (target == "anon_inode:[timerfd]") {
      f.kind = FdKind::TimerFd;
      read_timerfd(pid, f);
    } else if (target == "anon_inode:inotify") {
      f.kind = FdKind::Inotify;
      read_inotify(pid, n, f);  // Inotify.h
    } else if (target.rfind("anon_inode:", 0) == 0) {
      refuse_fd(pid, n, target.substr(11) + " descriptors are not supported yet");
    } else if (S_ISFIFO(st.st_mode)) {
      f.object = st.st_ino;
      f.kind = target.rfind("pipe:", 0) == 0 ? FdKind::Pipe : FdKind::Fifo;
      // An unlinked FIFO: its DeletedFile (same id as the pipe inode) recreates it.
      if (std::string name; f.kind == FdKind::Fifo && strip_deleted(target, &name)) {
        f.file.path = name;
        deleted.add_fd(n, target, f.flags & O_ACCMODE);
      }
      std::string why;
      ScopedFd probe(open_target_file(path, {S_IFIFO, st.st_dev, st.st_ino}, &why));
      int size = probe.get() >= 0 ? fcntl(probe.get(), F_GETPIPE_SZ) : -1;
      f.pipe_size = size > 0 ? uint32_t(size) : 65536;
      pipe_ends[st.st_ino] |= (f.flags & O_ACCMODE) == O_RDONLY ? 1u : (f.flags & O_ACCMODE) == O_WRONLY ? 2u : 3u;
    } else if (target.rfind("/memfd:", 0) == 0 && ends_with(target, " (deleted)")) {
      f.kind = FdKind::Memfd;
      f.object = st.st_ino;
      if (!object_index.count(st.st_ino)) {
        std::string why;
        ScopedFd fd(open_target_file(path, {S_IFREG, st.st_dev, st.st_ino}, &why));
        if (fd.get() < 0) refuse_fd(pid, n, "cannot open the memfd to read it: " + why);
        object_index[st.st_ino] = table.objects.size();
        table.objects.push_back(read_object(fd.get(), st.st_ino, true, target.substr(7, target.size() - 17),
                                            "the memfd at fd " + std::to_string(n)));
      }
    } else if (std::string name; !S_ISFIFO(st.st_mode) && !(S_ISCHR(st.st_mode) && is_tty(st.st_rdev)) &&
                                 strip_deleted(target, &name)) {
      f.kind = FdKind::DeletedFile;  // one object per inode (DeletedFiles.h)
      f.file.path = name;
      f.object = deleted.add_fd(n, target, f.flags & O_ACCMODE);
    } else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      f.kind = S_ISREG(st.st_mode) ? FdKind::RegularFile : FdKind::Directory;
      if (target.empty() || target[0] != '/') refuse_fd(pid, n, "it has no path (" + target + ")");
      f.file.dev = st.st_dev;
      f.file.ino = st.st_ino;
      if (std::string own = own_proc_path(pid, n, target, is_root); !own.empty()) {
        // A file of the process's own /proc directory (redis reading its
        // /proc/PID/stat, a closefrom walking /proc/self/fd): reopened as
        // the restored process's own, whatever its pid; generated content
        // has no size or time to compare.
        f.file.path = own;
      } else {
        // Restore reopens it by this path, shown as in the target's mount
        // namespace: it must name this very file here too (stat opens nothing).
        struct stat named;
        if (stat(target.c_str(), &named) != 0)
          refuse_fd(pid, n, "its path " + target + " cannot be reached here: " + std::strerror(errno));
        if (named.st_dev != st.st_dev || named.st_ino != st.st_ino)
          refuse_fd(pid, n, "its path " + target + " names another file here (the target's mount namespace differs, or the file was replaced)");
        f.file.size = uint64_t(st.st_size);
        f.file.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      }
    } else if (S_ISCHR(st.st_mode)) {
      if (is_tty(st.st_rdev))
        refuse_fd(pid, n, "terminals other than the process's controlling terminal are not supported yet (" + target + ")");
      f.kind = FdKind::CharDevice;
      f.rdev = st.st_rdev;
    } else {
      refuse_fd(pid, n, "unsupported kind of file (" + target + ")");
    }
    table.fds.push_back(std::move(f));
    } catch (const FdRefused& r) {
      if (!left_out) throw;
      // The whole open file description goes: every fd number of it.
      for (int m : group)
        left_out->push_back("left out fd " + std::to_string(m) + " (--ignore-fds): " +
                            (m == r.fd ? "" : "it shares fd " + std::to_string(r.fd) + "'s open file, and ") + r.why);
      skipped.insert(n);
    }
  }
  std::sort(table.unix_sockets.begin(), table.unix_sockets.end(),
            [](const format::UnixSocket& a, const format::UnixSocket& b) { return a.ino < b.ino; });
  if (left_out && !tree_sockets) {  // sockets leaning on a left-out one go too (a tree's: share_unix_sockets)
    std::map<uint64_t, std::string> gone = drop_orphaned_unix_sockets(table.unix_sockets);
    std::erase_if(table.fds, [&](const FdEntry& f) {
      auto it = f.kind == FdKind::UnixSocket ? gone.find(f.object) : gone.end();
      if (it == gone.end()) return false;
      left_out->push_back("left out fd " + std::to_string(f.fd) + " (--ignore-fds): unix socket: " + it->second);
      for (const format::FdNumber& d : f.dups)
        left_out->push_back("left out fd " + std::to_string(d.fd) + " (--ignore-fds): it shares fd " +
                            std::to_string(f.fd) + "'s open file, and unix socket: " + it->second);
      skipped.insert(f.fd);
      return true;
    });
  }
  // Epoll entries of a left-out file go too, as when a file is closed for good.
  for (FdEntry& f : table.fds) {
    auto gone = [&](const format::EpollTarget& t) { return skipped.count(t.file) > 0; };
    for (const format::EpollTarget& t : f.targets)
      if (gone(t))
        left_out->push_back("epoll fd " + std::to_string(f.fd) + " no longer watches left-out fd " +
                            std::to_string(t.fd));
    std::erase_if(f.targets, gone);
  }

  std::sort(table.stdio_dups.begin(), table.stdio_dups.end(),
            [](const format::StdioDup& a, const format::StdioDup& b) { return a.fd < b.fd; });
  std::sort(table.inet_sockets.begin(), table.inet_sockets.end(),
            [](const format::InetSocket& a, const format::InetSocket& b) { return a.id < b.id; });

  // A pipe is recreated whole when both ends are inside; an end whose
  // partner is outside needs --inherit-fd at restore. Unread data belongs
  // with the read end.
  for (FdEntry& f : table.fds) {
    if (f.kind != FdKind::Pipe && f.kind != FdKind::Fifo) continue;
    f.external = pipe_ends[f.object] != 3;
    if (f.kind == FdKind::Fifo) continue;  // Fifo.h
    auto reads = [](const FdEntry& e) { return (e.flags & O_ACCMODE) != O_WRONLY; };
    if (!f.external && reads(f)) {
      bool first = true;
      for (const FdEntry& g : table.fds)
        if (&g != &f && g.object == f.object && reads(g) && g.fd < f.fd) first = false;
      if (first) f.contents = peek_pipe(pid, f.fd, f.object, f.pipe_size);
    }
  }
  save_fifo_contents(pid, table.fds);
  table.deleted = deleted.take();
  return table;
}

}  // namespace ckpt::dumper
