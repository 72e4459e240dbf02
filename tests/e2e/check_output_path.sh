#!/usr/bin/env bash
# `ckpt dump -o PATH` writes an image only to a regular file (new, or an
# older image it replaces whole). A symlink, a device or a FIFO at PATH is
# refused, before the process is touched, in one line that names the path
# and what it is; the node is left exactly as it was (before this check, the
# rename replaced it: -o /dev/stdout turned /dev/stdout into a regular file).
# Cases, all inside the test's folder: a symlink to a regular file, a
# symlink to a FIFO (what /dev/stdout is in a pipeline), a dangling symlink,
# a character device (a copy of /dev/null made with mknod), a FIFO, a unix
# socket. Then a
# plain path and an older image at the path still work.
source "$(dirname "$0")/lib.sh"

seq 100000 | head -c $((8 * 4096 + 100)) >"$WORK/data"
start c "$PROGRAMS/counter" "$WORK/data"
send c 1
wait_lines c 1
pid=$PID_c

printf 'target\n' >"$WORK/target"
mkfifo "$WORK/fifo"
ln -s "$WORK/target" "$WORK/link-file"
ln -s "$WORK/fifo" "$WORK/link-fifo"
ln -s "$WORK/nowhere" "$WORK/link-dangling"
/usr/bin/python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$WORK/socket" ||
  fail "cannot make a unix socket node"
cases=('link-file|symbolic link' 'link-fifo|symbolic link' 'link-dangling|symbolic link' 'fifo|FIFO' 'socket|socket')
if mknod "$WORK/null" c 1 3 2>/dev/null; then
  cases+=('null|device')
else
  log "NOTE: mknod is not permitted here (not root?): the device case is not run"
fi
describe() { stat -c '%F %t:%T' "$1"; readlink "$1"; }

for c in "${cases[@]}"; do
  name=${c%%|*} what=${c#*|}
  path="$WORK/$name"
  before=$(describe "$path")
  "$CKPT" dump "$pid" -o "$path" --compress "$COMPRESS" >"$WORK/dump.out" 2>"$WORK/dump.err"
  rc=$?
  ((rc == 1)) || fail "ckpt dump -o $name ($what) exited $rc, expected 1 (refused)"
  [[ $(wc -l <"$WORK/dump.err") == 1 ]] || fail "ckpt dump -o $name printed more than one line"
  grep -qF "$path is a $what" "$WORK/dump.err" || fail "the refusal does not say '$path is a $what': $(cat "$WORK/dump.err")"
  [[ $(describe "$path") == "$before" ]] || fail "$name changed: was '$before', is '$(describe "$path")'"
  compgen -G "$path.tmp*" >/dev/null && fail "the refused dump left a temporary file"
  tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status")
  [[ $tracer == 0 && $(proc_state "$pid") == S ]] || fail "the process was left traced or stopped"
  log "$name: $(cat "$WORK/dump.err")"
done
[[ $(cat "$WORK/target") == target ]] || fail "the symlink's target file was changed"

# A name with an escape sequence is said escaped, never sent to the terminal.
esc=$'fifo\e[2J\n'
mkfifo "$WORK/$esc"
"$CKPT" dump "$pid" -o "$WORK/$esc" --compress "$COMPRESS" >"$WORK/dump.out" 2>"$WORK/dump.err"
rc=$?
((rc == 1)) || fail "ckpt dump -o a FIFO named with ESC exited $rc, expected 1"
[[ $(wc -l <"$WORK/dump.err") == 1 ]] || fail "the refusal for a name with a newline took more than one line"
grep -q $'\e' "$WORK/dump.err" && fail "the refusal printed a raw ESC"
grep -qF 'fifo\x1b[2J\n is a FIFO' "$WORK/dump.err" || fail "the name is not shown escaped: $(cat "$WORK/dump.err")"

# What works: a new file, and an older image replaced whole.
dump_live c "$WORK/new.ckpt"
dump_live c "$WORK/new.ckpt"
verify "$WORK/new.ckpt"
send c 2
wait_lines c 2
log "PASS"
