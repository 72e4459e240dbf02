// Established TCP connections, read with TCP_REPAIR (`ckpt dump
// --tcp-established`; docs/architecture.md, "TCP connections").
//
// Each connection is read through the dumper's own copy of the target's fd
// (pidfd_getfd), which is the same socket: repair mode is switched on, both
// queues' sequence numbers and contents, the window, MSS, timestamp clock,
// negotiated options, addresses and ordinary options are read (again until
// two reads agree, since the kernel keeps receiving), and repair mode is
// switched off again (TCP_REPAIR_OFF_NO_WP: nothing is sent) with
// SO_REUSEADDR put back (leaving repair mode clears it). With --kill,
// freeze() switches repair mode on again just before the image is
// committed, checks that nothing arrived since the read, and keep() (once
// the process is killed) leaves it on: the socket then closes silently (no
// FIN, no RST) when the killed process and the dumper's copies are gone.
// Destroying the object without keep() (a failed dump, or no --kill)
// leaves every connection out of repair mode, as it was.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "format/Image.h"
#include "format/TcpConnection.h"

namespace ckpt::dumper {

class TcpConnections {
 public:
  explicit TcpConnections(bool allowed) : allowed_(allowed) {}
  ~TcpConnections();
  TcpConnections(const TcpConnections&) = delete;
  TcpConnections& operator=(const TcpConnections&) = delete;

  // Whether fd `fd` of `pid` (a socket, inode `ino`) is a TCP socket this
  // file carries: any state but LISTEN and CLOSE (those are bound or
  // listening sockets, not connections). If it is, it is read (once per
  // socket) and its id returned in *id; a state or feature that cannot be
  // carried, or --tcp-established missing, is refused with refuse_fd.
  bool read(pid_t pid, int fd, uint64_t ino, uint64_t* id);

  std::vector<format::TcpConnection> records() const;
  // The records the tcp fds of `files` name (a member's own section).
  std::vector<format::TcpConnection> records_for(const format::FileTable& files) const;
  // One line each: connections that go on in a process left running.
  std::vector<std::string> running_warnings() const;

  // --kill, just before the image is committed: each ESTABLISHED
  // connection's peer made to send any ACK it still owes (a window probe,
  // its answer waited for: a delayed ACK that fires after the close is
  // answered with a RST that resets the peer), then repair mode on again and
  // the socket sealed against its peer (an MD5 key: nothing passes either
  // way), then a check that no data or FIN arrived and nothing was sent
  // since the read (nor any segment since the probe's answer). Throws
  // DumpError (unsealed, repair mode off again) if something did, if the
  // probe got no answer, or if the socket cannot be sealed.
  void freeze();
  // Once the process is killed: repair mode stays on, so that the sockets
  // close without a packet. Without it, destruction switches it off.
  void keep() { kept_ = true; }
  // After keep(): throws DumpError if data or a FIN arrived between
  // freeze() and the kill (the image, already committed, lacks it). The
  // window is the commit's rename and sync; nothing can undo it then, but
  // it is said rather than lost silently.
  void check_unchanged() const;

  // Out of repair mode (unless frozen) and let go: what the destructor does.
  void release();

 private:
  struct Held {
    pid_t pid;            // the process and fd it was read through (messages)
    int fd;
    int copy = -1;        // the dumper's copy of the socket (closed by ~TcpConnections)
    format::TcpConnection record;
    int reuseaddr = 0;    // SO_REUSEADDR to put back after repair mode
    uint32_t rcv_nxt = 0;  // at the read: recv_seq + received bytes
    uint32_t snd_nxt = 0;  // at the read: the end of what had been sent
    bool sealed = false;   // freeze() gave it an MD5 key for its peer (release() takes it away)
  };
  bool allowed_;
  bool kept_ = false;
  std::map<uint64_t, Held> held_;  // by socket inode
};

}  // namespace ckpt::dumper
