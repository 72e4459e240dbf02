// Established TCP connections read with TCP_REPAIR (see TcpConnection.h).
#include "dumper/TcpConnection.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dumper/FdInfo.h"
#include "dumper/NetlinkDiag.h"
#include "dumper/ScopedFd.h"
#include "dumper/SocketOptions.h"
#include "x86/FaultPoint.h"

namespace ckpt::dumper {

using format::TcpConnection;

namespace {

int get_int(int s, int level, int name, int* out) {
  socklen_t len = sizeof *out;
  return getsockopt(s, level, name, out, &len);
}

int set_int(int s, int level, int name, int v) { return setsockopt(s, level, name, &v, sizeof v); }

// Reads an address into the record's form; false for a family not carried
// or an IPv6 address with a scope (a link-local address names an interface).
bool take_address(const sockaddr_storage& ss, std::array<uint8_t, 16>* addr, uint32_t* port) {
  if (ss.ss_family == AF_INET) {
    auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    std::memcpy(addr->data(), &a.sin_addr, 4);
    *port = ntohs(a.sin_port);
    return true;
  }
  if (ss.ss_family == AF_INET6) {
    auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    std::memcpy(addr->data(), &a.sin6_addr, 16);
    *port = ntohs(a.sin6_port);
    return a.sin6_scope_id == 0;
  }
  return false;
}

std::string endpoints(const TcpConnection& c) {
  return format::tcp_endpoint(c.family, c.local_addr, c.local_port) + " -> " +
         format::tcp_endpoint(c.family, c.peer_addr, c.peer_port);
}

// Peeks `want` bytes of one queue (repair mode, TCP_REPAIR_QUEUE set).
bool peek_queue(int s, int queue, size_t want, std::vector<uint8_t>* out) {
  out->assign(want, 0);
  if (set_int(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, queue) != 0) return false;
  if (want == 0) return true;
  ssize_t n = recv(s, out->data(), want, MSG_PEEK | MSG_DONTWAIT);
  return n == ssize_t(want);
}

// Seals (or, with `on` false, unseals) the original socket against its
// peer with a TCP MD5 signature key for the peer's address: the kernel
// then drops every segment from the peer (no signature: TCPMD5NotFound)
// and the peer drops every segment the original still sends (an
// unexpected signature: TCPMD5Unexpected). Repair mode alone does not stop
// the original from sending: its zero-window probe timer sends new data
// when the peer's window is open but smaller than a segment
// (tcp_write_wakeup has no repair check), and data that repair mode marked
// sent is later retransmitted for real; the peer then holds data the image
// calls unsent, acknowledges past the restored socket's snd_nxt, which the
// kernel drops with the segment (its data too), and the connection stalls.
// The key is never used for a packet the peer accepts; it names the socket
// (its inode), so that two ends both in the dump, each sealed with a key
// for the other's address, still fail each other's check (TCPMD5Failure).
int md5_seal(int s, const TcpConnection& c, bool on) {
  tcp_md5sig key{};
  if (c.family == AF_INET6) {
    auto& a = reinterpret_cast<sockaddr_in6&>(key.tcpm_addr);
    a.sin6_family = AF_INET6;
    std::memcpy(&a.sin6_addr, c.peer_addr.data(), 16);  // IPv4-mapped too: the kernel keys those as IPv4
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(key.tcpm_addr);
    a.sin_family = AF_INET;
    std::memcpy(&a.sin_addr, c.peer_addr.data(), 4);
  }
  if (on) {
    const std::string k = "ckpt: frozen for a dump, socket " + std::to_string(c.id);
    key.tcpm_keylen = uint16_t(std::min(k.size(), sizeof key.tcpm_key));
    std::memcpy(key.tcpm_key, k.data(), key.tcpm_keylen);
  }  // keylen 0 deletes the key for that address
  return setsockopt(s, IPPROTO_TCP, TCP_MD5SIG, &key, sizeof key);
}

// The kernel's tcp_info as far as the segment counters (glibc's stops at
// tcpi_total_retrans; <linux/tcp.h> clashes with <netinet/tcp.h>).
struct TcpInfoSegs {
  tcp_info base;
  uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
  uint32_t segs_out, segs_in;
};
static_assert(sizeof(tcp_info) == 104, "glibc's tcp_info ends at tcpi_total_retrans");

bool tcp_segs(int s, TcpInfoSegs* out) {
  socklen_t len = sizeof *out;
  return getsockopt(s, IPPROTO_TCP, TCP_INFO, out, &len) == 0 && len >= sizeof *out;
}

// Makes the peer send now any acknowledgement it still owes the original
// (a delayed ACK for data the original sent just before the dump): a
// window probe (leaving repair mode with TCP_REPAIR_OFF sends one) lies
// below the peer's window, which the peer answers at once with an ACK, and
// sending that ACK cancels its delayed-ACK timer. Waits for the answer
// (any segment counted in), at most 2 s or four round trips. False if none
// came. Without this, a delayed ACK that fires after the original closed
// finds no socket, the kernel answers it with a RST whose sequence number
// is exactly the peer's, and the peer's end is reset before the restore.
bool flush_peer_ack(int s, int reuseaddr) {
  TcpInfoSegs before{}, now{};
  if (!tcp_segs(s, &before) || set_int(s, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON) != 0) return false;
  const bool probed = set_int(s, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF) == 0;
  set_int(s, SOL_SOCKET, SO_REUSEADDR, reuseaddr);  // leaving repair mode clears it
  if (!probed) return false;
  const uint64_t limit_us = std::max<uint64_t>(2000000, 4ull * before.base.tcpi_rtt);
  for (uint64_t waited = 0; waited <= limit_us; waited += 1000) {
    if (!tcp_segs(s, &now)) return false;
    if (now.segs_in != before.segs_in) return true;
    usleep(1000);
  }
  return false;
}

// Outside ESTABLISHED the kernel sends no window probe, so the peer cannot
// be made to pay a delayed acknowledgement at once. What it can still owe
// is the acknowledgement of what the original sent and it has not yet
// acknowledged (data or our FIN): waits until nothing is outstanding
// (tcpi_unacked 0), at most as long as a probe's answer. Once everything
// is acknowledged, nothing the original sent calls for another one.
bool wait_all_acked(int s) {
  TcpInfoSegs now{};
  if (!tcp_segs(s, &now)) return false;
  const uint64_t limit_us = std::max<uint64_t>(2000000, 4ull * now.base.tcpi_rtt);
  for (uint64_t waited = 0; waited <= limit_us; waited += 1000) {
    if (!tcp_segs(s, &now)) return false;
    if (now.base.tcpi_unacked == 0) return true;
    usleep(1000);
  }
  return false;
}

uint32_t queue_seq(int s, int queue) {
  int v = 0;
  if (set_int(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, queue) != 0 || get_int(s, IPPROTO_TCP, TCP_QUEUE_SEQ, &v) != 0)
    return 0;
  return uint32_t(v);
}

}  // namespace

TcpConnections::~TcpConnections() { release(); }

void TcpConnections::release() {
  for (auto& [ino, h] : held_) {
    // Without keep(), the connection is left out of repair mode as it was
    // found (with the SO_REUSEADDR that leaving repair mode clears). After
    // keep(), it stays in repair mode: closing is then silent.
    if (!kept_) {
      // Unsealed first: what either side sent meanwhile was dropped and is
      // sent again by its retransmission timer, as after a lost segment.
      if (h.sealed) md5_seal(h.copy, h.record, false);
      set_int(h.copy, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP);
      set_int(h.copy, SOL_SOCKET, SO_REUSEADDR, h.reuseaddr);
    }
    ::close(h.copy);
  }
  held_.clear();
}

bool TcpConnections::read(pid_t pid, int fd, uint64_t ino, uint64_t* id) {
  ScopedFd pidfd(int(syscall(SYS_pidfd_open, pid, 0)));
  ScopedFd copy(pidfd.get() < 0 ? -1 : int(syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
  if (copy.get() < 0) refuse_fd(pid, fd, std::string("cannot take a copy of the socket (pidfd_getfd): ") + std::strerror(errno));
  const int s = copy.get();
  int domain = 0, type = 0, protocol = 0;
  if (get_int(s, SOL_SOCKET, SO_DOMAIN, &domain) != 0 || get_int(s, SOL_SOCKET, SO_TYPE, &type) != 0 ||
      get_int(s, SOL_SOCKET, SO_PROTOCOL, &protocol) != 0)
    return false;
  if ((domain != AF_INET && domain != AF_INET6) || type != SOCK_STREAM || protocol != IPPROTO_TCP) return false;
  tcp_info info{};
  socklen_t info_len = sizeof info;
  if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &info, &info_len) != 0) return false;
  if (info.tcpi_state == TCP_LISTEN || info.tcpi_state == TCP_CLOSE) return false;  // not a connection

  *id = ino;
  if (held_.count(ino)) return true;  // another fd of the same socket

  TcpConnection c;
  c.id = ino;
  c.family = uint32_t(domain);
  c.state = info.tcpi_state;
  sockaddr_storage local{}, peer{};
  socklen_t llen = sizeof local, plen = sizeof peer;
  const bool named = getsockname(s, reinterpret_cast<sockaddr*>(&local), &llen) == 0 &&
                     take_address(local, &c.local_addr, &c.local_port);
  const bool connected = getpeername(s, reinterpret_cast<sockaddr*>(&peer), &plen) == 0 &&  // not in SYN-SENT
                         take_address(peer, &c.peer_addr, &c.peer_port);
  const std::string what = "a TCP connection " + (connected ? endpoints(c)
                                                            : "from " + format::tcp_endpoint(c.family, c.local_addr, c.local_port));
  if (c.state == format::kTcpSynSent || c.state == format::kTcpSynRecv)
    refuse_fd(pid, fd, what + " in state " + format::tcp_state_name(c.state) +
                           ": a handshake in progress cannot be carried (dump again once it is established)");
  if (!format::tcp_state_is_carried(c.state))
    refuse_fd(pid, fd, what + " in state " + format::tcp_state_name(c.state) +
                           ", which this version does not carry (ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2 and "
                           "CLOSE-WAIT are)");
  if (!named || !connected)
    refuse_fd(pid, fd, what + " whose addresses cannot be carried (an IPv6 link-local address, or none)");
  if (!allowed_)
    refuse_fd(pid, fd, (c.state == format::kTcpEstablished ? "an established TCP connection " + endpoints(c)
                                                             : what + " in state " + format::tcp_state_name(c.state)) +
                           "; `ckpt dump --tcp-established` carries it (needs CAP_NET_ADMIN)");
  if (info.tcpi_options & TCPI_OPT_ECN)
    refuse_fd(pid, fd, what + " that negotiated ECN, which TCP_REPAIR cannot set again");
  // sock_diag (MD5 keys), the scratch socket the options are tried on, and
  // restore all work in the caller's network namespace, as for every socket.
  struct stat theirs, ours;
  if (stat(proc_path(pid, "ns/net").c_str(), &theirs) != 0 || stat("/proc/self/ns/net", &ours) != 0 ||
      theirs.st_ino != ours.st_ino)
    refuse_fd(pid, fd, what + " lives in another network namespace than ckpt's; dump from inside it (nsenter -n -t " +
                           std::to_string(pid) + ")");
  if (tcp_md5_keys(domain, ino))
    refuse_fd(pid, fd, what + " has TCP MD5 signature keys (TCP_MD5SIG), which cannot be read back and are not carried");

  Held h;
  h.pid = pid;
  h.fd = fd;
  get_int(s, SOL_SOCKET, SO_REUSEADDR, &h.reuseaddr);
  c.reuseaddr = h.reuseaddr ? 1 : 0;
  c.options = read_socket_options(pid, fd, s, domain, SOCK_STREAM, IPPROTO_TCP, [](const format::SocketOptionSpec& o) {
    return !format::tcp_option_excluded(o.level, o.name);
  });
  x86::fault_point("dump: tcp repair on");
  if (set_int(s, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON) != 0) {
    int e = errno;
    refuse_fd(pid, fd, what + ": cannot put it in repair mode (" + std::strerror(e) + ")" +
                           (e == EPERM ? ": --tcp-established needs CAP_NET_ADMIN in the socket's network namespace" : ""));
  }
  h.copy = copy.release();
  auto it = held_.emplace(ino, std::move(h)).first;
  Held& held = it->second;
  try {  // (body not indented: ends at the catch that takes the socket out of repair mode again)

  // The kernel goes on receiving and taking acknowledgements while the
  // process is stopped: the queues are read until two reads agree.
  int peek_off = -1;
  get_int(s, SOL_SOCKET, SO_PEEK_OFF, &peek_off);
  if (peek_off >= 0) set_int(s, SOL_SOCKET, SO_PEEK_OFF, -1);  // peeking would move it
  struct PeekOff {  // put back however this ends
    int s, value;
    ~PeekOff() { if (value >= 0) set_int(s, SOL_SOCKET, SO_PEEK_OFF, value); }
  } put_back{s, peek_off};
  // Our FIN (shutdown(SHUT_WR) or close of a dup): sent or queued and not
  // acknowledged in FIN-WAIT-1, acknowledged in FIN-WAIT-2.
  const bool fin_unacked = c.state == format::kTcpFinWait1 || c.state == format::kTcpClosing ||
                           c.state == format::kTcpLastAck,
             fin_acked = c.state == format::kTcpFinWait2;
  if (fin_unacked || fin_acked) c.shutdown |= format::kTcpShutWrite;
  // The peer's FIN, received: rcv_nxt counts it, SIOCINQ does not.
  const bool peer_fin = format::tcp_state_has_peer_fin(c.state);
  if (peer_fin) c.shutdown |= format::kTcpPeerFin;
  bool stable = false;
  for (int attempt = 0; attempt < 16 && !stable; ++attempt) {
    const uint32_t write_seq = queue_seq(s, TCP_SEND_QUEUE), rcv_nxt = queue_seq(s, TCP_RECV_QUEUE);
    int outq = 0, notsent = 0, inq = 0;
    if (ioctl(s, SIOCOUTQ, &outq) != 0 || ioctl(s, SIOCOUTQNSD, &notsent) != 0 || ioctl(s, SIOCINQ, &inq) != 0 ||
        outq < 0 || notsent < 0 || inq < 0 || notsent > outq)
      refuse_fd(pid, fd, what + ": cannot read its queue sizes: " + std::strerror(errno));
    const int data_out = outq - (fin_unacked ? 1 : 0);
    if (data_out < 0) continue;
    if (!peek_queue(s, TCP_SEND_QUEUE, size_t(data_out), &c.send_queue) ||
        !peek_queue(s, TCP_RECV_QUEUE, size_t(inq), &c.recv_queue))
      continue;
    tcp_repair_window w{};
    socklen_t wlen = sizeof w;
    if (getsockopt(s, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &wlen) != 0)
      refuse_fd(pid, fd, what + ": cannot read its window (TCP_REPAIR_WINDOW): " + std::strerror(errno));
    int again_out = 0, again_in = 0;
    ioctl(s, SIOCOUTQ, &again_out);
    ioctl(s, SIOCINQ, &again_in);
    if (queue_seq(s, TCP_SEND_QUEUE) != write_seq || queue_seq(s, TCP_RECV_QUEUE) != rcv_nxt || again_out != outq ||
        again_in != inq)
      continue;
    c.send_seq = write_seq - uint32_t(outq);
    c.recv_seq = rcv_nxt - uint32_t(inq) - (peer_fin ? 1 : 0);
    c.unsent = uint32_t(notsent);
    if (fin_unacked) {  // SIOCOUTQ counts the FIN; SIOCOUTQNSD too while it waits behind unsent data
      if (notsent) c.unsent--;
    } else if (fin_acked) {
      c.send_seq--;  // restore queues the FIN again, at its own sequence number
    }
    c.snd_wl1 = w.snd_wl1, c.snd_wnd = w.snd_wnd, c.max_window = w.max_window;
    c.rcv_wnd = w.rcv_wnd, c.rcv_wup = w.rcv_wup;
    held.rcv_nxt = rcv_nxt;
    held.snd_nxt = write_seq - uint32_t(notsent);
    stable = true;
  }
  if (!stable) refuse_fd(pid, fd, what + ": its queues kept changing while they were read (the peer is sending)");
  if (c.state != format::kTcpEstablished && c.unsent)
    refuse_fd(pid, fd, what + " in state " + format::tcp_state_name(c.state) + " with " + std::to_string(c.unsent) +
                           " bytes never sent: outside ESTABLISHED, leaving repair mode sends no window probe, so a "
                           "window the peer opened while the restore ran would never be heard of again");
  // Shut down for reading (shutdown(SHUT_RD)): nothing in TCP_INFO says so,
  // but a peek past the unread data then ends the stream at once (0) where
  // it would otherwise find nothing yet (EAGAIN).
  // (After the peer's FIN the stream ends anyway: nothing to tell.)
  if (!peer_fin && set_int(s, SOL_SOCKET, SO_PEEK_OFF, int(c.recv_queue.size())) != 0) {
    if (!c.recv_queue.empty())
      refuse_fd(pid, fd, what + ": this kernel cannot tell whether it was shut down for reading (SO_PEEK_OFF on TCP "
                                "needs Linux 6.10) while it holds unread data");
  }
  char probe;
  if (!peer_fin && set_int(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE) == 0 &&
      recv(s, &probe, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
    c.shutdown |= format::kTcpShutRead;
  set_int(s, SOL_SOCKET, SO_PEEK_OFF, -1);  // the PeekOff guard puts the program's own back
  int mss = 0, ts = 0;
  if (get_int(s, IPPROTO_TCP, TCP_MAXSEG, &mss) != 0 || get_int(s, IPPROTO_TCP, TCP_TIMESTAMP, &ts) != 0)
    refuse_fd(pid, fd, what + ": cannot read its MSS or timestamp clock: " + std::strerror(errno));
  c.mss = uint32_t(mss);
  c.timestamp = uint32_t(ts);
  c.tcp_options = info.tcpi_options & (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE);
  if (c.tcp_options & TCPI_OPT_WSCALE) {
    c.snd_wscale = info.tcpi_snd_wscale;
    c.rcv_wscale = info.tcpi_rcv_wscale;
  }
  // Out of repair mode until freeze(): the rest of the dump may take long,
  // and a dumper that dies meanwhile must not leave the socket unusable.
  set_int(s, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP);
  set_int(s, SOL_SOCKET, SO_REUSEADDR, held.reuseaddr);
  held.record = std::move(c);
  } catch (...) {
    // Refused (--ignore-fds may leave the fd out and go on): as it was found.
    set_int(s, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP);
    set_int(s, SOL_SOCKET, SO_REUSEADDR, held.reuseaddr);
    ::close(held.copy);
    held_.erase(it);
    throw;
  }
  return true;
}

std::vector<TcpConnection> TcpConnections::records() const {
  std::vector<TcpConnection> out;
  for (const auto& [ino, h] : held_) out.push_back(h.record);  // map order: sorted by id
  return out;
}

std::vector<TcpConnection> TcpConnections::records_for(const format::FileTable& files) const {
  std::vector<TcpConnection> out;
  for (const format::FdEntry& f : files.fds) {
    if (f.kind != format::FdKind::TcpConnection) continue;
    auto it = held_.find(f.object);
    if (it != held_.end()) out.push_back(it->second.record);
  }
  std::sort(out.begin(), out.end(), [](const TcpConnection& a, const TcpConnection& b) { return a.id < b.id; });
  out.erase(std::unique(out.begin(), out.end(), [](const TcpConnection& a, const TcpConnection& b) { return a.id == b.id; }),
            out.end());
  return out;
}

std::vector<std::string> TcpConnections::running_warnings() const {
  std::vector<std::string> out;
  for (const auto& [ino, h] : held_)
    out.push_back("fd " + std::to_string(h.fd) + ": the TCP connection " + endpoints(h.record) +
                  " stays with the running process; a restore can take it over only once this process has "
                  "closed it or exited (use --kill to move it), and only while neither end has sent anything since "
                  "this dump, or the peer resets it");
  return out;
}

void TcpConnections::check_unchanged() const {
  // Receiving only: since freeze(), data the program had queued is at most
  // marked sent, not sent (the send queue is selected in repair mode).
  for (const auto& [ino, h] : held_) {
    const uint32_t rcv_nxt = queue_seq(h.copy, TCP_RECV_QUEUE);
    set_int(h.copy, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);  // (until the copy closes)
    if (rcv_nxt != h.rcv_nxt)
      throw DumpError("pid " + std::to_string(h.pid) + ": fd " + std::to_string(h.fd) + ": the TCP connection " +
                      endpoints(h.record) +
                      " received data in the instant between its last check and the kill: the image lacks it, so a "
                      "restore of this image would not continue that connection");
  }
}

void TcpConnections::freeze() {
  // Every probe before any seal: two ends both in the dump answer each
  // other's, which a sealed end would drop. A probe goes out only in
  // ESTABLISHED (tcp_send_window_probe).
  for (auto& [ino, h] : held_) {
    if (h.record.state == format::kTcpEstablished && !flush_peer_ack(h.copy, h.reuseaddr))
      throw DumpError("pid " + std::to_string(h.pid) + ": fd " + std::to_string(h.fd) + ": the TCP connection " +
                      endpoints(h.record) +
                      ": its peer did not answer a window probe, so an acknowledgement it may still owe could "
                      "reach the closed socket and reset the connection; nothing was written, dump again");
    if (h.record.state != format::kTcpEstablished && !wait_all_acked(h.copy))
      throw DumpError("pid " + std::to_string(h.pid) + ": fd " + std::to_string(h.fd) + ": the TCP connection " +
                      endpoints(h.record) + " in state " + format::tcp_state_name(h.record.state) +
                      ": its peer has not acknowledged everything the process sent, so the acknowledgement it "
                      "still owes could reach the closed socket and reset the connection; nothing was written, "
                      "dump again");
  }
  for (auto& [ino, h] : held_) {
    const int s = h.copy;
    TcpInfoSegs segs{};
    const bool probed = h.record.state == format::kTcpEstablished;
    uint32_t segs_out = 0;
    if (probed) {
      if (!tcp_segs(s, &segs))
        throw DumpError("pid " + std::to_string(h.pid) + ": fd " + std::to_string(h.fd) + ": the TCP connection " +
                        endpoints(h.record) + ": cannot read its segment counters (TCP_INFO): " + std::strerror(errno));
      segs_out = segs.segs_out;
    }
    if (set_int(s, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON) != 0)
      throw DumpError("pid " + std::to_string(h.pid) + ": fd " + std::to_string(h.fd) +
                      ": cannot put the TCP connection in repair mode again: " + std::strerror(errno));
    // Sealed before the last look: from here on nothing the original
    // sends reaches the peer and nothing the peer sends reaches it, so
    // what the look finds is what the peer has when the process dies.
    if (md5_seal(s, h.record, true) != 0)
      throw DumpError("pid " + std::to_string(h.pid) + ": fd " + std::to_string(h.fd) + ": the TCP connection " +
                      endpoints(h.record) + " cannot be sealed against its peer for the kill (TCP_MD5SIG: " +
                      std::strerror(errno) + "); without that the original may still send data the image " +
                      "calls unsent; dump without --kill");
    h.sealed = true;
    x86::fault_point("dump: tcp sealed");
    tcp_info info{};
    socklen_t len = sizeof info;
    int notsent = 0;
    const uint32_t write_seq = queue_seq(s, TCP_SEND_QUEUE);
    // Sent since the read (the kernel sends while the process is stopped,
    // when the peer's window opens): the image would send it again from
    // an older point, and the peer's acknowledgements of it would then
    // acknowledge data the restored socket has not sent.
    // Nor any segment since the peer's answer (a retransmission or a probe,
    // unsealed, would make the peer owe an acknowledgement again).
    const bool sent = ioctl(s, SIOCOUTQNSD, &notsent) != 0 || write_seq - uint32_t(notsent) != h.snd_nxt ||
                      (probed && (!tcp_segs(s, &segs) || segs.segs_out != segs_out));
    if (queue_seq(s, TCP_RECV_QUEUE) != h.rcv_nxt || sent || getsockopt(s, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
        info.tcpi_state != h.record.state)
      throw DumpError("pid " + std::to_string(h.pid) + ": fd " + std::to_string(h.fd) + ": the TCP connection " +
                      endpoints(h.record) +
                      " received or sent data or a FIN while the dump ran, which the image lacks; nothing was "
                      "written, dump again");
    // Until the kill, new data is only marked sent, not sent (repair mode
    // with the send queue selected): what the image says was never sent
    // stays so for the peer.
    set_int(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);
  }
}

}  // namespace ckpt::dumper
