#!/usr/bin/env bash
# Pipe ends whose other end is outside the process: the dump says so, the
# image says so, and restore (directly or through `ckpt run`) is told what
# stands in for them.
#
# A python3 holder keeps fd 45, the write end of a pipe whose reader is
# another process, and fd 46, the read end of a pipe whose writer is that
# process (an orphaned grandchild, so not in the dumped tree: both other
# ends are outside).
#   - `ckpt dump --kill` succeeds and prints exactly one warning line per
#     such fd, naming it and the exact restore flags (--inherit-fd N, or
#     --external-fds=null), besides its summary line;
#   - `ckpt inspect` lists both as outside pipe ends; `ckpt inspect --json`
#     has "outside_pipe_ends":[45,46] and marks both fds external;
#   - `ckpt run IMAGE` alone is refused by restore (exit 1, naming
#     --inherit-fd) and runs nothing;
#   - `ckpt run IMAGE --external-fds=null`: fds 45 and 46 are /dev/null, fd 45
#     write-only and fd 46 read-only as they were, and the program goes on;
#   - `ckpt run IMAGE --inherit-fd 45 --external-fds=null`: fd 45 is the file
#     the test gave on fd 45 (what the program writes there arrives), fd 46
#     is /dev/null.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
export PATH="$(dirname "$RESTORE"):$PATH"  # ckpt run finds restore on PATH in a build tree
HOLDER='
import ctypes, fcntl, os, signal, sys
r1, w1 = os.pipe()   # holder writes, child reads
r2, w2 = os.pipe()   # child writes, holder reads
rd, wr = os.pipe()
if os.fork() == 0:   # a grandchild, orphaned at once: outside the dumped tree
    if os.fork() == 0:
        os.close(w1); os.close(r2); os.close(rd)
        os.write(wr, str(os.getpid()).encode())
        while True:
            signal.pause()
    os._exit(0)
os.wait()
os.close(wr)
child = int(os.read(rd, 32))
os.close(rd)
os.dup2(w1, 20); os.dup2(r2, 21)
for n in (r1, w1, r2, w2):
    os.close(n)
os.dup2(20, 45); os.dup2(21, 46)
os.close(20); os.close(21)
print("ready", child, flush=True)
sys.stdin.readline()
mode = {os.O_RDONLY: "r", os.O_WRONLY: "w", os.O_RDWR: "rw"}
for n in (45, 46):
    print("fd", n, os.readlink("/proc/self/fd/%d" % n), mode[fcntl.fcntl(n, fcntl.F_GETFL) & 3], flush=True)
os.write(45, b"after restore\n")
if os.readlink("/proc/self/fd/46") == "/dev/null":
    print("fd 46 reads", len(os.read(46, 10)), "bytes", flush=True)
print("done", flush=True)
'

start orig "$PYTHON" -u -c "$HOLDER"
wait_lines orig 1
child=$(awk '$1 == "ready" {print $2}' "$WORK/orig.out")
[[ -n $child ]] || fail "the holder did not print 'ready CHILD'"
_PIDS[child]=$child  # killed with the test if still there

img="$WORK/outside.ckpt"
disown "$PID_orig"
"$CKPT" dump "$PID_orig" -o "$img" --compress "$COMPRESS" --kill >"$WORK/dump.out" 2>"$WORK/dump.err" ||
  fail "ckpt dump --kill of a process with two outside pipe ends exited $?"
wait_gone orig
for fd in 45 46; do
  n=$(grep -c "^ckpt: warning: fd $fd is a pipe" "$WORK/dump.err")
  ((n == 1)) || fail "expected one warning for fd $fd at dump time, got $n"
  line=$(grep "^ckpt: warning: fd $fd is a pipe" "$WORK/dump.err")
  grep -qF -- "restore --inherit-fd $fd $img" <<<"$line" || fail "the warning for fd $fd does not give the restore flag: $line"
  grep -qF -- "restore --external-fds=null $img" <<<"$line" || fail "the warning for fd $fd does not offer --external-fds=null: $line"
  grep -q "outside the process" <<<"$line" || fail "the warning for fd $fd does not say why: $line"
done
grep -q '^ckpt: warning: fd 45 is a pipe write end' "$WORK/dump.err" || fail "fd 45 is not called a write end"
grep -q '^ckpt: warning: fd 46 is a pipe read end' "$WORK/dump.err" || fail "fd 46 is not called a read end"
[[ $(grep -vc '^ckpt: dumped ' "$WORK/dump.err") == 2 ]] || fail "ckpt dump printed more than the two warnings"
log "dump: $(head -n 1 "$WORK/dump.err")"
kill -9 "$child" 2>/dev/null

"$CKPT" inspect "$img" >"$WORK/inspect.txt" || fail "ckpt inspect exited $?"
for fd in 45 46; do
  grep -Eq "^outside pipe end: fd $fd .*--inherit-fd $fd or --external-fds=null" "$WORK/inspect.txt" ||
    fail "ckpt inspect does not list fd $fd as an outside pipe end"
done
"$CKPT" inspect --json "$img" >"$WORK/inspect.json" || fail "ckpt inspect --json exited $?"
"$PYTHON" - "$WORK/inspect.json" <<'EOF' || fail "ckpt inspect --json does not list the outside pipe ends"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["outside_pipe_ends"] == [45, 46], j["outside_pipe_ends"]
ext = {f["fd"]: f["external"] for f in j["fds"] if f["kind"] == "pipe"}
assert ext == {45: True, 46: True}, ext
EOF

# ckpt run passes on only restore's options, each with its value.
for bad in "--bogus" "--inherit-fd" "--external-fds" "$img --kill"; do
  "$CKPT" run $img $bad </dev/null >"$WORK/usage.out" 2>"$WORK/usage.err"
  rc=$?
  ((rc == 2)) || fail "ckpt run $img $bad exited $rc, expected 2 (usage)"
  [[ -s $WORK/usage.out ]] && fail "ckpt run $img $bad ran something"
done
"$CKPT" run "$img" --external-fds=zero </dev/null >"$WORK/usage.out" 2>"$WORK/usage.err"
rc=$?
((rc == 2)) || fail "ckpt run --external-fds=zero exited $rc, expected 2 (restore's usage error)"
grep -q "only 'null' is known" "$WORK/usage.err" || fail "restore did not say what --external-fds takes: $(cat "$WORK/usage.err")"

# ckpt run without a stand-in: refused by restore, nothing runs.
"$CKPT" run "$img" </dev/null >"$WORK/plain.out" 2>"$WORK/plain.err"
rc=$?
((rc == 1)) || fail "ckpt run without a stand-in for fds 45 and 46 exited $rc, expected 1 (refused by restore)"
grep -q -- '--inherit-fd 45' "$WORK/plain.err" || fail "the refusal does not say --inherit-fd 45: $(cat "$WORK/plain.err")"
[[ -s $WORK/plain.out ]] && fail "the refused restore let the program run"

# --external-fds=null, through ckpt run.
_spawn null "$CKPT" run "$img" --external-fds=null
send null check
close_input null
wait_exit null 0
check_quiet "$WORK/null.err" "ckpt run --external-fds=null"
printf 'fd 45 /dev/null w\nfd 46 /dev/null r\nfd 46 reads 0 bytes\ndone\n' >"$WORK/expected-null"
expect_same "the restored fds 45 and 46 with --external-fds=null" "$WORK/expected-null" "$WORK/null.out"

# --inherit-fd 45 for one, /dev/null for the other, through ckpt run.
_spawn mixed bash -c 'exec 45>"$1"; exec "$2" run "$3" --inherit-fd 45 --external-fds=null' _ \
  "$WORK/fd45.txt" "$CKPT" "$img"
send mixed check
close_input mixed
wait_exit mixed 0
check_quiet "$WORK/mixed.err" "ckpt run --inherit-fd 45 --external-fds=null"
printf 'fd 45 %s w\nfd 46 /dev/null r\nfd 46 reads 0 bytes\ndone\n' "$WORK/fd45.txt" >"$WORK/expected-mixed"
expect_same "the restored fds 45 and 46 with --inherit-fd 45 --external-fds=null" "$WORK/expected-mixed" "$WORK/mixed.out"
printf 'after restore\n' >"$WORK/expected-fd45"
expect_same "what the restored program wrote to the inherited fd 45" "$WORK/expected-fd45" "$WORK/fd45.txt"
log "PASS"
