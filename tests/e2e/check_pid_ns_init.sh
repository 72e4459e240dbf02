#!/usr/bin/env bash
# restore --pid-ns of a process that was a pid namespace's init (saved pid
# 1): it becomes the new namespace's init itself, with no init of
# restore's in between, and keeps init's rules (its parent is outside the
# namespace: getppid() 0; signals it has no handler for are ignored).
#
# The program runs as pid 1 of a namespace (`unshare --pid --fork
# --mount-proc`) and is dumped from inside that namespace (nsenter), so the
# image says pid 1; it keeps running (dumped without --kill: killing a
# namespace's init would kill the dumper too), and is killed after.
# Restored with --pid-ns: its check PASSes (getpid, gettid, /proc/self,
# /proc/1 as before), the outer restore's only child is the program, whose
# NSpid is "HOSTPID 1"; SIGTERM sent to the outer restore reaches its
# handler, and its exit code is how the outer restore ends.
source "$(dirname "$0")/lib.sh"

ws=$PROGRAMS/wait_status
img=$WORK/init.ckpt

start ns unshare --pid --fork --mount-proc "$PROGRAMS/pidns_ids" --no-threads
wait_lines ns 1
grep -q '^ready pid=1 tid=1 ' "$WORK/ns.out" || fail "the program is not its namespace's pid 1: $(head -n 1 "$WORK/ns.out")"
inner=$(cat "/proc/$PID_ns/task/$PID_ns/children")
inner=${inner%% *}
[[ -n $inner ]] || fail "unshare (pid $PID_ns) has no child"
nsenter --target "$inner" --pid --mount "$CKPT" dump 1 -o "$img" --compress "$COMPRESS" \
  >"$WORK/dump.out" 2>"$WORK/dump.err" || fail "ckpt dump 1 inside the namespace failed: $(cat "$WORK/dump.err")"
check_quiet "$WORK/dump.err" "ckpt dump"
grep -q '^process: pid 1 ' <("$CKPT" inspect "$img") || fail "the image does not say pid 1: $("$CKPT" inspect "$img" | head -n 2)"
kill -KILL "$inner"
wait_exit ns any

_spawn r "$ws" "$WORK/r.status" "$RESTORE" --pid-ns "$img"
send r ids check
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  grep -q '^checked' "$WORK/r.out" && break
  sleep 0.05
done
grep -q '^PASS' "$WORK/r.out" || fail "restore --pid-ns of a pid 1 did not PASS: $(grep -v '^ready' "$WORK/r.out" | head -n 5)"
grep -q '^ids pid=1 tid=1 ppid=0 self=1 ' "$WORK/r.out" || fail "ids: $(grep '^ids' "$WORK/r.out"), expected pid 1, ppid 0"
check_quiet "$WORK/r.err" "restore --pid-ns"
outer=$(cat "/proc/$PID_r/task/$PID_r/children")
outer=${outer%% *}
root=$(cat "/proc/$outer/task/$outer/children")
[[ $root == *" "*" "* ]] && fail "the outer restore has several children: $root"
root=${root%% *}
nspid=$(awk '/^NSpid:/ {print $2, $3}' "/proc/$root/status")
[[ $nspid == "$root 1" ]] || fail "the outer restore's child has NSpid '$nspid', expected '$root 1'"
log "restored as its namespace's init: NSpid $nspid"

kill -TERM "$outer"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  grep -q '^handled signal 15 from 0$' "$WORK/r.out" && break
  sleep 0.05
done
grep -q '^handled signal 15 from 0$' "$WORK/r.out" || fail "SIGTERM to restore did not reach the handler: $(tail -n 3 "$WORK/r.out")"
send r "exit 5"
wait_exit r 0
[[ $(cat "$WORK/r.status") == "exit 5" ]] || fail "restore ended with '$(cat "$WORK/r.status")', expected 'exit 5'"
log "SIGTERM reached the handler (from outside the namespace: si_pid 0); exit 5 passed out"
