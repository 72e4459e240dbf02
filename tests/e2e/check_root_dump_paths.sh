#!/usr/bin/env bash
# A dumper run as root must never open a path the target's owner controls
# (docs/security.md §7). The path /proc/PID/maps shows for a mapped file is
# the path in the target's mount namespace; the dumper resolves it in its
# own. So nobody, in a user and mount namespace of its own, mounts a tmpfs
# over a folder of its own and maps a file from there executable
# (tests/programs/mapswap.c), while outside, at the same path, it has put
#   1. a FIFO: opening it for reading would block root's dump forever and
#      leave the target ptrace-stopped;
#   2. a symbolic link to /dev/zero: opening it would run a driver as root.
# Each time root's `ckpt dump` must end by itself, refuse with one line
# naming the mapping (the path does not name the mapped file: restore could
# not map it either), exit 1, never open the FIFO, and leave the target
# running and untraced.
source "$(dirname "$0")/lib.sh"

if [[ $(id -u) != 0 ]]; then
  log "SKIPPED: this test is about a dumper running as root; run it as root (uid is $(id -u))"
  exit 0
fi
command -v setpriv >/dev/null || fail "setpriv (util-linux, .ci/deps) is missing"
command -v python3 >/dev/null || fail "python3 (.ci/deps) is missing"

# Whether someone holds FIFO open for reading (or waits in such an open):
# a non-blocking open for writing succeeds only then. It also releases a
# reader blocked in open, so a dumper that did open it does not hang here.
fifo_has_reader() {
  python3 - "$1" <<'PY'
import os, sys
try:
    os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK))
    sys.exit(0)
except OSError:
    sys.exit(1)
PY
}

chmod 711 "$WORK"  # nobody must reach its own folder below
for kind in fifo symlink; do
  dir="$WORK/$kind"
  mkdir "$dir" && chown nobody:nogroup "$dir" || fail "cannot make $dir for nobody"
  as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  if [[ $kind == fifo ]]; then "${as_nobody[@]}" mkfifo "$dir/code"; else "${as_nobody[@]}" ln -s /dev/zero "$dir/code"; fi ||
    fail "nobody cannot make $dir/code"
  "${as_nobody[@]}" unshare -Urm true 2>"$WORK/unshare.err" ||
    fail "nobody cannot make a user and mount namespace here: $(cat "$WORK/unshare.err")"
  start "$kind" "${as_nobody[@]}" unshare -Urm sh -c 'mount -t tmpfs none "$1" && exec "$2" "$1"' sh "$dir" "$PROGRAMS/mapswap"
  wait_lines "$kind" 1
  pid=$(pid_of "$kind")
  [[ $(stat -c %U "/proc/$pid") == nobody ]] || fail "the target $pid does not run as nobody"
  [[ $(head -n 1 "$WORK/$kind.out") == ready ]] || fail "mapswap $kind did not get ready"
  grep -q "^10000000-.* $dir/code\$" "/proc/$pid/maps" || fail "mapswap's mapping is not at 0x10000000: $(grep code "/proc/$pid/maps")"

  "$CKPT" dump "$pid" -o "$WORK/$kind.ckpt" >"$WORK/dump-$kind.out" 2>"$WORK/dump-$kind.err" &
  dumper=$!
  opened=no
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    kill -0 "$dumper" 2>/dev/null || break
    if [[ $kind == fifo ]] && fifo_has_reader "$dir/code"; then opened=yes; fi
    sleep 0.05
  done
  if kill -0 "$dumper" 2>/dev/null; then
    state=$(proc_state "$pid")
    kill -9 "$dumper"
    wait "$dumper" 2>/dev/null
    fail "root's dump of $pid ($kind at the mapped path) still runs after ${WAIT_SECONDS}s; the target is in state $state"
  fi
  wait "$dumper"
  rc=$?
  [[ $opened == no ]] || fail "root's dump opened the FIFO that nobody put at its mapped file's path"
  ((rc == 1)) || fail "ckpt dump exited $rc with a $kind at the mapped path, expected 1"
  [[ $(wc -l <"$WORK/dump-$kind.err") == 1 ]] || fail "ckpt dump did not say one line: $(cat "$WORK/dump-$kind.err")"
  grep -q "10000000-10010000 .*code" "$WORK/dump-$kind.err" ||
    fail "the refusal does not name the mapping: $(cat "$WORK/dump-$kind.err")"
  [[ ! -e $WORK/$kind.ckpt ]] || fail "a refused dump left $WORK/$kind.ckpt"
  state=$(proc_state "$pid")
  [[ $state == S || $state == R ]] || fail "the target $pid is in state '$state' after the refused dump"
  tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status")
  [[ $tracer == 0 ]] || fail "the target $pid is still traced by $tracer"
  log "$kind at the mapped path: $(cat "$WORK/dump-$kind.err")"
  close_input "$kind"
  wait_exit "$kind" 0
done
log "PASS: root's dump opened neither the FIFO nor the device, and left the target running"
