#!/usr/bin/env bash
# `ckpt run -o FILE TRIGGER [--kill] -- CMD`: start a program and dump it
# at a moment chosen from outside. --when-output (with and without --kill):
# the program's output still reaches ckpt's stdout and stderr, the image is
# taken after the matching line and holds no pipe (fds 0-2 are restore's),
# the original goes on and ckpt exits with its status; --after; --on-signal
# (SIGUSR1 sent to ckpt). Each restored copy continues from the moment of
# the dump (a value drawn before it is the same, the line read after it is
# the copy's own). Errors: the program ending before the trigger, a missing
# program, an output folder that does not exist (the program is ended),
# usage errors (exit 2). `ckpt run FILE` (restore) still works.
source "$(dirname "$0")/lib.sh"

# Draws a value, says ready, then reads one line and reports both.
# (ready goes to stdout without a redirection: bash keeps a saved copy of
# a redirected fd open while the builtin runs, and the dump may catch it.)
prog='v=$RANDOM$RANDOM; echo loading >&2; echo "ready v=$v"; read line; echo "got $line v=$v"; exit 3'

# --when-output --kill: stdin gets its line only after the dump.
# Its line comes only once the image exists (so never before the dump).
after_image() { for ((i = 0; i < 1200; ++i)); do [[ -e $1 ]] && break; sleep 0.05; done; echo original; }
after_image "$WORK/a.ckpt" | timeout 60 "$CKPT" run -o "$WORK/a.ckpt" --when-output '^ready v=' --kill -- bash -c "$prog" \
  >"$WORK/a.out" 2>"$WORK/a.err"
rc=${PIPESTATUS[1]}
((rc == 0)) || fail "run --when-output --kill: exit status $rc"
grep -q '^loading$' "$WORK/a.err" || fail "the program's stderr did not reach ckpt's"
v=$(sed -n 's/^ready v=\([0-9]*\)$/\1/p' "$WORK/a.out")
[[ -n $v ]] || fail "the program's stdout did not reach ckpt's"
grep -q "when its output matched" "$WORK/a.err" || fail "no dump line"
grep -q 'warning' "$WORK/a.err" && fail "the dump warned (a pipe held in the image?)"
grep -q '^got' "$WORK/a.out" && fail "the original went on after --kill"
for copy in 1 2; do
  out=$(echo "copy$copy" | timeout 60 "$RESTORE" "$WORK/a.ckpt" 2>"$WORK/restore$copy.err")
  rc=$?
  ((rc == 3)) || fail "copy $copy: exit status $rc, not the program's 3"
  [[ $out == "got copy$copy v=$v" ]] || fail "copy $copy printed '$out', expected 'got copy$copy v=$v'"
done
log "--when-output --kill: output passed on, two copies continue from the match"

# --when-output without --kill: the original goes on, its status is ckpt's.
after_image "$WORK/b.ckpt" | timeout 60 "$CKPT" run -o "$WORK/b.ckpt" --when-output 'ready' -- bash -c "$prog" \
  >"$WORK/b.out" 2>"$WORK/b.err"
rc=${PIPESTATUS[1]}
((rc == 3)) || fail "run --when-output: exit status $rc, not the program's 3"
v=$(sed -n 's/^ready v=\([0-9]*\)$/\1/p' "$WORK/b.out")
grep -qx "got original v=$v" "$WORK/b.out" || fail "the original did not go on"
out=$(echo again | timeout 60 "$RESTORE" "$WORK/b.ckpt" 2>/dev/null)
[[ $out == "got again v=$v" ]] || fail "copy of b printed '$out'"
log "--when-output: the original went on with exit status 3"

# --after, the program's output straight to files (not through ckpt).
mkfifo "$WORK/in"
exec 7<>"$WORK/in"
timeout 60 "$CKPT" run -o "$WORK/c.ckpt" --after 0.5 --kill -- bash -c "$prog" <"$WORK/in" >"$WORK/c.out" 2>"$WORK/c.err" ||
  fail "run --after failed"
grep -q 'when 0.5 s had passed' "$WORK/c.err" || fail "run --after: no dump line"
out=$(echo later | timeout 60 "$RESTORE" "$WORK/c.ckpt" 2>/dev/null)
# (On a busy machine the program may not have drawn its value by then: the copy does it.)
v=$(sed -n 's/^ready v=\([0-9]*\)$/\1/p' "$WORK/c.out" <(printf '%s\n' "$out"))
[[ ${out##*$'\n'} == "got later v=$v" ]] || fail "copy of c printed '$out'"
log "--after: dumped, copy continues"

# --on-signal USR1, sent to ckpt once the program is ready.
"$CKPT" run -o "$WORK/d.ckpt" --on-signal USR1 --kill -- bash -c "$prog" <"$WORK/in" >"$WORK/d.out" \
  2>"$WORK/d.err" &
ckpt_pid=$!
_PIDS[ckpt_d]=$ckpt_pid
for ((i = 0; i < 2000; ++i)); do grep -q '^ready' "$WORK/d.out" 2>/dev/null && break; sleep 0.01; done
grep -q '^ready' "$WORK/d.out" || fail "run --on-signal: the program never got ready"
[[ -e $WORK/d.ckpt ]] && fail "run --on-signal: dumped before the signal"
kill -USR1 "$ckpt_pid"
wait "$ckpt_pid" || fail "run --on-signal: ckpt failed"
unset '_PIDS[ckpt_d]'
grep -q 'when ckpt got SIGUSR1' "$WORK/d.err" || fail "run --on-signal: no dump line"
v=$(sed -n 's/^ready v=\([0-9]*\)$/\1/p' "$WORK/d.out")
out=$(echo signalled | timeout 60 "$RESTORE" "$WORK/d.ckpt" 2>/dev/null)
[[ $out == "got signalled v=$v" ]] || fail "copy of d printed '$out'"
log "--on-signal: dumped on SIGUSR1, copy continues"

# The old form: ckpt run FILE runs restore (found on PATH here).
out=$(echo old | PATH=$(dirname "$RESTORE"):$PATH timeout 60 "$CKPT" run "$WORK/d.ckpt" 2>/dev/null)
[[ $out == "got old v=$v" ]] || fail "ckpt run FILE printed '$out'"

# Errors.
expect() {  # STATUS WHAT-STDERR-SAYS ARGS...
  local want=$1 says=$2
  shift 2
  timeout 60 "$CKPT" run "$@" </dev/null >"$WORK/e.out" 2>"$WORK/e.err"
  local rc=$?
  ((rc == want)) || fail "ckpt run $*: exit status $rc, expected $want"
  grep -q -- "$says" "$WORK/e.err" || fail "ckpt run $*: stderr does not say '$says'"
}
expect 1 'ended before the dump, with exit status 0' -o "$WORK/e.ckpt" --when-output never -- echo hello
grep -qx hello "$WORK/e.out" || fail "output of a program ending early was not passed on"
expect 1 'cannot run /no/such/program' -o "$WORK/e.ckpt" --after 0 -- /no/such/program
expect 2 'exactly one of' -o "$WORK/e.ckpt" -- true
expect 2 'exactly one of' -o "$WORK/e.ckpt" --after 1 --on-signal USR1 -- true
expect 2 'needs the program after --' -o "$WORK/e.ckpt" --after 1
expect 2 'not a regular expression' -o "$WORK/e.ckpt" --when-output '(' -- true
expect 2 'not .KILL' -o "$WORK/e.ckpt" --on-signal KILL -- true
expect 2 'seconds' -o "$WORK/e.ckpt" --after -1 -- true
[[ -e $WORK/e.ckpt ]] && fail "an error left an image"
# A dump that fails ends the program it started.
expect 1 'no-dir' -o "$WORK/no-dir/x.ckpt" --when-output '^[0-9]+$' -- bash -c 'echo $$; exec sleep 300'
p=$(head -1 "$WORK/e.out")
[[ $p =~ ^[0-9]+$ ]] || fail "the program's pid was not passed on: '$p'"
[[ $(proc_state "$p") == gone ]] || fail "the program (pid $p) outlived a failed dump"
log "errors: each one line, usage errors exit 2, a failed dump ends the program"
log PASS
