// image_edit IN OUT FIELD=VALUE...: rewrites a valid image with some fields
// changed and every checksum recomputed, so that tests can feed `restore`
// images that are well-formed but say something this machine must refuse
// (another kernel's vdso, CPU features it lacks, another owner...), or that
// a hostile author crafted (tests/e2e/check_hostile_images.sh, issue 16).
// Fields: pid (the process's and its first thread's), tid1 (the second
// thread's id), vdso_hash, uid, gid, xfeatures, xfeatures_or (bits added to the
// saved ones), xsave_size, cwd, syscall_gadget;
// file_path=PATH (the first file VMA maps PATH instead, with PATH's size and
// mtime, so only the file itself differs); saved_file_path=PATH (the same
// for the first file VMA that has saved pages); exe=PATH (the saved
// executable); cached_tid_readonly=1 (glibc's cached tid said to be in the
// first read-only area); add_anon=START:SIZE (a PROT_NONE reservation, no pages);
// add_saved=START:SIZE (read-write anonymous memory, every page saved, as
// zeros); compress=zstd (write zstd chunks, not raw); epoll_file=FD (every
// epoll entry watches the open file of fd FD instead); epoll_twice=1 (the
// first epoll entry appears twice); dup_fd=N (the first open file also has
// fd N); lock=write|read (the first regular file gets a POSIX lock of that
// type on bytes 0-9); opath=file|eventfd (that fd's flags become O_PATH
// alone; the file's offset 4096).
// Descriptors: add_pipe=FD1,FD2:BYTES (two read ends of one new pipe of
// BYTES bytes, each carrying BYTES bytes of unread data); add_fifo=FD:PATH:BYTES
// (the read end of a FIFO, BYTES of unread data); add_deleted=FD:PATH:BYTES
// (a deleted file of BYTES bytes); add_file_fd=FD:PATH (a regular file,
// read-only); add_eventfd=FD; add_epoll=FD:T1,T2... (watching those fds);
// add_pending_rt=N (N real-time signals queued for the process, SI_QUEUE);
// add_socket=FD (a bound UDP socket with an option, a queued datagram and a
// multicast group).
// Page data: corrupt_chunk=1 (one byte of the first chunk's stored bytes
// flipped, its checksum left: refused only while staging); corrupt_zstd=1
// (the same in the first zstd chunk, halfway through); share_chunks=1
// (every zstd chunk of the first one's size points at its stored bytes).
// Size: bulk=N (N anonymous shared objects and their mappings, N mappings
// of the first mapped file, N eventfds and an epoll fd watching them all:
// an image whose validation is slow if any check is quadratic); bulk_maps=N
// (the same without the fds, which restore --check would need room for).
// Sockets: sock_pick=listen|udp|netlink|multicast (the sock_ fields after it change
// the first socket of that kind; else the first socket), sock_state=N,
// sock_family=N, sock_backlog=N, sock_addr=A.B.C.D (an IPv4 socket's
// address), sock_option=LEVEL (an unknown option at that level),
// sock_datagram=BYTES (a queued datagram from its own address),
// sock_mcast_if=N (its first multicast group's interface index),
// sock_unnamed=1 (one more socket record that no fd names).
// Task: timer_clock=N (the first POSIX timer's clock), oom_score_adj=N.
// Scheduling: sched_policy=N, sched_priority=N, sched_nice=N, sched_ioprio=N,
// affinity_cpu=N (only CPU N), no_scheduling=1 (the section left out).
// Credentials: cap_bnd=N (the bounding set), groups_add=N (one more
// supplementary group), seccomp_filters=N (mode 2 with N filters), suid=N,
// no_credentials=1 (the section left out).
// Seccomp (carried filters): seccomp_jump=N (the first filter begins with a
// jump N instructions ahead), seccomp_extra=1 (filter 0 once more, beyond
// the credentials' count), seccomp_add=N (N carried filters of every
// instruction kind, mode 2: a fuzzing seed).
// Unix sockets: unix=I:FIELD:VALUE changes record I (in ino order) of the
// unix_sockets section: type, state, peer, listener, shutdown, backlog,
// passcred, peek_off, unlinked, mode, rcvtimeo, sndbuf, file_ino (numbers), name and sender
// (the first message's; text, a leading @ for an abstract name), ino_of=J
// (record J's inode: a duplicate), queue_add=N (an inode appended to a
// listener's queue), drop=1 (the record removed), messages=N (N one-byte
// messages), data=N (the first message made N bytes long).
// TCP (the first connection of the tcp section): tcp_state=N, tcp_wscale=N
// (both scales), tcp_unsent=N, tcp_mss=N, tcp_maxseg_option=1 (TCP_MAXSEG
// among its ordinary options),
// tcp_orphan=1 (its fds become eventfds: a connection no fd holds).
// Ptys (the first record): pty=line:N, pty=session:N (and foreground),
// pty=window:N (rows), pty=end:N (the first input line's end), pty=input:N
// (N more bytes of input), pty=cc:N (N control characters), pty=packet:N;
// pty=no_master:1 (its master fd becomes a slave fd), pty=object:N (its
// first fd names pty N instead).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cstddef>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "format/Checksum.h"
#include "format/Layout.h"
#include "format/Sections.h"

#include "format/ImageReader.h"
#include "format/ImageWriter.h"
#include "format/Limits.h"

using namespace ckpt::format;

// START:SIZE, both in any base stoull accepts.
static Vma parse_area(const std::string& value, uint32_t prot) {
  size_t colon = value.find(':');
  if (colon == std::string::npos) throw std::runtime_error("expected START:SIZE, got " + value);
  Vma v;
  v.start = std::stoull(value.substr(0, colon), nullptr, 0);
  v.end = v.start + std::stoull(value.substr(colon + 1), nullptr, 0);
  v.prot = prot;
  return v;
}


static std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t next; (next = s.find(sep, at)) != std::string::npos; at = next + 1) out.push_back(s.substr(at, next - at));
  out.push_back(s.substr(at));
  return out;
}

static FileId file_id(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + path);
  FileId f;
  f.path = path;
  f.dev = st.st_dev;
  f.ino = st.st_ino;
  f.size = uint64_t(st.st_size);
  f.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return f;
}

static void add_fd(Image& img, FdEntry f) {
  auto at = std::lower_bound(img.files.fds.begin(), img.files.fds.end(), f.fd,
                             [](const FdEntry& e, int32_t n) { return e.fd < n; });
  img.files.fds.insert(at, std::move(f));
}

static void pread_all(int fd, void* p, size_t n, uint64_t at) {
  if (::pread(fd, p, n, off_t(at)) != ssize_t(n)) throw std::runtime_error("cannot read back the image");
}
static void pwrite_all(int fd, const void* p, size_t n, uint64_t at) {
  if (::pwrite(fd, p, n, off_t(at)) != ssize_t(n)) throw std::runtime_error("cannot patch the image");
}

// Rewrites the page index of a finished image with `edit` applied, and the
// checksums that cover it (section header, trailer entry, trailer).
template <class Edit>
static void patch_page_index(int fd, Edit edit) {
  FileHeader h;
  pread_all(fd, &h, sizeof h, 0);
  TrailerHeader th;
  pread_all(fd, &th, sizeof th, h.trailer_offset);
  std::vector<TrailerEntry> entries(th.count);
  pread_all(fd, entries.data(), entries.size() * sizeof(TrailerEntry), h.trailer_offset + sizeof th);
  for (TrailerEntry& e : entries) {
    if (e.type != uint32_t(SectionType::PageIndex)) continue;
    std::vector<uint8_t> payload(e.length);
    pread_all(fd, payload.data(), payload.size(), e.offset + sizeof(SectionHeader));
    std::vector<PageChunk> chunks = decode_page_index(payload.data(), payload.size(), 0);
    edit(chunks);
    payload = encode_page_index(chunks);
    if (payload.size() != e.length) throw std::runtime_error("the page index changed size");
    e.checksum = checksum(payload.data(), payload.size());
    pwrite_all(fd, payload.data(), payload.size(), e.offset + sizeof(SectionHeader));
    pwrite_all(fd, &e.checksum, 8, e.offset + offsetof(SectionHeader, checksum));
  }
  pwrite_all(fd, entries.data(), entries.size() * sizeof(TrailerEntry), h.trailer_offset + sizeof th);
  StreamingChecksum sum;
  sum.update(&th, sizeof th);
  sum.update(entries.data(), entries.size() * sizeof(TrailerEntry));
  uint64_t digest = sum.digest();
  pwrite_all(fd, &digest, 8, h.file_size - 8);
}

// N of each record a quadratic check would compare pairwise (see the top).
static void add_bulk(Image& img, uint32_t n, bool with_fds) {
  const Vma* file_vma = nullptr;
  for (const Vma& v : img.vmas)
    if (v.kind == VmaKind::FilePrivate) file_vma = &v;
  if (!file_vma) throw std::runtime_error("the image maps no file privately");
  const Vma mapped = *file_vma;
  uint64_t at = 0x500000000000ull;
  for (uint32_t i = 0; i < n; ++i) {
    SharedObject o;
    o.id = 0x7e0000000000ull + i;
    o.size = kPageSize;
    img.files.objects.push_back(o);
    Vma shm;
    shm.start = at, shm.end = at + kPageSize, shm.prot = PROT_READ, shm.kind = VmaKind::AnonShared;
    shm.file.ino = o.id;
    Vma file = mapped;
    file.start = at + 2 * kPageSize, file.end = at + 3 * kPageSize;
    img.vmas.push_back(shm);
    img.vmas.push_back(file);
    at += 4 * kPageSize;
  }
  std::sort(img.vmas.begin(), img.vmas.end(), [](const Vma& a, const Vma& b) { return a.start < b.start; });
  if (!with_fds) return;
  int32_t first = img.files.fds.empty() ? 3 : img.files.fds.back().fd + 1;
  FdEntry ep;
  ep.fd = first + int32_t(n), ep.kind = FdKind::Epoll, ep.flags = O_RDWR;
  for (uint32_t i = 0; i < n; ++i) {
    FdEntry e;
    e.fd = first + int32_t(i), e.kind = FdKind::EventFd, e.flags = O_RDWR;
    img.files.fds.push_back(e);
    ep.targets.push_back({e.fd, 1 /* EPOLLIN */, i, e.fd});
  }
  img.files.fds.push_back(ep);
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: image_edit IN OUT FIELD=VALUE...\n");
    return 2;
  }
  try {
    int in = ::open(argv[1], O_RDONLY);
    if (in < 0) throw std::runtime_error(std::string("cannot open ") + argv[1]);
    ImageReader reader(in);
    Image img = reader.image();
    Compression out_compression{ChunkEncoding::Raw, 0};
    std::vector<Vma> saved_areas;  // add_saved: pages written as zeros
    bool corrupt_chunk = false, corrupt_zstd = false, share_chunks = false;
    std::string sock_pick;  // which socket the sock_ fields change: the first one, or the first "listen", "udp", "netlink"
    for (int i = 3; i < argc; ++i) {
      std::string arg = argv[i];
      size_t eq = arg.find('=');
      if (eq == std::string::npos) throw std::runtime_error("expected FIELD=VALUE, got " + arg);
      std::string field = arg.substr(0, eq), value = arg.substr(eq + 1);
      bool text = field == "sock_pick" || field == "sock_addr" || field == "cwd" || field == "file_path" ||
                  field == "saved_file_path" || field == "exe" || field == "compress" || field == "lock" || field == "opath" ||
                  field.rfind("add_", 0) == 0 || field == "unix" || field == "pty";
      auto first_epoll = [&]() -> FdEntry& {
        for (FdEntry& f : img.files.fds)
          if (f.kind == FdKind::Epoll && !f.targets.empty()) return f;
        throw std::runtime_error("the image has no epoll entry");
      };
      uint64_t n = text ? 0 : std::stoull(value, nullptr, 0);
      if (field == "unix") {
        std::vector<std::string> parts = split(value, ':');
        if (parts.size() < 3) throw std::runtime_error("expected unix=I:FIELD:VALUE");
        auto& socks = img.files.unix_sockets;
        UnixSocket& u = socks.at(std::stoul(parts[0]));
        const std::string& what = parts[1];
        std::string text = value.substr(parts[0].size() + parts[1].size() + 2);
        auto name = [&] { return text[0] == '@' ? std::string(1, '\0') + text.substr(1) : text; };
        uint64_t v = (what == "name" || what == "sender") ? 0 : std::stoull(text, nullptr, 0);
        if (what == "type") u.type = uint32_t(v);
        else if (what == "state") u.state = uint32_t(v);
        else if (what == "peer") u.peer = v;
        else if (what == "listener") u.listener = v;
        else if (what == "shutdown") u.shutdown = uint32_t(v);
        else if (what == "backlog") u.backlog = uint32_t(v);
        else if (what == "passcred") u.passcred = uint32_t(v);
        else if (what == "peek_off") u.peek_off = int32_t(int64_t(v));
        else if (what == "unlinked") u.unlinked = uint32_t(v);
        else if (what == "mode") u.file_mode = uint32_t(v);
        else if (what == "rcvtimeo") u.rcvtimeo_us = int64_t(v);
        else if (what == "sndbuf") u.sndbuf = uint32_t(v);
        else if (what == "file_ino") u.file_ino = v;
        else if (what == "name") u.name = name();
        else if (what == "sender") u.messages.at(0).sender = name();
        else if (what == "ino_of") u.ino = socks.at(v).ino;
        else if (what == "queue_add") u.queue.push_back(v);
        else if (what == "messages") u.messages.assign(v, UnixMessage{{'x'}, {}});
        else if (what == "data") u.messages.at(0).data.assign(v, 'y');
        else if (what == "drop") socks.erase(socks.begin() + long(&u - socks.data()));
        else throw std::runtime_error("unknown unix field " + what);
      } else if (field == "vdso_hash") img.mm.vdso_hash = n;
      else if (field == "pid") img.process.pid = img.threads.at(0).tid = int32_t(n);
      else if (field == "tid1") img.threads.at(1).tid = int32_t(n);
      else if (field == "uid") img.process.uid = img.process.euid = uint32_t(n);
      else if (field == "gid") img.process.gid = img.process.egid = uint32_t(n);
      else if (field == "xfeatures") img.threads.at(0).xfeatures = n;
      else if (field == "xfeatures_or") img.threads.at(0).xfeatures |= n;
      else if (field == "xsave_size") img.threads.at(0).xsave.resize(n);
      else if (field == "cwd") img.task.cwd = value;
      else if (field == "timer_clock" && !img.task.timers.empty()) img.task.timers[0].clock = int32_t(n);
      else if (field == "oom_score_adj") img.task.oom_score_adj = int32_t(int64_t(n));
      else if (field == "sched_policy") img.scheduling.value().policy = uint32_t(n);
      else if (field == "sched_priority") img.scheduling.value().rt_priority = uint32_t(n);
      else if (field == "sched_nice") img.scheduling.value().nice = int32_t(int64_t(n));
      else if (field == "sched_ioprio") img.scheduling.value().ioprio = uint32_t(n);
      else if (field == "affinity_cpu") {
        img.scheduling.value().affinity.assign(n / 64 + 1, 0);
        img.scheduling.value().affinity[n / 64] = uint64_t(1) << (n % 64);
      } else if (field == "no_scheduling") img.scheduling.reset();
      else if (field == "cap_bnd") img.credentials.value().cap_bounding = n;
      else if (field == "groups_add") {
        auto& g = img.credentials.value().groups;
        g.push_back(uint32_t(n));
        std::sort(g.begin(), g.end());
      } else if (field == "seccomp_filters") img.credentials.value().seccomp_mode = 2, img.credentials.value().seccomp_filters = uint32_t(n);
      else if (field == "suid") img.process.suid = uint32_t(n);
      else if (field == "no_credentials") img.credentials.reset();
      else if (field == "seccomp_jump") img.seccomp.at(0).program.at(0) = {0x05 /* BPF_JMP | BPF_JA */, 0, 0, uint32_t(n)};
      else if (field == "seccomp_extra") img.seccomp.push_back(img.seccomp.at(0));
      else if (field == "seccomp_add") {  // N carried filters of every instruction kind (a fuzzing seed)
        img.seccomp.clear();
        for (uint64_t i = 0; i < n; ++i)
          img.seccomp.push_back({i ? 0u : 2u /* LOG */,
                                 {{0x20, 0, 0, 0},                       // ld [nr]
                                  {0x15, 0, 2, 39},                      // jeq getpid
                                  {0x20, 0, 0, 16},                      // ld [args[0]]
                                  {0x06, 0, 0, 0x00050001},              // ret ERRNO(1)
                                  {0x20, 0, 0, 24},                      // ld [args[1]]
                                  {0x02, 0, 0, 3},                       // st M[3]
                                  {0x61, 0, 0, 3},                       // ldx M[3]
                                  {0x0c, 0, 0, 0},                       // add x
                                  {0x54, 0, 0, 0xff},                    // and #0xff
                                  {0x45, 1, 0, 0x80},                    // jset #0x80
                                  {0x06, 0, 0, 0x7fff0000},              // ret ALLOW
                                  {0x06, 0, 0, 0x7ffc0000}}});           // ret LOG
        img.credentials.value().seccomp_mode = 2;
        img.credentials.value().seccomp_filters = uint32_t(n);
      }
      else if (field.rfind("tcp_", 0) == 0) {
        if (img.tcp.empty()) throw std::runtime_error("the image has no TCP connection");
        TcpConnection& c = img.tcp[0];
        if (field == "tcp_state") c.state = uint32_t(n);
        else if (field == "tcp_wscale") c.snd_wscale = c.rcv_wscale = uint32_t(n);
        else if (field == "tcp_unsent") c.unsent = uint32_t(n);
        else if (field == "tcp_mss") c.mss = uint32_t(n);
        else if (field == "tcp_maxseg_option") c.options.push_back({6 /* IPPROTO_TCP */, 2 /* TCP_MAXSEG */, {0, 2, 0, 0}});
        else if (field == "tcp_orphan") {
          for (FdEntry& f : img.files.fds)
            if (f.kind == FdKind::TcpConnection && f.object == c.id) f.kind = FdKind::EventFd, f.object = 0;
        } else throw std::runtime_error("unknown field " + field);
      }
      else if (field == "syscall_gadget") img.mm.syscall_gadget = n;
      else if (field == "sock_pick") sock_pick = value;
      else if (field.rfind("sock_", 0) == 0) {
        auto picked = [&](const InetSocket& k) {
          return sock_pick.empty() || (sock_pick == "listen" && k.state == SocketState::Listening) ||
                 (sock_pick == "udp" && k.protocol == IPPROTO_UDP) ||
                 (sock_pick == "multicast" && !k.multicast.empty()) || (sock_pick == "netlink" && k.family == AF_NETLINK);
        };
        auto it = std::find_if(img.files.inet_sockets.begin(), img.files.inet_sockets.end(), picked);
        if (it == img.files.inet_sockets.end()) throw std::runtime_error("the image has no such inet socket");
        InetSocket& s = *it;
        if (field == "sock_state") s.state = SocketState(n);
        else if (field == "sock_family") s.family = uint32_t(n);
        else if (field == "sock_backlog") s.backlog = int32_t(int64_t(n));
        else if (field == "sock_option") s.options.push_back({uint32_t(n), 9999, {1, 0, 0, 0}});
        else if (field == "sock_datagram") s.queue.push_back({s.local, std::vector<uint8_t>(n, 'x')});
        else if (field == "sock_mcast_if" && !s.multicast.empty()) s.multicast[0].ifindex = uint32_t(n);
        else if (field == "sock_mcast_if") throw std::runtime_error("the socket is in no multicast group");
        else if (field == "sock_addr" && s.local.size() == sizeof(sockaddr_in))
          inet_pton(AF_INET, value.c_str(), s.local.data() + offsetof(sockaddr_in, sin_addr));
        else if (field == "sock_unnamed") {
          InetSocket copy = img.files.inet_sockets.back();
          copy.id += 1;
          img.files.inet_sockets.push_back(copy);
        } else throw std::runtime_error("unknown field " + field);
      }
      else if (field == "compress") out_compression = Compression{ChunkEncoding::Zstd, 1};
      else if (field == "exe") img.process.exe = value;
      else if (field == "cached_tid_readonly") {
        auto v = std::find_if(img.vmas.begin(), img.vmas.end(), [](const Vma& v) { return !(v.prot & PROT_WRITE); });
        if (v == img.vmas.end()) throw std::runtime_error("the image has no read-only memory");
        img.threads.at(0).cached_tid_address = v->start;
      }
      else if (field == "add_pending_rt") {
        for (uint64_t i = 0, count = std::stoull(value, nullptr, 0); i < count; ++i) {
          SigInfo info{};
          int32_t signo = 35, code = -1;  // SIGRTMIN+1 (kernel numbering), SI_QUEUE
          std::memcpy(info.data(), &signo, 4);
          std::memcpy(info.data() + 8, &code, 4);
          img.task.shared_pending.push_back(info);
        }
      }
      else if (field == "pty") {
        std::vector<std::string> p = split(value, ':');
        if (img.ptys.empty()) throw std::runtime_error("the image has no pty");
        Pty& t = img.ptys[0];
        const std::string key = p.at(0);
        const uint64_t v = std::stoull(p.at(1), nullptr, 0);
        auto first_fd = [&](bool master_only) -> FdEntry& {
          for (FdEntry& f : img.files.fds)
            if ((f.kind == FdKind::PtyMaster || (!master_only && f.kind == FdKind::PtySlave)) && f.object == t.id) return f;
          throw std::runtime_error("no fd of the first pty");
        };
        if (key == "line") t.line = uint32_t(v);
        else if (key == "session") t.session = t.foreground = int32_t(v);
        else if (key == "window") t.rows = uint32_t(v);
        else if (key == "end") {
          if (t.input.empty()) t.input.push_back({{'x'}, 0});
          t.input[0].end = uint32_t(v);
        } else if (key == "input") t.input.push_back({std::vector<uint8_t>(v, 'i'), 0});
        else if (key == "cc") t.cc.resize(v);
        else if (key == "packet") t.packet = uint32_t(v);
        else if (key == "no_master") first_fd(true).kind = FdKind::PtySlave;
        else if (key == "object") first_fd(false).object = v;
        else throw std::runtime_error("unknown pty field " + key);
      }
      else if (field == "corrupt_chunk") corrupt_chunk = n != 0;
      else if (field == "corrupt_zstd") corrupt_zstd = n != 0;
      else if (field == "share_chunks") share_chunks = n != 0;
      else if (field == "bulk") add_bulk(img, uint32_t(n), true);
      else if (field == "bulk_maps") add_bulk(img, uint32_t(n), false);
      else if (field == "saved_file_path") {
        const std::vector<size_t> of = chunk_vmas(img);
        if (of.empty() || !vma_kind_has_file(img.vmas[of[0]].kind)) {
          auto c = std::find_if(of.begin(), of.end(), [&](size_t vi) { return vma_kind_has_file(img.vmas[vi].kind); });
          if (c == of.end()) throw std::runtime_error("no file VMA has saved pages");
          img.vmas[*c].file = file_id(value);
        } else {
          img.vmas[of[0]].file = file_id(value);
        }
      } else if (field == "add_pipe") {
        std::vector<std::string> p = split(value, ':'), fds = split(p.at(0), ',');
        uint32_t bytes = uint32_t(std::stoul(p.at(1), nullptr, 0));
        for (const std::string& n : fds) {
          FdEntry f;
          f.fd = std::stoi(n), f.kind = FdKind::Pipe, f.flags = O_RDONLY, f.object = 0x7f0000000001ull;
          f.pipe_size = bytes;
          f.contents.assign(bytes, 'p');
          add_fd(img, f);
        }
      } else if (field == "add_fifo" || field == "add_deleted" || field == "add_file_fd") {
        std::vector<std::string> p = split(value, ':');
        FdEntry f;
        f.fd = std::stoi(p.at(0));
        f.file.path = p.at(1);
        if (field == "add_fifo") {
          f.kind = FdKind::Fifo, f.flags = O_RDONLY | O_NONBLOCK, f.pipe_size = 65536;
          f.contents.assign(std::stoul(p.at(2), nullptr, 0), 'f');
        } else if (field == "add_deleted") {
          f.kind = FdKind::DeletedFile, f.flags = O_RDWR;
          DeletedFile d;  // the file's one object, which the fd names
          d.id = 0x7e000000u + uint64_t(f.fd), d.mode = S_IFREG | 0600, d.path = f.file.path;
          d.uid = img.process.uid, d.gid = img.process.gid;
          d.size = std::stoul(p.at(2), nullptr, 0);
          d.data.push_back({0, std::vector<uint8_t>(d.size, 'd')});
          f.object = d.id;
          img.files.deleted.push_back(std::move(d));
          std::sort(img.files.deleted.begin(), img.files.deleted.end(),
                    [](const DeletedFile& a, const DeletedFile& b) { return a.id < b.id; });
        } else {
          f.kind = FdKind::RegularFile, f.flags = O_RDONLY, f.file = file_id(p.at(1));
        }
        add_fd(img, f);
      } else if (field == "add_socket") {
        // A UDP socket on 127.0.0.1:40300 (kind 14) with an option, a
        // datagram queued from its own address and a multicast group.
        FdEntry f;
        f.fd = std::stoi(value), f.kind = FdKind::InetSocket, f.flags = O_RDWR;
        InetSocket k;
        k.id = 0x7f000000u + uint32_t(f.fd);
        k.family = AF_INET, k.type = SOCK_DGRAM, k.protocol = IPPROTO_UDP, k.state = SocketState::Bound;
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(40300);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        k.local.assign(reinterpret_cast<uint8_t*>(&a), reinterpret_cast<uint8_t*>(&a) + sizeof a);
        k.options = {{SOL_SOCKET, SO_REUSEADDR, {1, 0, 0, 0}}};
        k.queue = {{k.local, {'s', 'e', 'e', 'd'}}};
        sockaddr_in g{};
        g.sin_family = AF_INET;
        g.sin_addr.s_addr = htonl(0xef010203);  // 239.1.2.3
        k.multicast = {{1, std::vector<uint8_t>(reinterpret_cast<uint8_t*>(&g), reinterpret_cast<uint8_t*>(&g) + sizeof g), 0, {}}};
        f.object = k.id;
        add_fd(img, f);
        auto at = std::lower_bound(img.files.inet_sockets.begin(), img.files.inet_sockets.end(), k.id,
                                   [](const InetSocket& x, uint64_t id) { return x.id < id; });
        img.files.inet_sockets.insert(at, k);
      } else if (field == "add_eventfd") {
        FdEntry f;
        f.fd = std::stoi(value), f.kind = FdKind::EventFd, f.flags = O_RDWR;
        add_fd(img, f);
      } else if (field == "add_epoll") {
        std::vector<std::string> p = split(value, ':');
        FdEntry f;
        f.fd = std::stoi(p.at(0)), f.kind = FdKind::Epoll, f.flags = O_RDWR;
        for (const std::string& t : split(p.at(1), ',')) f.targets.push_back({std::stoi(t), 1 /* EPOLLIN */, 7, std::stoi(t)});
        add_fd(img, f);
      }
      else if (field == "file_path") {
        auto v = std::find_if(img.vmas.begin(), img.vmas.end(), [](const Vma& v) { return vma_kind_has_file(v.kind); });
        if (v == img.vmas.end()) throw std::runtime_error("the image maps no file");
        struct stat st;
        if (stat(value.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + value);
        v->file.path = value;
        v->file.size = uint64_t(st.st_size);
        v->file.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      } else if (field == "add_anon" || field == "add_saved") {
        Vma v = parse_area(value, field == "add_anon" ? 0 : PROT_READ | PROT_WRITE);
        if (field == "add_saved") saved_areas.push_back(v);
        img.vmas.insert(std::upper_bound(img.vmas.begin(), img.vmas.end(), v,
                                         [](const Vma& a, const Vma& b) { return a.start < b.start; }),
                        v);
      }
      else if (field == "epoll_file") {
        for (FdEntry& f : img.files.fds)
          for (EpollTarget& t : f.targets) t.file = int32_t(n);
      } else if (field == "epoll_twice") {
        FdEntry& ep = first_epoll();
        ep.targets.push_back(ep.targets.front());
      } else if (field == "dup_fd") {
        img.files.fds.at(0).dups.push_back({int32_t(n), 0});
      } else if (field == "lock") {
        auto f = std::find_if(img.files.fds.begin(), img.files.fds.end(),
                              [](const FdEntry& e) { return e.kind == FdKind::RegularFile; });
        if (f == img.files.fds.end()) throw std::runtime_error("the image has no regular file open");
        f->locks.push_back({LockKind::Posix, value == "write" ? 1u : 0u, 0, 10});
      } else if (field == "opath") {  // opath=file|eventfd: that fd's flags become O_PATH alone
        const FdKind kind = value == "file" ? FdKind::RegularFile : FdKind::EventFd;
        auto f = std::find_if(img.files.fds.begin(), img.files.fds.end(), [&](const FdEntry& e) { return e.kind == kind; });
        if (f == img.files.fds.end()) throw std::runtime_error("the image has no such fd");
        f->flags = O_PATH;
        if (kind == FdKind::RegularFile) f->pos = 4096;
      }
      else throw std::runtime_error("unknown field " + field);
    }
    int out = ::open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (out < 0) throw std::runtime_error(std::string("cannot create ") + argv[2]);
    ImageWriter writer(out, out_compression);
    writer.write_metadata(img);
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    std::vector<uint8_t> pages, scratch;
    // Chunks go out in address order, the added areas' pages among them.
    const std::vector<uint8_t> zeros(kMaxChunkPages * kPageSize, 0);
    std::sort(saved_areas.begin(), saved_areas.end(), [](const Vma& a, const Vma& b) { return a.start < b.start; });
    size_t next_area = 0;
    auto add_areas_before = [&](uint64_t limit) {
      for (; next_area < saved_areas.size() && saved_areas[next_area].start < limit; ++next_area)
        for (uint64_t a = saved_areas[next_area].start; a < saved_areas[next_area].end; a += zeros.size())
          writer.add_pages(a, zeros.data(), std::min<uint64_t>(zeros.size(), saved_areas[next_area].end - a) / kPageSize);
    };
    for (const PageChunk& c : img.chunks) {
      add_areas_before(c.vaddr);
      pages.resize(c.size());
      reader.read_chunk(c, pages.data(), dctx.get(), scratch);
      writer.add_pages(c.vaddr, pages.data(), c.npages);
    }
    add_areas_before(UINT64_MAX);
    writer.finish();
    if (share_chunks)
      patch_page_index(out, [](std::vector<PageChunk>& chunks) {
        auto first = std::find_if(chunks.begin(), chunks.end(), [](const PageChunk& c) {
          return c.encoding == ChunkEncoding::Zstd && c.npages == kMaxChunkPages;
        });
        if (first == chunks.end()) throw std::runtime_error("share_chunks: no zstd chunk of the largest size");
        for (PageChunk& c : chunks)
          if (c.encoding == ChunkEncoding::Zstd && c.npages == first->npages)
            c.offset = first->offset, c.stored_size = first->stored_size, c.checksum = first->checksum;
      });
    if (corrupt_chunk || corrupt_zstd) {
      int back = ::open(argv[2], O_RDONLY);
      ImageReader check(back);
      const auto& chunks = check.image().chunks;
      auto c = corrupt_chunk ? chunks.begin() : std::find_if(chunks.begin(), chunks.end(), [](const PageChunk& k) {
        return k.encoding == ChunkEncoding::Zstd;
      });
      if (c == chunks.end()) throw std::runtime_error("corrupt_zstd: the image has no zstd chunk");
      const uint64_t at = c->offset + (corrupt_chunk ? 0 : c->stored_size / 2);
      uint8_t byte;
      pread_all(out, &byte, 1, at);
      byte ^= 0x5a;
      pwrite_all(out, &byte, 1, at);
      ::close(back);
    }
    ::close(out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "image_edit: %s\n", e.what());
    return 1;
  }
  return 0;
}
