// Image printing and verification (see Inspect.h).
#include "dumper/Inspect.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <cstdio>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <vector>

#include "format/Checksum.h"
#include "format/Hex.h"
#include "format/InetSocket.h"
#include "format/Printable.h"
#include "format/ImageChain.h"
#include "format/ImageReader.h"

namespace ckpt::dumper {

using format::hex;
using format::json_string;
using format::printable;

using namespace ckpt::format;

namespace {

struct OpenImage {
  explicit OpenImage(const std::string& path) : fd(format::open_image(path)) {}
  ~OpenImage() { ::close(fd); }
  int fd;
};

std::string prot_text(uint32_t prot) {
  std::string s = "---";
  if (prot & PROT_READ) s[0] = 'r';
  if (prot & PROT_WRITE) s[1] = 'w';
  if (prot & PROT_EXEC) s[2] = 'x';
  return s;
}

struct PageTotals {
  uint64_t pages = 0, stored = 0, raw_chunks = 0, zstd_chunks = 0;
  uint64_t inherited_pages = 0, inherited_chunks = 0;  // the parent member's, no bytes stored
};

PageTotals totals(const Image& img) {
  PageTotals t;
  for (const PageChunk& c : img.chunks) {
    if (c.inherited()) {
      t.inherited_pages += c.npages;
      ++t.inherited_chunks;
      continue;
    }
    t.pages += c.npages;
    t.stored += c.stored_size;
    (c.encoding == ChunkEncoding::Raw ? t.raw_chunks : t.zstd_chunks)++;
  }
  return t;
}

// Pipe ends and Unix sockets whose other end was outside the process:
// restore needs --inherit-fd N (or, pipes only, --external-fds=null) for each.
std::vector<int> outside_pipe_ends(const Image& img) {
  std::vector<int> out;
  for (const FdEntry& f : img.files.fds)
    if ((f.kind == FdKind::Pipe || f.kind == FdKind::UnixSocket) && f.external) out.push_back(f.fd);
  return out;
}

uint64_t pages_in(const Image& img, const Vma& v) {
  uint64_t n = 0;
  // Chunks are sorted by address (validated): only v's own are visited.
  auto c = std::lower_bound(img.chunks.begin(), img.chunks.end(), v.start,
                            [](const PageChunk& x, uint64_t a) { return x.vaddr < a; });
  for (; c != img.chunks.end() && c->vaddr < v.end; ++c) n += c->npages;
  return n;
}

// The flags restore will need for this member's outside ends, one entry
// per end (the same rules as the text's "outside ..." lines).
void outside_ends_json(const Image& img, std::ostream& out) {
  out << "[";
  bool first = true;
  for (int fd : outside_pipe_ends(img)) {
    auto f = std::lower_bound(img.files.fds.begin(), img.files.fds.end(), fd,
                              [](const FdEntry& e, int n) { return e.fd < n; });
    const bool socket = f->kind == FdKind::UnixSocket;
    out << (first ? "" : ",") << "{\"fd\":" << fd << ",\"kind\":\"" << (socket ? "socket" : "pipe")
        << "\",\"restore_flags\":[\"--inherit-fd " << fd << "\"" << (socket ? "" : ",\"--external-fds=null\"") << "]}";
    first = false;
  }
  out << "]";
}

// Everything `inspect` prints for one process, as the members of a JSON
// object (without its braces): the root's are the top level's, every
// member's are its tree entry's "image".
void member_json(const Image& img, std::ostream& out) {
  PageTotals t = totals(img);
  out << "\"process\":{\"pid\":" << img.process.pid << ",\"comm\":" << json_string(img.process.comm)
      << ",\"exe\":" << json_string(img.process.exe) << ",\"uid\":" << img.process.uid << ",\"gid\":" << img.process.gid
      << ",\"kernel\":" << json_string(img.process.kernel_release) << "}";
  const MmInfo& m = img.mm;
  out << ",\"mm\":{\"start_code\":" << m.start_code << ",\"end_code\":" << m.end_code << ",\"start_data\":" << m.start_data
      << ",\"end_data\":" << m.end_data << ",\"start_brk\":" << m.start_brk << ",\"brk\":" << m.brk
      << ",\"start_stack\":" << m.start_stack << ",\"auxv_bytes\":" << m.auxv.size() << ",\"syscall_gadget\":"
      << m.syscall_gadget << ",\"sigreturn_gadget\":" << m.sigreturn_gadget << "}";
  out << ",\"vmas\":[";
  for (size_t i = 0; i < img.vmas.size(); ++i) {
    const Vma& v = img.vmas[i];
    out << (i ? "," : "") << "{\"start\":" << v.start << ",\"end\":" << v.end << ",\"prot\":\"" << prot_text(v.prot)
        << "\",\"kind\":\"" << vma_kind_name(v.kind) << "\",\"flags\":" << v.flags << ",\"offset\":" << v.pgoff
        << ",\"path\":" << json_string(v.file.path) << ",\"pages\":" << pages_in(img, v) << ",\"guard_ranges\":" << v.guards.size() << "}";
  }
  const TaskState& task = img.task;
  unsigned handled = 0, ignored = 0;
  for (const SigAction& a : task.sigactions) {
    if (a.handler == 1) ++ignored;  // SIG_IGN
    else if (a.handler > 1) ++handled;
  }
  out << "],\"task\":{\"cwd\":" << json_string(task.cwd) << ",\"umask\":" << task.umask
      << ",\"signal_handlers\":" << handled << ",\"signals_ignored\":" << ignored << ",\"personality\":" << task.personality
      << ",\"shared_pending\":" << task.shared_pending.size() << ",\"ldt_slots\":" << task.ldt.size()
      << ",\"oom_score_adj\":" << task.oom_score_adj << ",\"membarrier\":" << task.membarrier
      << ",\"mdwe\":" << task.mdwe
      << ",\"monotonic_ns\":" << task.monotonic_ns << ",\"boottime_ns\":" << task.boottime_ns
      << ",\"posix_timers\":[";
  for (size_t i = 0; i < task.timers.size(); ++i) {
    const PosixTimer& p = task.timers[i];
    out << (i ? "," : "") << "{\"id\":" << p.id << ",\"clock\":" << p.clock << ",\"notify\":" << p.notify
        << ",\"signo\":" << p.signo << ",\"sigev_value\":" << p.sigev_value << ",\"target_tid\":" << p.target_tid
        << ",\"value_ns\":" << p.value_ns << ",\"interval_ns\":" << p.interval_ns << "}";
  }
  out << "]}";
  if (img.scheduling) {
    const Scheduling& sc = *img.scheduling;
    out << ",\"scheduling\":{\"policy\":" << sc.policy << ",\"flags\":" << sc.flags << ",\"nice\":" << sc.nice
        << ",\"rt_priority\":" << sc.rt_priority << ",\"ioprio\":" << sc.ioprio
        << ",\"timer_slack_ns\":" << sc.timer_slack_ns << ",\"cpus\":" << json_string(cpu_list(sc.affinity)) << "}";
  }
  if (img.credentials) {
    const Credentials& c = *img.credentials;
    out << ",\"credentials\":{\"groups\":[";
    for (size_t i = 0; i < c.groups.size(); ++i) out << (i ? "," : "") << c.groups[i];
    out << "],\"cap_inheritable\":" << json_string(hex(c.cap_inheritable))
        << ",\"cap_permitted\":" << json_string(hex(c.cap_permitted))
        << ",\"cap_effective\":" << json_string(hex(c.cap_effective))
        << ",\"cap_bounding\":" << json_string(hex(c.cap_bounding))
        << ",\"cap_ambient\":" << json_string(hex(c.cap_ambient)) << ",\"securebits\":" << c.securebits
        << ",\"seccomp_mode\":" << c.seccomp_mode << ",\"seccomp_filters\":" << c.seccomp_filters << "}";
  }
  if (!img.seccomp.empty()) {
    out << ",\"seccomp\":[";
    for (size_t i = 0; i < img.seccomp.size(); ++i)
      out << (i ? "," : "") << "{\"flags\":" << img.seccomp[i].flags
          << ",\"instructions\":" << img.seccomp[i].program.size() << ",\"xxh3\":"
          << json_string(hex(format::checksum(img.seccomp[i].program.data(), img.seccomp[i].program.size() * 8))) << "}";
    out << "]";
  }
  out << ",\"fds\":[";
  for (size_t i = 0; i < img.files.fds.size(); ++i) {
    const FdEntry& f = img.files.fds[i];
    out << (i ? "," : "") << "{\"fd\":" << f.fd << ",\"kind\":\"" << fd_kind_name(f.kind)
        << "\",\"path\":" << json_string(f.file.path) << ",\"external\":" << (f.external ? "true" : "false")
        << ",\"dups\":[";
    for (size_t d = 0; d < f.dups.size(); ++d) out << (d ? "," : "") << f.dups[d].fd;
    out << "],\"locks\":" << f.locks.size() << "}";
  }
  out << "],\"stdio_dups\":[";
  for (size_t i = 0; i < img.files.stdio_dups.size(); ++i)
    out << (i ? "," : "") << "{\"fd\":" << img.files.stdio_dups[i].fd << ",\"of\":" << img.files.stdio_dups[i].of << "}";
  out << "],\"shared_memory_objects\":" << img.files.objects.size() << ",\"deleted_files\":[";
  for (size_t i = 0; i < img.files.deleted.size(); ++i) {
    const DeletedFile& d = img.files.deleted[i];
    out << (i ? "," : "") << "{\"path\":" << json_string(d.path) << ",\"mode\":" << d.mode << ",\"uid\":" << d.uid
        << ",\"gid\":" << d.gid << ",\"by_handle\":" << (d.mount.empty() ? "false" : "true")
        << ",\"cwd\":" << ((d.flags & kDeletedIsCwd) ? "true" : "false") << "}";
  }
  out << "],\"unix_sockets\":[";
  for (size_t i = 0; i < img.files.unix_sockets.size(); ++i) {
    const format::UnixSocket& u = img.files.unix_sockets[i];
    size_t bytes = 0;
    for (const format::UnixMessage& msg : u.messages) bytes += msg.data.size();
    out << (i ? "," : "") << "{\"ino\":" << u.ino << ",\"type\":" << json_string(format::unix_type_name(u.type))
        << ",\"state\":" << json_string(format::unix_state_name(u.state))
        << ",\"name\":" << json_string(format::unix_name_text(u.name)) << ",\"unlinked\":" << (u.unlinked ? "true" : "false")
        << ",\"peer\":" << u.peer << ",\"listener\":" << u.listener << ",\"backlog\":" << u.backlog
        << ",\"queued_connections\":" << u.queue.size() << ",\"messages\":" << u.messages.size()
        << ",\"message_bytes\":" << bytes << ",\"shutdown\":" << unsigned(u.shutdown) << "}";
  }
  out << "],\"inet_sockets\":[";
  for (size_t i = 0; i < img.files.inet_sockets.size(); ++i) {
    const InetSocket& k = img.files.inet_sockets[i];
    out << (i ? "," : "") << "{\"id\":" << k.id << ",\"family\":" << k.family << ",\"type\":" << k.type
        << ",\"protocol\":" << k.protocol << ",\"state\":\"" << socket_state_name(k.state)
        << "\",\"local\":" << json_string(sockaddr_text(k.local)) << ",\"peer\":" << json_string(sockaddr_text(k.peer))
        << ",\"backlog\":" << k.backlog << ",\"options\":" << k.options.size() << ",\"queued_datagrams\":"
        << k.queue.size() << ",\"groups_bytes\":" << k.groups.size() << "}";
  }
  out << "],\"tcp\":[";
  for (size_t i = 0; i < img.tcp.size(); ++i) {
    const TcpConnection& c = img.tcp[i];
    out << (i ? "," : "") << "{\"id\":" << c.id << ",\"local\":"
        << json_string(tcp_endpoint(c.family, c.local_addr, c.local_port))
        << ",\"peer\":" << json_string(tcp_endpoint(c.family, c.peer_addr, c.peer_port)) << ",\"state\":"
        << json_string(tcp_state_name(c.state)) << ",\"send_seq\":" << c.send_seq << ",\"send_bytes\":"
        << c.send_queue.size() << ",\"unsent\":" << c.unsent << ",\"recv_seq\":" << c.recv_seq
        << ",\"recv_bytes\":" << c.recv_queue.size() << ",\"mss\":" << c.mss << ",\"options\":" << c.tcp_options
        << ",\"snd_wnd\":" << c.snd_wnd << ",\"rcv_wnd\":" << c.rcv_wnd << ",\"shutdown\":" << unsigned(c.shutdown)
        << ",\"socket_options\":" << c.options.size() << "}";
  }
  out << "],\"ptys\":[";
  for (size_t i = 0; i < img.ptys.size(); ++i) {
    const Pty& p = img.ptys[i];
    size_t in = 0;
    for (const PtyLine& l : p.input) in += l.bytes.size();
    out << (i ? "," : "") << "{\"index\":" << p.id << ",\"rows\":" << p.rows << ",\"cols\":" << p.cols
        << ",\"lflag\":" << p.lflag << ",\"packet\":" << p.packet << ",\"locked\":" << p.locked
        << ",\"input_bytes\":" << in << ",\"output_bytes\":" << p.output.size() << ",\"session\":" << p.session
        << "}";
  }
  out << "],\"terminal\":";
  if (const auto& tm = img.terminal) {
    out << "{\"path\":" << json_string(tm->path) << ",\"foreground\":"
        << ((tm->flags & format::kTerminalForeground) ? "true" : "false") << ",\"session_leader\":"
        << ((tm->flags & format::kTerminalSessionLeader) ? "true" : "false") << ",\"iflag\":" << tm->termios.iflag
        << ",\"oflag\":" << tm->termios.oflag << ",\"cflag\":" << tm->termios.cflag << ",\"lflag\":"
        << tm->termios.lflag << ",\"rows\":" << tm->rows << ",\"cols\":" << tm->cols << "}";
  } else {
    out << "null";
  }
  out << ",\"outside_pipe_ends\":[";
  const std::vector<int> outside = outside_pipe_ends(img);
  for (size_t i = 0; i < outside.size(); ++i) out << (i ? "," : "") << outside[i];
  out << "],\"outside_ends\":";
  outside_ends_json(img, out);
  out << ",\"threads\":[";
  for (size_t i = 0; i < img.threads.size(); ++i) {
    const ThreadState& th = img.threads[i];
    out << (i ? "," : "") << "{\"tid\":" << th.tid << ",\"rip\":" << th.gpr[RIP] << ",\"rsp\":" << th.gpr[RSP]
        << ",\"orig_rax\":" << int64_t(th.gpr[ORIG_RAX]) << ",\"rax\":" << int64_t(th.gpr[RAX])
        << ",\"xsave_bytes\":" << th.xsave.size() << ",\"xfeatures\":" << th.xfeatures << ",\"sigmask\":" << th.sigmask
        << ",\"pending\":" << th.pending.size() << ",\"altstack_sp\":" << th.altstack_sp
        << ",\"altstack_size\":" << th.altstack_size << ",\"altstack_flags\":" << th.altstack_flags
        << ",\"rseq\":" << th.rseq.address << ",\"robust_list\":" << th.robust_list
        << ",\"clear_child_tid\":" << th.clear_child_tid << ",\"cached_tid_address\":" << th.cached_tid_address << "}";
  }
  out << "],\"chunks\":" << img.chunks.size() << ",\"pages\":" << t.pages << ",\"stored_bytes\":" << t.stored
      << ",\"raw_chunks\":" << t.raw_chunks << ",\"zstd_chunks\":" << t.zstd_chunks
      << ",\"inherited_pages\":" << t.inherited_pages << ",\"inherited_chunks\":" << t.inherited_chunks;
}

// An incremental image's chain, itself first (docs/format.md, "Incremental
// images"); a chain that cannot be followed is shown as such, not refused.
struct Chain {
  std::vector<ChainLink> links;
  std::string broken;  // why it cannot be followed
};

Chain chain_of(const ImageReader& r, const std::string& path) {
  Chain c;
  if (!r.image().parent) return c;
  try {
    c.links = describe_chain(r, path);
  } catch (const std::exception& e) {
    c.broken = e.what();
  }
  return c;
}

std::string chain_json(const ImageReader& r, const Chain& c) {
  if (!r.image().parent) return "";
  const ParentLink& p = *r.image().parent;
  char sum[24];
  std::snprintf(sum, sizeof sum, "%016" PRIx64, p.checksum);
  std::string s = ",\"parent\":{\"path\":" + json_string(p.path) + ",\"checksum\":\"" + sum +
                  "\",\"depth\":" + std::to_string(p.depth) + ",\"runs\":" + std::to_string(p.runs.size()) + "}";
  s += ",\"chain\":[";
  for (size_t i = 0; i < c.links.size(); ++i) {
    std::snprintf(sum, sizeof sum, "%016" PRIx64, c.links[i].checksum);
    s += std::string(i ? "," : "") + "{\"path\":" + json_string(c.links[i].path) + ",\"checksum\":\"" + sum +
         "\",\"parent_pages\":" + std::to_string(c.links[i].parent_pages) + "}";
  }
  s += "]";
  if (!c.broken.empty()) s += ",\"chain_error\":" + json_string(c.broken);
  return s;
}

void print_json(const ImageReader& r, std::ostream& out, const Chain& chain) {
  const Image& img = r.image();
  const ProcessTree& tree = r.tree();
  out << "{\"version\":" << img.version << ",\"file_size\":" << r.file_size() << chain_json(r, chain) << ",\"sections\":[";
  for (size_t i = 0; i < r.sections().size(); ++i) {
    const SectionInfo& s = r.sections()[i];
    out << (i ? "," : "") << "{\"type\":\"" << section_name(s.type) << "\",\"offset\":" << s.offset
        << ",\"length\":" << s.length << ",\"checksum\":" << json_string(format::hex(s.checksum))
        << ",\"member\":" << (section_is_per_member(s.type) ? int64_t(s.member) : -1) << "}";
  }
  out << "],";
  // The top-level records are the root's (as they always were); every
  // member, the root first, is in "tree" with all of its own under "image".
  member_json(img, out);
  out << ",\"tree\":[";
  for (size_t i = 0; i < tree.members.size(); ++i) {
    const TreeMember& m = tree.members[i];
    const bool live = m.state == kMemberLive;
    const Image& mi = r.member(i);
    out << (i ? "," : "") << "{\"pid\":" << m.pid << ",\"parent\":" << m.parent << ",\"pgid\":" << m.pgid
        << ",\"sid\":" << m.sid << ",\"state\":\"" << (live ? "live" : "zombie")
        << "\",\"exit_status\":" << m.exit_status << ",\"subreaper\":" << m.subreaper
        << ",\"comm\":" << json_string(live ? mi.process.comm : m.comm)
        << ",\"vmas\":" << mi.vmas.size()
        << ",\"threads\":" << mi.threads.size() << ",\"fds\":" << mi.files.fds.size()
        << ",\"chunks\":" << mi.chunks.size() << ",\"inherited_pages\":" << totals(mi).inherited_pages << ",\"image\":";
    if (live) {
      out << "{";
      member_json(mi, out);
      out << "}";
    } else {
      out << "null";
    }
    out << "}";
  }
  out << "]}\n";
}

void print_member(const Image& img, std::ostream& out);

void print_text(const ImageReader& r, std::ostream& out, const Chain& chain) {
  char line[512];
  out << "ckpt image, format version " << r.image().version << ", " << r.file_size() << " bytes\n";
  if (r.image().parent) {
    const ParentLink& p = *r.image().parent;
    uint64_t pages = 0;
    for (const ParentRun& run : p.runs) pages += run.npages;
    std::snprintf(line, sizeof line, "incremental: %" PRIu64 " pages in %zu runs are its parent's, checksum %016" PRIx64
                  ", %u image(s) below\n", pages, p.runs.size(), p.checksum, p.depth);
    out << line << "parent: " << printable(p.path) << "\n";
    if (!chain.broken.empty()) out << "chain: broken: " << printable(chain.broken) << "\n";
    for (size_t i = 0; i < chain.links.size(); ++i) {
      std::snprintf(line, sizeof line, "  chain %zu: %016" PRIx64 " ", i, chain.links[i].checksum);
      out << line << printable(chain.links[i].path)
          << (i + 1 == chain.links.size() ? " (full image)" : "") << "\n";
    }
  }
  const ProcessTree& tree = r.tree();
  if (tree.members.size() > 1) {
    out << "process tree: " << tree.members.size() << " processes\n";
    for (size_t i = 0; i < tree.members.size(); ++i) {
      const TreeMember& m = tree.members[i];
      out << "  member " << i << ": pid " << m.pid;
      if (m.parent >= 0) out << ", child of pid " << tree.members[size_t(m.parent)].pid;
      out << ", group " << m.pgid << ", session " << m.sid;
      if (m.state == kMemberZombie) {
        const int s = m.exit_status;
        out << ", zombie (" << printable(m.comm) << "): "
            << ((s & 0x7f) == 0 ? "exited " + std::to_string((s >> 8) & 0xff)
                                : "killed by signal " + std::to_string(s & 0x7f));
      } else {
        out << " (" << printable(r.member(i).process.comm) << ")";
      }
      if (m.subreaper) out << ", child subreaper";
      out << "\n";
    }
  }
  out << "sections:\n";
  for (const SectionInfo& s : r.sections()) {
    std::snprintf(line, sizeof line, "  %-11s at %12" PRIu64 "  %12" PRIu64 " bytes  xxh3 %016" PRIx64 "%s\n",
                  section_name(s.type), s.offset, s.length, s.checksum,
                  section_is_per_member(s.type) && tree.members.size() > 1
                      ? ("  member " + std::to_string(s.member)).c_str()
                      : "");
    out << line;
  }
  for (size_t i = 0; i < tree.members.size(); ++i) {
    if (tree.members[i].state != kMemberLive) continue;
    if (tree.members.size() > 1) out << "--- member " << i << "\n";
    print_member(r.member(i), out);
  }
}

void print_member(const Image& img, std::ostream& out) {
  PageTotals t = totals(img);
  char line[512];
  out << "process: pid " << img.process.pid << " (" << printable(img.process.comm) << ") " << printable(img.process.exe)
      << ", uid " << img.process.uid << " gid " << img.process.gid << ", dumped on Linux "
      << printable(img.process.kernel_release) << "\n";
  const MmInfo& m = img.mm;
  out << "mm: code " << hex(m.start_code) << "-" << hex(m.end_code) << " data " << hex(m.start_data) << "-"
      << hex(m.end_data) << " brk " << hex(m.start_brk) << "-" << hex(m.brk) << " stack " << hex(m.start_stack)
      << " auxv " << m.auxv.size() << " bytes\n";
  const TaskState& task = img.task;
  unsigned handled = 0, ignored = 0;
  for (const SigAction& a : task.sigactions) {
    if (a.handler == 1) ++ignored;  // SIG_IGN
    else if (a.handler > 1) ++handled;
  }
  out << "task: cwd " << printable(task.cwd) << ", umask " << std::oct << task.umask << std::dec << ", " << handled
      << " signal handlers (" << ignored << " ignored), " << task.shared_pending.size() << " shared pending signals, "
      << task.ldt.size() << " LDT slots, personality " << hex(task.personality) << "\n";
  std::snprintf(line, sizeof line,
                "clocks at dump: monotonic %.3f s, boottime %.3f s; oom_score_adj %d; membarrier registrations %#x; "
                "memory-deny-write-execute %#x\n",
                double(task.monotonic_ns) / 1e9, double(task.boottime_ns) / 1e9, task.oom_score_adj, task.membarrier,
                task.mdwe);
  out << line;
  if (img.scheduling) out << "scheduling: " << scheduling_text(*img.scheduling) << "\n";
  if (img.credentials) {
    const Credentials& c = *img.credentials;
    std::string groups;
    for (uint32_t g : c.groups) groups += (groups.empty() ? "" : ",") + std::to_string(g);
    out << "credentials: groups " << (groups.empty() ? "none" : groups) << ", capabilities permitted "
        << hex(c.cap_permitted) << " effective " << hex(c.cap_effective) << " inheritable " << hex(c.cap_inheritable)
        << " bounding " << hex(c.cap_bounding) << " ambient " << hex(c.cap_ambient) << ", securebits "
        << hex(c.securebits) << ", seccomp mode " << c.seccomp_mode << " (" << c.seccomp_filters << " filters)\n";
  }
  for (size_t i = 0; i < img.seccomp.size(); ++i)
    out << "seccomp filter " << i << " (carried, oldest first): " << img.seccomp[i].program.size() << " instructions"
        << ((img.seccomp[i].flags & format::kSeccompFlagLog) ? ", flag LOG" : "") << ", xxh3 "
        << hex(format::checksum(img.seccomp[i].program.data(), img.seccomp[i].program.size() * 8)) << "\n";
  for (const PosixTimer& p : task.timers) {
    static const char* const kinds[] = {"signal", "none", "thread", "?", "thread-id"};
    std::snprintf(line, sizeof line,
                  "posix timer %d: clock %d, notify %s, signal %d, value %#" PRIx64 "%s, left %.6f s, every %.6f s\n", p.id,
                  p.clock, kinds[p.notify >= 0 && p.notify <= 4 ? p.notify : 3], p.signo, p.sigev_value,
                  p.target_tid ? (" to thread " + std::to_string(p.target_tid)).c_str() : "",
                  double(p.value_ns) / 1e9, double(p.interval_ns) / 1e9);
    out << line;
  }
  // One entry per open file description: "3+4+40" when fds 4 and 40 share fd 3's.
  out << "files: " << img.files.fds.size() << " open files";
  for (const FdEntry& f : img.files.fds) {
    out << (&f == &img.files.fds[0] ? " (" : ", ") << f.fd;
    for (const auto& d : f.dups) out << "+" << d.fd;
    out << " " << fd_kind_name(f.kind) << (f.file.path.empty() ? "" : " " + printable(f.file.path));
    if (!f.locks.empty()) out << " [" << f.locks.size() << (f.locks.size() == 1 ? " lock]" : " locks]");
    if (&f == &img.files.fds.back()) out << ")";
  }
  for (const auto& d : img.files.stdio_dups)
    out << (&d == &img.files.stdio_dups[0] ? "; dups of restore's stdio (" : ", ") << d.fd << " of " << d.of
        << (&d == &img.files.stdio_dups.back() ? ")" : "");
  out << "; " << img.files.objects.size() << " shared memory objects\n";
  if (!img.files.deleted.empty()) {
    out << "deleted files: " << img.files.deleted.size();
    for (const DeletedFile& d : img.files.deleted)
      out << (&d == &img.files.deleted[0] ? " (" : ", ") << printable(d.path) << " mode " << std::oct << d.mode << std::dec << " owner "
          << d.uid << ":" << d.gid << (d.mount.empty() ? "" : " reopened by handle")
          << ((d.flags & kDeletedIsCwd) ? " cwd" : "") << (&d == &img.files.deleted.back() ? ")" : "");
    out << "\n";
  }
  // One line per Unix socket record, in record order (image_edit's unix=I:...).
  for (size_t i = 0; i < img.files.unix_sockets.size(); ++i) {
    const format::UnixSocket& u = img.files.unix_sockets[i];
    size_t bytes = 0;
    for (const format::UnixMessage& m : u.messages) bytes += m.data.size();
    out << "unix socket #" << i << " " << u.ino << ": " << format::unix_type_name(u.type) << " "
        << format::unix_state_name(u.state) << " " << printable(format::unix_name_text(u.name))
        << (u.unlinked ? " (unlinked)" : "");
    if (u.peer) out << " peer " << u.peer;
    if (u.listener) out << " listener " << u.listener;
    if (u.state == format::kUnixListening) out << " backlog " << u.backlog << " queued " << u.queue.size();
    out << ", " << u.messages.size() << " messages (" << bytes << " bytes) unread";
    if (u.shutdown) out << ", shutdown " << u.shutdown;
    out << "\n";
  }
  for (const InetSocket& k : img.files.inet_sockets) {
    out << "socket " << k.id << ": " << inet_socket_text(k) << ", " << socket_state_name(k.state);
    if (k.state == SocketState::Listening) out << " (backlog " << k.backlog << ")";
    out << ", " << k.options.size() << " options";
    if (!k.queue.empty()) out << ", " << k.queue.size() << " queued datagrams";
    if (!k.groups.empty()) out << ", groups bitmap of " << k.groups.size() << " bytes";
    out << "\n";
  }
  for (const TcpConnection& c : img.tcp)
    out << "tcp connection " << c.id << ": " << tcp_endpoint(c.family, c.local_addr, c.local_port) << " -> "
        << tcp_endpoint(c.family, c.peer_addr, c.peer_port) << " " << tcp_state_name(c.state) << ", send queue "
        << c.send_queue.size() << " bytes (" << c.unsent << " unsent) from seq " << c.send_seq << ", receive queue "
        << c.recv_queue.size() << " bytes from seq " << c.recv_seq << ", mss " << c.mss << ", windows " << c.snd_wnd
        << "/" << c.rcv_wnd << ((c.tcp_options & kTcpSack) ? ", sack" : "")
        << ((c.tcp_options & kTcpTimestamps) ? ", timestamps" : "")
        << ((c.tcp_options & kTcpWindowScale)
                ? ", wscale " + std::to_string(c.snd_wscale) + "/" + std::to_string(c.rcv_wscale)
                : std::string())
        << ((c.shutdown & kTcpShutRead) ? ", shut down for reading" : "") << ", " << c.options.size()
        << " options\n";
  for (const Pty& p : img.ptys) {
    size_t in = 0;
    for (const PtyLine& l : p.input) in += l.bytes.size();
    out << "pty " << p.id << " (a new index at restore): " << p.rows << "x" << p.cols
        << ((p.lflag & 2) ? ", canonical" : ", raw") << (p.packet ? ", packet mode" : "") << (p.locked ? ", locked" : "")
        << ", " << in << " bytes of input and " << p.output.size() << " of output queued"
        << (p.session ? ", the process's controlling terminal" : "") << "\n";
  }
  if (const auto& tm = img.terminal) {
    // Enough to tell a full-screen program's raw mode from a shell's cooked one.
    const uint32_t lflag = tm->termios.lflag;
    std::snprintf(line, sizeof line,
                  "terminal: %s, %ux%u, %s%s; settings iflag %#x oflag %#x cflag %#x lflag %#x (%s, %s)\n",
                  printable(tm->path).c_str(), unsigned(tm->cols), unsigned(tm->rows),
                  (tm->flags & format::kTerminalForeground) ? "in the foreground" : "in the background",
                  (tm->flags & format::kTerminalSessionLeader) ? ", session leader" : "", tm->termios.iflag,
                  tm->termios.oflag, tm->termios.cflag, lflag, (lflag & 2) ? "canonical" : "raw or cbreak",
                  (lflag & 8) ? "echo" : "no echo");  // ICANON, ECHO
    out << line;
  }
  for (int fd : outside_pipe_ends(img)) {
    auto f = std::lower_bound(img.files.fds.begin(), img.files.fds.end(), fd,
                              [](const FdEntry& e, int n) { return e.fd < n; });
    if (f->kind == FdKind::UnixSocket)
      out << "outside socket: fd " << fd << " (its peer was not in the process): restore needs --inherit-fd " << fd
          << " with a connected socket\n";
    else
      out << "outside pipe end: fd " << fd << " (its other end was not in the process): restore needs --inherit-fd "
          << fd << " or --external-fds=null\n";
  }
  out << "resume code: syscall " << hex(m.syscall_gadget) << ", sigreturn " << hex(m.sigreturn_gadget) << "\n";
  out << "memory areas (" << img.vmas.size() << "):\n";
  for (const Vma& v : img.vmas) {
    std::snprintf(line, sizeof line, "  %012" PRIx64 "-%012" PRIx64 " %s %-12s %6" PRIu64 " pages saved  %s\n",
                  v.start, v.end, prot_text(v.prot).c_str(), vma_kind_name(v.kind), pages_in(img, v),
                  printable(v.file.path).c_str());
    out << line;
  }
  for (const ThreadState& th : img.threads) {
    std::snprintf(line, sizeof line,
                  "thread %d: rip %016" PRIx64 " rsp %016" PRIx64 " orig_rax %" PRId64 " rax %" PRId64
                  ", XSAVE %zu bytes, features %#" PRIx64 ", sigmask %#" PRIx64 "\n",
                  th.tid, th.gpr[RIP], th.gpr[RSP], int64_t(th.gpr[ORIG_RAX]), int64_t(th.gpr[RAX]), th.xsave.size(),
                  th.xfeatures, th.sigmask);
    out << line;
    out << "  pending " << th.pending.size() << ", altstack " << hex(th.altstack_sp) << "+" << th.altstack_size
        << " flags " << th.altstack_flags << ", rseq " << hex(th.rseq.address) << ", robust list "
        << hex(th.robust_list) << ", clear-child-tid " << hex(th.clear_child_tid) << ", cached tid at "
        << hex(th.cached_tid_address) << "\n";
  }
  out << "pages: " << t.pages << " (" << t.pages * kPageSize / 1024 << " KiB) in " << img.chunks.size() << " chunks ("
      << t.raw_chunks << " raw, " << t.zstd_chunks << " zstd), stored in " << t.stored << " bytes\n";
  if (t.inherited_chunks)
    out << "inherited from the parent: " << t.inherited_pages << " pages (" << t.inherited_pages * kPageSize / 1024
        << " KiB) in " << t.inherited_chunks << " chunks\n";
}

}  // namespace

void inspect_image(const std::string& path, bool json, std::ostream& out) {
  OpenImage f(path);
  ImageReader r(f.fd);
  const Chain chain = chain_of(r, path);
  if (json) print_json(r, out, chain);
  else print_text(r, out, chain);
}

void verify_image(const std::string& path, std::ostream& out) {
  OpenImage f(path);
  ImageReader r(f.fd);
  // An incremental image is verified with its whole chain: every parent there and the same, every page readable.
  const std::vector<ChainLink> chain = follow_chain(r, path);
  r.verify_page_data();
  verify_chain_page_data(r);
  r.verify_chunks();  // every member's stored chunks (not the inherited ones), read and decoded as staging would
  size_t vmas = 0, chunks = 0;
  for (size_t i = 0; i < r.member_count(); ++i) {
    vmas += r.member(i).vmas.size();
    chunks += r.member(i).chunks.size();
  }
  out << printable(path) << ": ok (" << (r.member_count() > 1 ? std::to_string(r.member_count()) + " processes, " : "")
      << r.sections().size() << " sections, " << vmas << " memory areas, " << chunks << " chunks"
      << (chain.size() > 1 ? ", a chain of " + std::to_string(chain.size()) + " images" : "") << ")\n";
}

}  // namespace ckpt::dumper
