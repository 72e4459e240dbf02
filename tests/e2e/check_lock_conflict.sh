#!/usr/bin/env bash
# A lock the dumped process held that someone else holds at restore time
# is refused before the point of no return (exit 1, not 120), naming the
# file, by `restore --check` and by `restore`; once the other holder is
# gone the same image restores and holds its locks (state_locks' check).
# Four holders in turn: a POSIX lock on the range the process had
# POSIX-locked, a POSIX lock on the range of its OFD lock, a flock, and a
# process that has the file of its read lease open for writing.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
# HOLD KIND FILE START LEN: takes the lock, says "held", keeps it until EOF on stdin.
HOLD='
import fcntl, sys
kind, path, start, length = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
f = open(path, "r+")
if kind == "flock":
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
elif kind == "open":  # only holds the file open for writing
    pass
else:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, length, start)
print("held", flush=True)
sys.stdin.read()
'

start orig "$PROGRAMS/state_locks"
wait_lines orig 1
base=$(head -n 1 "$WORK/orig.out" | awk '{print $2}')
[[ $base == /tmp/state_locks.* ]] || fail "state_locks did not name its files: $(head -n 1 "$WORK/orig.out")"
dump orig "$WORK/locks.ckpt"

# refused WHO FILE: restore --check and restore must both exit 1 naming FILE.
refused() {
  local who=$1 file=$2 rc
  "$RESTORE" --check "$WORK/locks.ckpt" >"$WORK/check.out" 2>"$WORK/check.err"
  rc=$?
  ((rc == 1)) || fail "restore --check with $who exited $rc, want 1: $(cat "$WORK/check.err")"
  grep -q "$file" "$WORK/check.err" && grep -q lock "$WORK/check.err" ||
    fail "restore --check with $who does not name $file and the lock: $(cat "$WORK/check.err")"
  "$RESTORE" "$WORK/locks.ckpt" </dev/null >"$WORK/refused.out" 2>"$WORK/refused.err"
  rc=$?
  ((rc == 1)) || fail "restore with $who exited $rc, want 1 (refused before the point of no return): $(cat "$WORK/refused.err")"
  grep -q "$file" "$WORK/refused.err" || fail "restore with $who does not name $file: $(cat "$WORK/refused.err")"
  log "$who: $(head -n 1 "$WORK/refused.err")"
}

holder() {  # holder NAME KIND FILE START LEN
  start "$1" "$PYTHON" -c "$HOLD" "${@:2}"
  wait_lines "$1" 1
  [[ $(cat "$WORK/$1.out") == held ]] || fail "$1 could not take its lock: $(cat "$WORK/$1.err")"
}

holder posix posix "$base.f" 12 1
refused "a POSIX lock on byte 12" "$base.f"
close_input posix
wait_exit posix 0

holder ofd posix "$base.f" 45 2
refused "a POSIX lock on bytes 45-46" "$base.f"
close_input ofd
wait_exit ofd 0

holder flock flock "$base.g" 0 0
refused "an exclusive flock" "$base.g"
close_input flock
wait_exit flock 0

holder writer open "$base.l" 0 0
refused "a writer of the leased file" "$base.l"
close_input writer
wait_exit writer 0

restore_start back "$WORK/locks.ckpt"
send back check
close_input back
wait_exit back 0
grep -q '^PASS' "$WORK/back.out" || fail "restored state_locks did not PASS: $(cat "$WORK/back.out")"
check_quiet "$WORK/back.err" "restored state_locks"
log "PASS"
