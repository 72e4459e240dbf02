#!/usr/bin/env bash
# What ckpt cannot carry of a pty is refused, in one line, before anything
# is lost; the dump puts back every queued byte it took out, refused or not:
#   - a pty of another devpts instance (mounted in a mount namespace of the
#     test's own) is refused at dump, naming the mount point;
#   - a master whose slave only another process holds, and a pair whose
#     slave another process also holds: refused at dump
#     (with --ignore-fds, left out: both fds, one warning each);
#   - a packet-mode status byte waiting for the master, raw input under
#     IXON in packet mode, output waiting for the master while the slave's
#     output is stopped (tcflow TCOOFF), and more output queued than one line discipline's
#     buffer (5000 bytes): refused at dump naming the direction and the
#     count, and the process then reads every byte it had queued;
#   - a dump without --kill of a process with data queued each way leaves
#     the queues exactly as they were (the process reads them after), and
#     so does a ckpt killed while its child moves them out and back;
#   - a pty that was the controlling terminal of a session leader, restored
#     by a restore that leads its process group: refused by restore and
#     restore --check, saying to run it under setsid; a machine without a
#     pty multiplexer at /dev/ptmx or devpts at /dev/pts: refused;
#   - pty records that are corrupt or break the format's rules (made with
#     tests/tools/image_edit, checksums right): refused by restore, restore
#     --check and ckpt verify, in one line.
source "$(dirname "$0")/lib.sh"

EDIT="$PROGRAMS/../tools/image_edit"
[[ -x $EDIT ]] || fail "image_edit not built at $EDIT"
PY='
import os, sys, pty, fcntl, termios, select, time
mode = sys.argv[1]
def drain(fd):
    got = b""
    p = select.poll(); p.register(fd, select.POLLIN)
    while p.poll(0):
        try:
            b = os.read(fd, 65536)
        except (BlockingIOError, OSError):
            break
        if not b: break
        got += b
    return got
if mode == "devpts":
    d = sys.argv[2]
    m = os.open(d + "/ptmx", os.O_RDWR | os.O_NOCTTY)
    fcntl.ioctl(m, 0x40045431, b"\0\0\0\0")  # TIOCSPTLCK 0
    n = int.from_bytes(fcntl.ioctl(m, 0x80045430, b"\0\0\0\0"), "little")  # TIOCGPTN
    s = os.open("%s/%d" % (d, n), os.O_RDWR | os.O_NOCTTY)
else:
    m, s = pty.openpty()
    os.set_blocking(m, False)
if mode in ("master-only", "outside"):
    # A process of its own (not a child: a tree would take that in) opens the slave.
    print("slave", os.ttyname(s), flush=True)
    sys.stdin.readline()
    if mode == "master-only":
        os.close(s)
if mode == "stopped":
    os.write(s, b"x")
    termios.tcflow(s, termios.TCOOFF)
if mode == "much":
    os.write(s, b"y" * 5000)
if mode == "status":  # packet mode, and a flush that queues a status byte for the master reader
    fcntl.ioctl(m, termios.TIOCPKT, b"\1\0\0\0")
    termios.tcflush(s, termios.TCOFLUSH)
if mode == "rawixon":  # raw input, flow control on, packet mode
    t = termios.tcgetattr(s)
    t[0] |= termios.IXON
    t[3] &= ~(termios.ICANON | termios.ECHO)
    termios.tcsetattr(s, termios.TCSANOW, t)
    os.write(m, b"abc")
    p = select.poll(); p.register(s, select.POLLIN); p.poll(0)
    fcntl.ioctl(m, termios.TIOCPKT, b"\1\0\0\0")
if mode == "both":
    os.write(m, b"line1\npart")
    select.poll().poll(0); drain(s) if False else None
    p = select.poll(); p.register(s, select.POLLIN); p.poll(0)
    drain(m)  # the echo
    os.write(s, b"out")
print("ready", flush=True)
sys.stdin.readline()
if mode == "much":
    got = drain(m)
    print("master", len(got), got == b"y" * 5000, flush=True)
if mode == "both":
    os.set_blocking(s, False)
    out = drain(m)
    first = os.read(s, 100)
    try:
        os.read(s, 100); second = b"readable"
    except BlockingIOError:
        second = b"none"
    os.write(m, b"\n")
    select.select([s], [], [], 5)
    third = os.read(s, 100)
    print("got", repr(out), repr(first), repr(second), repr(third), flush=True)
'

# dump_refused NAME PATTERN [ARGS...]: ckpt dump exits 1 with one line matching PATTERN.
dump_refused() {
  local name=$1 pattern=$2 rc pid; shift 2
  pid=$(pid_of "$name")
  "$CKPT" dump "$pid" -o "$WORK/$name.ckpt" "$@" >"$WORK/dump-$name.out" 2>"$WORK/dump-$name.err"
  rc=$?
  ((rc == 1)) || fail "$name: ckpt dump exited $rc, want 1: $(cat "$WORK/dump-$name.err")"
  (($(wc -l <"$WORK/dump-$name.err") == 1)) || fail "$name: not one line: $(cat "$WORK/dump-$name.err")"
  grep -qE "$pattern" "$WORK/dump-$name.err" || fail "$name: ckpt did not say /$pattern/: $(cat "$WORK/dump-$name.err")"
  [[ -e $WORK/$name.ckpt ]] && fail "$name: an image was left behind"
  log "$name: $(cat "$WORK/dump-$name.err")"
}

# Another devpts instance, in a mount namespace of our own.
if unshare -m true 2>/dev/null; then
  mkdir -p "$WORK/pts"
  start devpts unshare -m sh -c "mount -t devpts -o newinstance,ptmxmode=0666 devpts '$WORK/pts' && exec python3 -c '$PY' devpts '$WORK/pts'"
  wait_lines devpts 1
  dump_refused devpts "cannot dump pty [0-9]+: it belongs to the devpts instance mounted at $WORK/pts \(device [0-9]+:[0-9]+\), not to /dev/pts"
else
  log "SKIPPED the other-devpts case: cannot make a mount namespace here (unshare -m needs CAP_SYS_ADMIN)"
fi

KEEPER='import os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY); print("held", flush=True); sys.stdin.readline()'
# keep NAME: a process outside NAME's dump opens NAME's pty slave; then NAME goes on.
keep() {
  wait_lines "$1" 1
  start "keep-$1" python3 -c "$KEEPER" "$(awk '$1 == "slave" {print $2}' "$WORK/$1.out")"
  wait_lines "keep-$1" 1
  send "$1" opened
  wait_lines "$1" 2
}
start monly python3 -c "$PY" master-only
keep monly
dump_refused monly "cannot dump fd [0-9]+: it is the master of pty [0-9]+, whose slave is not open in the dump"

start outside python3 -c "$PY" outside
keep outside
dump_refused outside "cannot dump pty [0-9]+: it is also open in pid [0-9]+ fd [0-9]+, outside the dump"
# With --ignore-fds the pty is left out instead, both its fds, one warning each.
"$CKPT" dump "$(pid_of outside)" -o "$WORK/ignored.ckpt" --ignore-fds >/dev/null 2>"$WORK/ignored.err" ||
  fail "ckpt dump --ignore-fds exited $?: $(cat "$WORK/ignored.err")"
(($(grep -c "^ckpt: warning: left out fd [0-9]* (--ignore-fds): pty-\(master\|slave\) of pty [0-9]*: it is also open in pid" "$WORK/ignored.err") == 2)) ||
  fail "ckpt dump --ignore-fds did not leave out both pty fds: $(cat "$WORK/ignored.err")"
"$CKPT" inspect --json "$WORK/ignored.ckpt" | python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(1 if d["ptys"] or any(f["kind"].startswith("pty") for f in d["fds"]) else 0)' ||
  fail "the --ignore-fds image still holds the pty"
log "--ignore-fds: $(grep -m1 'left out' "$WORK/ignored.err")"

start stopped python3 -c "$PY" stopped
wait_lines stopped 1
dump_refused stopped "cannot dump pty [0-9]+: 1 bytes wait for the master's reader while the slave's output is stopped"

start status python3 -c "$PY" status
wait_lines status 1
dump_refused status "cannot dump pty [0-9]+: a packet-mode status byte is waiting for the master's reader"

start rawixon python3 -c "$PY" rawixon
wait_lines rawixon 1
dump_refused rawixon "cannot dump pty [0-9]+: 3 bytes of raw input wait for the slave's reader with flow control on in packet mode"

start much python3 -c "$PY" much
wait_lines much 1
dump_refused much "cannot dump pty [0-9]+: 5000 bytes wait for the master's reader, more than 4096"
send much check
wait_lines much 2
grep -qx 'master 5000 True' "$WORK/much.out" || fail "the refused dump lost queued output: $(tail -n 1 "$WORK/much.out")"

start both python3 -c "$PY" both
wait_lines both 1
# ckpt killed while its child moves the queues out and back: the child
# finishes the put-back by itself.
CKPT_FAULT=trace "$CKPT" dump "$(pid_of both)" -o "$WORK/trace.ckpt" >/dev/null 2>"$WORK/trace.err" ||
  fail "a traced dump failed: $(grep -v '^ckpt fault point' "$WORK/trace.err" | head -n 2)"
n=$(sed -n 's/^ckpt fault point \([0-9]*\): pty: its queues taken out$/\1/p' "$WORK/trace.err")
[[ -n $n ]] || fail "no fault point where the pty queues are moved"
(CKPT_FAULT=kill CKPT_FAULT_AT=$n "$CKPT" dump "$(pid_of both)" -o "$WORK/k.ckpt" >/dev/null 2>&1; echo $? >"$WORK/k.rc") 2>/dev/null
(($(cat "$WORK/k.rc") == 137)) || fail "ckpt was not killed at fault point $n (exit $(cat "$WORK/k.rc"))"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do  # its child, now an orphan, ends once the data is back
  busy=0
  for e in /proc/[0-9]*/exe; do [[ $(readlink "$e" 2>/dev/null) == "$CKPT" ]] && busy=1; done
  ((busy)) || break
  sleep 0.05
done
dump_live both "$WORK/both.ckpt"
send both check
wait_lines both 2
want="got b'out' b'line1\\n' b'none' b'part\\n'"
grep -qxF "$want" "$WORK/both.out" || fail "a dump changed the queues: $(tail -n 1 "$WORK/both.out"), want $want"
log "queues intact after a dump: $(tail -n 1 "$WORK/both.out")"

# A session leader's controlling pty, restored by a process group leader.
start ctty "$PROGRAMS/state_pty_ctty"
wait_lines ctty 1
dump ctty "$WORK/ctty.ckpt"
LEADER='import os, sys; os.setpgid(0, 0); os.execv(sys.argv[1], sys.argv[1:])'
for check in "" --check; do
  python3 -c "$LEADER" "$RESTORE" $check "$WORK/ctty.ckpt" </dev/null >"$WORK/leader.out" 2>"$WORK/leader.err"
  rc=$?
  ((rc == 1)) || fail "restore $check as a process group leader exited $rc, want 1: $(cat "$WORK/leader.err")"
  grep -q "cannot start a session, since it leads its process group (run it as: setsid restore" "$WORK/leader.err" ||
    fail "restore $check did not say why: $(cat "$WORK/leader.err")"
done
log "group leader: $(cat "$WORK/leader.err")"

# A restore with no pty multiplexer at /dev/ptmx, or no devpts at /dev/pts
# (in a mount namespace of the test's own), refuses in phase 1.
if unshare -m true 2>/dev/null; then
  for c in "mount --bind /dev/null /dev/ptmx|/dev/ptmx is missing or is not the pty multiplexer" \
           "mount -t tmpfs none /dev/pts|/dev/pts is not a devpts file system"; do
    setup=${c%%|*} want=${c#*|}
    unshare -m sh -c "$setup && exec setsid '$RESTORE' --check '$WORK/ctty.ckpt'" </dev/null >"$WORK/ns.out" 2>"$WORK/ns.err"
    rc=$?
    ((rc == 1)) || fail "restore --check with '$setup' exited $rc, want 1: $(cat "$WORK/ns.err")"
    grep -q "pty [0-9]*: $want" "$WORK/ns.err" || fail "restore --check with '$setup' did not say why: $(cat "$WORK/ns.err")"
    log "$setup: $(cat "$WORK/ns.err")"
  done
else
  log "SKIPPED the /dev/ptmx and /dev/pts cases: cannot make a mount namespace here (unshare -m needs CAP_SYS_ADMIN)"
fi

# refused NAME PATTERN EDITS...: restore, restore --check and ckpt verify exit 1, one line, naming it.
refused() {
  local name=$1 pattern=$2 rc; shift 2
  "$EDIT" "$WORK/ctty.ckpt" "$WORK/$name.ckpt" "$@" || fail "image_edit $* failed"
  for cmd in "$RESTORE" "$RESTORE --check" "$CKPT verify"; do
    $cmd "$WORK/$name.ckpt" </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err"
    rc=$?
    ((rc == 1)) || fail "$name: $cmd exited $rc, want 1: $(cat "$WORK/$name.err")"
    (($(wc -l <"$WORK/$name.err") == 1)) || fail "$name: $cmd said more than one line: $(cat "$WORK/$name.err")"
    grep -qE "$pattern" "$WORK/$name.err" || fail "$name: $cmd did not say /$pattern/: $(cat "$WORK/$name.err")"
  done
  log "$name: $(cat "$WORK/$name.err")"
}
refused line "pty [0-9]+: line discipline 3 is not N_TTY" pty=line:3
refused session "pty [0-9]+: controlling terminal of session 1 \(foreground group 1\), which no process leads in the image" pty=session:1
refused window "pty [0-9]+: window size out of range" pty=window:70000
refused end "pty [0-9]+: input line 0 has an unknown end" pty=end:7
refused unfinished "pty [0-9]+: only the last input line may be unfinished" pty=input:1 pty=input:2
refused long-line "pty input line length 5000 exceeds limit 4096" pty=input:5000
refused cc "pty control characters length 20 exceeds limit 19" pty=cc:20
refused packet "pty [0-9]+: a flag is not 0 or 1" pty=packet:2
refused no-master "pty [0-9]+: 0 master fds, not 1" pty=no_master:1
refused missing "fd [0-9]+ \(pty-(master|slave)\): pty 77 is not in the ptys section" pty=object:77
log "PASS"
