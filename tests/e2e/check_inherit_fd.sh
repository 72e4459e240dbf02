#!/usr/bin/env bash
# A pipe whose other end is outside the process cannot be recreated; the
# user hands restore a replacement with --inherit-fd.  A python3 process
# whose fd 5 is the write end of a pipe read by the test (a `cat` here)
# counts the lines it gets on stdin and writes each, numbered, to fd 5.
# After two lines it is dumped with --kill.  Then:
#   - `restore IMAGE` with no fd 5 and no --inherit-fd is refused (exit 1)
#     with a message that names fd 5 and says --inherit-fd, and runs nothing;
#   - `restore --inherit-fd 5 IMAGE` with fd 5 closed is refused too (the
#     promised fd is not there), exit 1, naming fd 5;
#   - `restore --inherit-fd 5 IMAGE` with fd 5 the write end of a new pipe
#     works: the restored process's fd 5 is that very pipe, it holds fds
#     0, 1, 2 and 5 only, and its next line goes there numbered 3 (the
#     count is the saved state).
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
WRITER='
import os, sys
n = 0
print("ready", flush=True)
while True:
    line = sys.stdin.readline()
    if not line:
        break
    n += 1
    os.write(5, ("fd5 %d %s\n" % (n, line.strip())).encode())
    print("ok", n, flush=True)
'

# In a subshell: closes every fd above 2 except those named (the test's
# own pipes to other programs must not leak into this one).
close_fds_but() {
  local p keep
  for p in /proc/$BASHPID/fd/*; do
    p=${p##*/}
    ((p > 2)) || continue
    for keep in "$@"; do [[ $p == "$keep" ]] && continue 2; done
    eval "exec $p>&-"
  done
}

# spawn_fd5 NAME CMD...: like lib.sh's start, and fd 5 of CMD is the write
# end of a new pipe that a `cat` copies to $WORK/NAME.fd5.  Sets PID_NAME
# and CAT_NAME (the cat's pid).
spawn_fd5() {
  local name=$1; shift
  local fifo="$WORK/$name.in" fd pid i
  mkfifo "$fifo" || fail "mkfifo $fifo"
  exec {fd}<>"$fifo"
  _WFD[$name]=$fd
  (
    echo "$BASHPID" >"$WORK/$name.pid"
    close_fds_but
    exec "$@" <"$fifo" 5>&1 >"$WORK/$name.out" 2>"$WORK/$name.err"
  ) | (
    close_fds_but
    exec cat >"$WORK/$name.fd5"
  ) &
  _PIDS[$name-cat]=$!
  printf -v "CAT_$name" '%s' "$!"
  for ((i = 0; i < 500; i++)); do
    pid=$(cat "$WORK/$name.pid" 2>/dev/null)
    [[ -n $pid && $(readlink "/proc/$pid/fd/0" 2>/dev/null) == "$fifo" &&
      $(readlink "/proc/$pid/exe") != */bash ]] && break
    sleep 0.01
  done
  [[ -n $pid ]] || fail "$name did not start"
  _PIDS[$name]=$pid
  printf -v "PID_$name" '%s' "$pid"
}

# fds_of PID: its open fds, sorted, on one line.
fds_of() { ls "/proc/$1/fd" 2>/dev/null | sort -n | tr '\n' ' '; }

spawn_fd5 orig "$PYTHON" -u -c "$WRITER"
wait_lines orig 1
send orig one two
wait_lines orig 3
[[ $(fds_of "$PID_orig") == "0 1 2 5 " ]] || fail "the writer has fds '$(fds_of "$PID_orig")', expected 0 1 2 5"
[[ $(readlink "/proc/$PID_orig/fd/5") == pipe:* ]] || fail "the writer's fd 5 is not a pipe"

img="$WORK/inherit.ckpt"
disown "$PID_orig"
"$CKPT" dump "$PID_orig" -o "$img" --compress "$COMPRESS" --kill >"$WORK/dump.out" 2>"$WORK/dump.err" ||
  fail "ckpt dump --kill of a process with a half-outside pipe on fd 5 exited $?"
# Its one warning says what restore will need (e2e.check_outside_pipes checks it closely).
grep -q -- '^ckpt: warning: fd 5 .*--inherit-fd 5' "$WORK/dump.err" || fail "ckpt dump did not warn about fd 5"
grep -v -- '^ckpt: warning: fd 5 .*--inherit-fd 5' "$WORK/dump.err" >"$WORK/dump-rest.err"
check_quiet "$WORK/dump-rest.err" "ckpt dump"
wait_gone orig
verify "$img"
printf 'fd5 1 one\nfd5 2 two\n' >"$WORK/expected-orig"
for ((i = 0; i < 100; i++)); do [[ $(proc_state "$CAT_orig") == gone ]] && break; sleep 0.05; done
expect_same "lines on fd 5 before the dump" "$WORK/expected-orig" "$WORK/orig.fd5"

# No --inherit-fd: refused before anything is touched.
(close_fds_but; exec "$RESTORE" "$img" </dev/null >"$WORK/plain.out" 2>"$WORK/plain.err")
rc=$?
((rc == 1)) || fail "restore without --inherit-fd exited $rc, expected 1 (refused)"
grep -q -- '--inherit-fd' "$WORK/plain.err" || fail "the refusal does not say how (--inherit-fd): $(cat "$WORK/plain.err")"
grep -Eq '(^|[^0-9])5([^0-9]|$)' "$WORK/plain.err" || fail "the refusal does not name fd 5: $(cat "$WORK/plain.err")"
[[ -s $WORK/plain.out ]] && fail "the refused restore let the program run: $(head -n 3 "$WORK/plain.out")"
log "without --inherit-fd: $(head -n 1 "$WORK/plain.err")"

# --inherit-fd 5 but no fd 5: refused as well.
(close_fds_but; exec "$RESTORE" --inherit-fd 5 "$img" </dev/null >"$WORK/nofd.out" 2>"$WORK/nofd.err")
rc=$?
((rc == 1)) || fail "restore --inherit-fd 5 with fd 5 closed exited $rc, expected 1 (refused)"
grep -Eq '(^|[^0-9])5([^0-9]|$)' "$WORK/nofd.err" || fail "the refusal does not name fd 5: $(cat "$WORK/nofd.err")"
[[ -s $WORK/nofd.out ]] && fail "the refused restore let the program run: $(head -n 3 "$WORK/nofd.out")"
log "--inherit-fd 5 with fd 5 closed: $(head -n 1 "$WORK/nofd.err")"

# With a new pipe on fd 5.
spawn_fd5 back "$RESTORE" --inherit-fd 5 "$img"
send back three
wait_lines back 1
[[ $(fds_of "$PID_back") == "0 1 2 5 " ]] || fail "the restored writer has fds '$(fds_of "$PID_back")', expected 0 1 2 5"
want=$(readlink "/proc/$CAT_back/fd/0")
got=$(readlink "/proc/$PID_back/fd/5")
[[ $got == "$want" ]] || fail "the restored fd 5 is '$got', not the pipe restore was given ('$want')"
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restored writer"
for ((i = 0; i < 100; i++)); do [[ $(proc_state "$CAT_back") == gone ]] && break; sleep 0.05; done
printf 'fd5 3 three\n' >"$WORK/expected-back"
expect_same "lines on the inherited fd 5 after the restore" "$WORK/expected-back" "$WORK/back.fd5"
printf 'ok 3\n' >"$WORK/expected-back-out"
expect_same "stdout after the restore" "$WORK/expected-back-out" "$WORK/back.out"
log "PASS"
