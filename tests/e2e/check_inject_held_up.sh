#!/usr/bin/env bash
# A batch of injected calls (x86/InjectedBatch.h) whose dumper is held up
# past the batch code's wait: the thread goes back to its own code by
# itself (unmapping the batch area on the way), and the dump, finding it
# there, fails with one line instead of putting back registers that are no
# longer the thread's.
#
# The target, tests/programs/dump_target, runs in a pid namespace of its
# own (unshare --pid --fork --mount-proc: its /proc is its own), where the
# batch code cannot open a pidfd of ckpt (ckpt's pid is not visible
# there), so its wait is the short timeout (2 s). ckpt is stopped at
# "inject: batch done" (CKPT_FAULT=stop) until the area is gone (2.5 s at
# least), then continued. Checked: exit 1, one line saying the thread ran
# on by itself; the target untraced, its maps as before, and its own check
# (masks, pending signals, actions, memory, registers of a busy thread)
# passes. Then an ordinary dump of it, with a batch, succeeds.
source "$(dirname "$0")/lib.sh"

# dump_target as pid 2 of the namespace (pid 1, a shell waiting for it,
# would make its signal checks those of an init).
start ns unshare --pid --fork --mount-proc --kill-child sh -c '"$0"; exit $?' "$PROGRAMS/dump_target"
wait_lines ns 1
target=""
for ((i = 0; i < 100; i++)); do
  init=$(cat "/proc/$PID_ns/task/$PID_ns/children" 2>/dev/null | awk '{print $1}')
  [[ -n $init ]] && target=$(cat "/proc/$init/task/$init/children" 2>/dev/null | awk '{print $1}')
  [[ -n $target ]] && break
  sleep 0.01
done
[[ -n $target ]] || fail "no dump_target under unshare (pid $PID_ns)"
grep -qE '^NSpid:\s+[0-9]+\s+2$' "/proc/$target/status" || fail "pid $target is not pid 2 of a namespace of its own"

checked() { target_check ns "$1"; }
checked "before any dump"
maps_before=$(<"/proc/$target/maps")

CKPT_FAULT=stop CKPT_FAULT_AT="inject: batch done" "$CKPT" dump "$target" -o "$WORK/held.ckpt" \
  >"$WORK/held.out" 2>"$WORK/held.err" &
dumper=$!
for ((i = 0; i < WAIT_SECONDS * 100; i++)); do
  [[ $(proc_state "$dumper") == T ]] && break
  sleep 0.01
done
[[ $(proc_state "$dumper") == T ]] || fail "ckpt did not stop at 'inject: batch done': $(cat "$WORK/held.err")"
sleep 2.5  # past the batch code's 2 s wait
# The thread goes back by itself: the batch area goes with it.
for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
  [[ $(<"/proc/$target/maps") == "$maps_before" ]] && break
  sleep 0.1
done
[[ $(<"/proc/$target/maps") == "$maps_before" ]] || fail "the batch area is still mapped after the code's wait"
kill -CONT "$dumper"
wait "$dumper"
rc=$?
((rc == 1)) || fail "the held-up dump exited $rc, expected 1: $(head -n 3 "$WORK/held.err")"
(($(wc -l <"$WORK/held.err") == 1)) || fail "the held-up dump printed more than one line: $(cat "$WORK/held.err")"
grep -q "thread $target ran on by itself during injected system calls: ckpt was held up for over 2 s" "$WORK/held.err" ||
  fail "the failure does not say why: $(cat "$WORK/held.err")"
compgen -G "$WORK/held.ckpt*" >/dev/null && fail "the failed dump left $(ls "$WORK"/held.ckpt*)"
[[ $(awk '/^TracerPid:/ {print $2}' "/proc/$target/status") == 0 ]] || fail "the target is still traced"
[[ $(<"/proc/$target/maps") == "$maps_before" ]] || fail "the failed dump changed the target's maps"
checked "after the held-up dump"
log "held up: $(cat "$WORK/held.err")"

CKPT_FAULT=trace "$CKPT" dump "$target" -o "$WORK/ok.ckpt" >/dev/null 2>"$WORK/ok.err" ||
  fail "a dump of the target in its pid namespace failed: $(grep -v '^ckpt fault point' "$WORK/ok.err" | head -n 3)"
grep -q 'inject: batch done' "$WORK/ok.err" || fail "the dump in a pid namespace ran no batch"
checked "after a dump that succeeded"
log "PASS"
