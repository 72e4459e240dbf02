#!/usr/bin/env bash
# A dumper run as root must never open a path the target's owner controls,
# nor save a path that names, for restore, another file than the target's
# (docs/security.md §7). The paths /proc/PID/maps, /proc/PID/fd and
# /proc/PID/cwd show are as in the target's mount namespace; the dumper
# resolves them in its own. So nobody, in a user and mount namespace of its
# own, mounts a tmpfs over a folder of its own and, from there
# (tests/programs/mapswap.c), while outside, at the same path, it has put
#   1. map: maps a file executable; outside: a FIFO (opening it for reading
#      would block root's dump forever, the target ptrace-stopped);
#   2. map: the same; outside: a symbolic link to /dev/zero (opening it
#      would run a driver as root);
#   3. fd: keeps the file open on fd 3; outside: a FIFO;
#   4. cwd: works in that folder; outside, the folder is another one.
# Each time root's `ckpt dump` must end by itself, refuse with one line
# naming the mapping, fd or working directory (restore could not open the
# same file by that path either), exit 1, never open the FIFO, and leave
# the target running and untraced.
source "$(dirname "$0")/lib.sh"

if [[ $(id -u) != 0 ]]; then
  log "SKIPPED: this test is about a dumper running as root; run it as root (uid is $(id -u))"
  exit 77
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
setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$PROGRAMS/mapswap" ||
  fail "nobody cannot run $PROGRAMS/mapswap: this test needs the build tree readable by others"
for case in fifo:map symlink:map fifo:fd none:cwd; do
  kind=${case%%:*} mode=${case#*:}
  dir="$WORK/$kind-$mode"
  mkdir "$dir" && chown nobody:nogroup "$dir" || fail "cannot make $dir for nobody"
  as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  case $kind in
    fifo) "${as_nobody[@]}" mkfifo "$dir/code" ;;
    symlink) "${as_nobody[@]}" ln -s /dev/zero "$dir/code" ;;
  esac || fail "nobody cannot make $dir/code"
  "${as_nobody[@]}" unshare -Urm true 2>"$WORK/unshare.err" ||
    fail "nobody cannot make a user and mount namespace here: $(cat "$WORK/unshare.err")"
  name=${kind}_$mode
  start "$name" "${as_nobody[@]}" unshare -Urm sh -c 'mount -t tmpfs none "$1" && exec "$2" "$1" "$3"' sh "$dir" \
    "$PROGRAMS/mapswap" "$mode"
  wait_lines "$name" 1
  pid=$(pid_of "$name")
  [[ $(stat -c %U "/proc/$pid") == nobody ]] || fail "the target $pid does not run as nobody"
  [[ $(head -n 1 "$WORK/$name.out") == ready ]] || fail "mapswap $mode did not get ready"
  case $mode in
    map) grep -q "^10000000-.* $dir/code\$" "/proc/$pid/maps" || fail "mapswap's mapping is not at 0x10000000: $(grep code "/proc/$pid/maps")"
         names="10000000-10010000 .*code" ;;
    fd) [[ $(readlink "/proc/$pid/fd/3") == "$dir/code" ]] || fail "mapswap's fd 3 is not $dir/code"
        names="fd 3: its path $dir/code names another file" ;;
    cwd) [[ $(readlink "/proc/$pid/cwd") == "$dir" ]] || fail "mapswap's working directory is not $dir"
         names="working directory $dir names another folder" ;;
  esac

  "$CKPT" dump "$pid" -o "$WORK/$name.ckpt" >"$WORK/dump-$name.out" 2>"$WORK/dump-$name.err" &
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
    fail "root's dump of $pid ($kind at the path, $mode) still runs after ${WAIT_SECONDS}s; the target is in state $state"
  fi
  wait "$dumper"
  rc=$?
  [[ $opened == no ]] || fail "root's dump opened the FIFO that nobody put at its file's path ($mode)"
  ((rc == 1)) || fail "ckpt dump exited $rc with a $kind at the path ($mode), expected 1: $(cat "$WORK/dump-$name.err")"
  [[ $(wc -l <"$WORK/dump-$name.err") == 1 ]] || fail "ckpt dump did not say one line: $(cat "$WORK/dump-$name.err")"
  grep -q "$names" "$WORK/dump-$name.err" ||
    fail "the refusal does not name the $mode ('$names'): $(cat "$WORK/dump-$name.err")"
  [[ ! -e $WORK/$name.ckpt ]] || fail "a refused dump left $WORK/$name.ckpt"
  state=$(proc_state "$pid")
  [[ $state == S || $state == R ]] || fail "the target $pid is in state '$state' after the refused dump"
  tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status")
  [[ $tracer == 0 ]] || fail "the target $pid is still traced by $tracer"
  log "$kind at the path ($mode): $(cat "$WORK/dump-$name.err")"
  close_input "$name"
  wait_exit "$name" 0
done
log "PASS: root's dump opened neither the FIFO nor the device, refused every path naming another file, and left the target running"
