#!/usr/bin/env bash
# Network sockets ckpt does not carry are refused at dump time, in a network
# namespace of the test's own: a TCP connection without --tcp-established, a
# listener with a connection waiting to be accepted (named with the count),
# a raw IP socket, a packet socket, a netlink socket of another protocol
# than route and uevent, a UDP socket holding an empty datagram, a socket
# with a filter attached, a ping socket with a reply queued, and options
# that are read but not carried: SO_TIMESTAMPING, UDP_ENCAP, a sticky IPv6
# destination options header; a UDP socket with an error pending; a TCP
# listener with an MD5 signature key (seen with CAP_NET_ADMIN). Each: `ckpt
# dump --kill` exits 1 with one line naming the fd and why, writes no image,
# and leaves the process running, untraced, answering on its stdin.
source "$(dirname "$0")/netns.sh"
source "$(dirname "$0")/lib.sh"

echo "0 2147483647" >/proc/sys/net/ipv4/ping_group_range  # this namespace's own: ping sockets for everyone
PYTHON=/usr/bin/python3
# Opens one kind, prints "ready FD" (the fd the refusal must name), then
# echoes each stdin line.
HOLDER='
import select, socket, sys
kind = sys.argv[1]
keep = []
def wait_for(sock, events):  # until poll reports one of `events` (consuming nothing), 20 s at most
    p = select.poll(); p.register(sock, events)
    if not p.poll(20000): sys.exit("the condition under test did not arise")
if kind == "established":
    l = socket.socket(); l.bind(("127.0.0.1", 40100)); l.listen()
    c = socket.create_connection(("127.0.0.1", 40100)); a, _ = l.accept()
    keep += [l, c, a]; fd = c.fileno()
elif kind == "waiting":
    l = socket.socket(); l.bind(("127.0.0.1", 40101)); l.listen()
    c = socket.create_connection(("127.0.0.1", 40101)); wait_for(l, select.POLLIN)
    keep += [l, c]; fd = l.fileno()
elif kind == "raw":
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); keep.append(s); fd = s.fileno()
elif kind == "packet":
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0); keep.append(s); fd = s.fileno()
elif kind == "netlink":
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16); keep.append(s); fd = s.fileno()  # NETLINK_GENERIC
elif kind == "empty_datagram":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 40102))
    t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); t.sendto(b"", ("127.0.0.1", 40102)); wait_for(s, select.POLLIN)
    keep += [s, t]; fd = s.fileno()
elif kind == "filter":
    import struct
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    prog = struct.pack("HBBI", 0x06, 0, 0, 0xffffffff)  # BPF_RET|BPF_K: accept all
    import ctypes
    buf = ctypes.create_string_buffer(prog)
    fprog = struct.pack("HL", 1, ctypes.addressof(buf))
    s.setsockopt(socket.SOL_SOCKET, 26, fprog)  # SO_ATTACH_FILTER
    keep += [s, buf]; fd = s.fileno()
elif kind == "ping_reply":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    s.sendto(bytes([8, 0, 0, 0, 0, 0, 0, 1]) + b"hello", ("127.0.0.1", 0)); wait_for(s, select.POLLIN)
    keep.append(s); fd = s.fileno()
elif kind == "timestamping":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, 37, 8 | 16)  # SO_TIMESTAMPING: RX_SOFTWARE | SOFTWARE
    keep.append(s); fd = s.fileno()
elif kind == "udp_encap":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_UDP, 100, 2)  # UDP_ENCAP: UDP_ENCAP_ESPINUDP
    keep.append(s); fd = s.fileno()
elif kind == "sticky":
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, 59, bytes([0, 0, 1, 4, 0, 0, 0, 0]))  # IPV6_DSTOPTS: PadN
    keep.append(s); fd = s.fileno()
elif kind == "pending_error":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(("127.0.0.1", 40199))  # nothing listens there
    s.send(b"anyone?"); wait_for(s, select.POLLERR)  # the ICMP port unreachable leaves ECONNREFUSED pending
    keep.append(s); fd = s.fileno()
elif kind == "md5":
    import struct
    s = socket.socket(); s.bind(("127.0.0.1", 40103)); s.listen()
    # struct tcp_md5sig: sockaddr_storage (128), flags u8, prefixlen u8, keylen u16, ifindex i32, key[80]
    addr = struct.pack("=HH4s120x", socket.AF_INET, 0, socket.inet_aton("127.0.0.1"))
    s.setsockopt(socket.IPPROTO_TCP, 14, addr + struct.pack("=BBHi80s", 0, 0, 6, 0, b"secret"))  # TCP_MD5SIG
    keep.append(s); fd = s.fileno()
print("ready", fd, flush=True)
for line in sys.stdin:
    print("echo", line.strip(), flush=True)
'

# kind  |  what the one line must say (extended regex)
cases=(
  'established|an established TCP connection .* -> .*; .ckpt dump --tcp-established. carries it'
  'waiting|1 connection\(s\) waiting to be accepted'
  'raw|raw IPv4 sockets'
  'packet|packet sockets'
  'netlink|netlink sockets of protocol 16'
  'empty_datagram|empty datagram'
  'filter|socket filter'
  'ping_reply|ping socket with replies queued'
  'timestamping|SO_TIMESTAMPING is on'
  'udp_encap|UDP encapsulation is on'
  'sticky|sticky IPv6 option IPV6_DSTOPTS'
  'pending_error|an error is pending on the socket'
  'md5|TCP MD5 signature keys'
)
for c in "${cases[@]}"; do
  kind=${c%%|*}
  words=${c#*|}
  start "$kind" "$PYTHON" -u -c "$HOLDER" "$kind"
  wait_lines "$kind" 1
  ready=$(grep '^ready ' "$WORK/$kind.out") || fail "$kind holder did not print 'ready FD'"
  fd=${ready#ready }
  pid=$(pid_of "$kind")
  img="$WORK/$kind.ckpt"
  "$CKPT" dump "$pid" -o "$img" --kill >"$WORK/dump-$kind.out" 2>"$WORK/dump-$kind.err"
  rc=$?
  ((rc == 1)) || fail "ckpt dump --kill of a process with fd $fd ($kind) exited $rc, expected 1"
  (($(wc -l <"$WORK/dump-$kind.err") == 1)) || fail "ckpt dump ($kind) printed more than one line on stderr"
  msg=$(cat "$WORK/dump-$kind.err")
  grep -q "fd $fd:" <<<"$msg" || fail "the refusal for $kind does not name fd $fd: $msg"
  grep -Eq "$words" <<<"$msg" || fail "the refusal for $kind does not say '$words': $msg"
  [[ -e $img ]] && fail "a refused dump ($kind) left an image at $img"
  state=$(proc_state "$pid")
  [[ $state == S || $state == R ]] || fail "$kind holder (pid $pid) is in state '$state' after the refused dump"
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status") == 0 ]] || fail "$kind holder is still traced"
  send "$kind" "still-there"
  wait_lines "$kind" 2
  tail -n 1 "$WORK/$kind.out" | grep -qx 'echo still-there' || fail "$kind holder did not answer after the refused dump"
  close_input "$kind"
  wait_exit "$kind" 0
  log "$kind: refused as expected: $msg"
done
log PASS
