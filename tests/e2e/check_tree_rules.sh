#!/usr/bin/env bash
# Process trees: what a dump or a restore of a tree refuses, in one line
# naming the pid and why, leaving every member as it was (issue 13):
#   - `ckpt dump --single` of a process with children;
#   - a descendant traced by someone else (strace), or holding an fd ckpt
#     refuses (O_PATH of a FIFO), one owning its fd's SIGIO (F_SETOWN) or holding a
#     lease, or one
#     sharing its parent's fd table or fs state;
#   - restore while a member's saved pid is taken (the original still
#     runs), then `restore --new-pids`, which gives it a new pid and works;
#   - `restore --check` of it (refused likewise; with --new-pids it passes),
#     and `ckpt inspect`/`verify` show the tree;
#   - `restore --lazy` of a tree;
#   - a member whose file is gone: phase 1 names the member, nothing is made;
#   - a member failing, or dying, after others exist but before the barrier
#     (CKPT_FAULT at its launcher's fault point): restore exits 1 naming it,
#     and no member is left;
#   - a member dying, or failing, after the tree is let go but before it
#     resumes (its launcher's second fault point): the root sees it at the
#     resume barrier, restore exits 120 with one line saying so (and the
#     failing member's own line, when it could say why), instead of
#     waiting for ever, and no member is left; also when another member
#     already waits in the resume barrier (three generations).
source "$(dirname "$0")/lib.sh"

# A bash with a child; `wait` (no pid: a pid it stored would be stale with
# --new-pids, docs/architecture.md "Known gaps") ends when the child does.
start tree bash -c 'sleep 1000 & echo "child $!"; wait; echo "waited $?"'
wait_lines tree 1
child=$(awk '/^child/ {print $2}' "$WORK/tree.out")
_PIDS[tree_child]=$child  # killed with the test: it outlives its bash otherwise
root=$PID_tree

expect_refused() {  # WHAT PATTERN CMD...
  local what=$1 pattern=$2; shift 2
  "$@" >"$WORK/refused.out" 2>"$WORK/refused.err"
  local rc=$?
  ((rc == 1)) || fail "$what: exited $rc, expected 1"
  (($(wc -l <"$WORK/refused.err") == 1)) || fail "$what: not one line: $(cat "$WORK/refused.err")"
  grep -qE "$pattern" "$WORK/refused.err" || fail "$what: said '$(cat "$WORK/refused.err")', expected /$pattern/"
  log "$what: $(cat "$WORK/refused.err")"
}
untouched() {  # PID...: running, not traced
  local p
  for p in "$@"; do
    [[ $(proc_state "$p") == S ]] || fail "pid $p is in state $(proc_state "$p") after a refused dump"
    [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$p/status") == 0 ]] || fail "pid $p is still traced"
  done
}

expect_refused "--single with a child" "pid $root has children \\($child\\)" \
  "$CKPT" dump "$root" --single -o "$WORK/single.ckpt"
[[ -e $WORK/single.ckpt ]] && fail "--single left an image behind"
untouched "$root" "$child"

# A descendant someone else traces.
strace -p "$child" -o /dev/null 2>"$WORK/strace.err" &
tracer=$!
for ((i = 0; i < 200; i++)); do
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$child/status") == "$tracer" ]] && break
  sleep 0.05
done
[[ $(awk '/^TracerPid:/ {print $2}' "/proc/$child/status") == "$tracer" ]] || fail "strace did not attach to $child"
expect_refused "a traced descendant" "pid $child, a child of pid $root, is traced by pid $tracer" \
  "$CKPT" dump "$root" -o "$WORK/traced.ckpt" --kill
kill "$tracer"; wait "$tracer" 2>/dev/null
for ((i = 0; i < 200; i++)); do
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$child/status") == 0 ]] && break
  sleep 0.05
done
untouched "$root" "$child"

# Dumped while it goes on running: its child's pid is taken by the child itself.
dump_live tree "$WORK/tree.ckpt"
expect_refused "a taken pid" "pid $child \\(member 1\\) is taken by another process; restore --new-pids" \
  "$RESTORE" "$WORK/tree.ckpt"
expect_refused "--check of a tree with a taken pid" "pid $child \\(member 1\\) is taken by another process" \
  "$RESTORE" --check "$WORK/tree.ckpt"
"$RESTORE" --check --new-pids "$WORK/tree.ckpt" >"$WORK/check.out" 2>"$WORK/check.err" ||
  fail "restore --check --new-pids exited $?: $(cat "$WORK/check.err")"
grep -q "can be restored here (2 processes)" "$WORK/check.out" || fail "restore --check said: $(cat "$WORK/check.out")"
"$CKPT" inspect "$WORK/tree.ckpt" >"$WORK/inspect.out" || fail "ckpt inspect of a tree exited $?"
grep -q '^process tree: 2 processes$' "$WORK/inspect.out" &&
  grep -qE "^  member 1: pid $child, child of pid $root, group [0-9]+, session [0-9]+ \\(sleep\\)$" "$WORK/inspect.out" ||
  fail "ckpt inspect does not show the tree: $(head -n 5 "$WORK/inspect.out")"
grep -q '(2 processes, ' <("$CKPT" verify "$WORK/tree.ckpt") || fail "ckpt verify does not count the processes"
expect_refused "--lazy of a tree" "restore --lazy cannot restore a process tree \\(2 processes\\)" \
  "$RESTORE" --lazy --new-pids "$WORK/tree.ckpt"
# With --new-pids: a second tree beside the first, with a child of its own.
# (through `ckpt run`, which passes --new-pids on to restore)
PATH="$(dirname "$RESTORE"):$PATH" _spawn copy "$CKPT" run --new-pids "$WORK/tree.ckpt"
# Its child is restored once its command line is sleep's and its mask is
# no longer restore's all-ones (before, killing it would end the restore).
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  copy_child=$(cat "/proc/$PID_copy/task/$PID_copy/children" 2>/dev/null | tr -d " ")
  [[ -n $copy_child && $(tr '\0' ' ' <"/proc/$copy_child/cmdline" 2>/dev/null) == "sleep 1000 " ]] &&
    [[ $(awk '/^SigBlk:/ {print $2}' "/proc/$copy_child/status" 2>/dev/null) == 0000000000000000 ]] && break
  sleep 0.05
done
[[ -n $copy_child && $copy_child != "$child" ]] || fail "the copy has no child of its own ('$copy_child')"
[[ $(tr '\0' ' ' <"/proc/$copy_child/cmdline") == "sleep 1000 " ]] || fail "the copy's child is not sleep 1000"
kill -TERM "$copy_child"
wait_lines copy 1
grep -q '^waited 0$' "$WORK/copy.out" || fail "the copy's bash did not see its child die: $(cat "$WORK/copy.out")"
wait_exit copy 0
untouched "$root" "$child"

# A descendant holding an fd ckpt refuses: the dump names that pid and fd,
# before --kill, and every member goes on.
start opath bash -c 'python3 -c "import os, sys, time; os.mkfifo(\"'"$WORK"'/fifo\"); os.open(\"'"$WORK"'/fifo\", os.O_PATH); print(\"ok\", flush=True); time.sleep(1000)" & wait'
wait_lines opath 1
opchild=$(tr -d ' ' <"/proc/$PID_opath/task/$PID_opath/children")
_PIDS[opchild]=$opchild  # killed with the test: it outlives its bash otherwise
expect_refused "a descendant's refused fd" "pid $opchild: .*fd [0-9]+.*O_PATH descriptors are carried only for" \
  "$CKPT" dump "$PID_opath" -o "$WORK/opath.ckpt" --kill
untouched "$PID_opath" "$opchild"

# A descendant that is the SIGIO owner of its own fd: only the root's can be.
start owner bash -c 'python3 -c "import fcntl, os, time; r, w = os.pipe(); fcntl.fcntl(r, fcntl.F_SETOWN, os.getpid()); print(\"ok\", flush=True); time.sleep(1000)" & wait'
wait_lines owner 1
ownchild=$(tr -d ' ' <"/proc/$PID_owner/task/$PID_owner/children")
_PIDS[ownchild]=$ownchild  # killed with the test: it outlives its bash otherwise
expect_refused "a descendant's SIGIO owner" "pid $ownchild: cannot dump fd [0-9]+: its SIGIO owner \\(F_SETOWN\\) is that process" \
  "$CKPT" dump "$PID_owner" -o "$WORK/owner.ckpt" --kill
untouched "$PID_owner" "$ownchild"

# A descendant holding a lease: its break signal could only go to the root.
touch "$WORK/leased"
start lease bash -c 'python3 -c "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.fcntl(fd, 1024, fcntl.F_RDLCK); print(\"ok\", flush=True); time.sleep(1000)" "$1" & wait' bash "$WORK/leased"
wait_lines lease 1
leasechild=$(tr -d ' ' <"/proc/$PID_lease/task/$PID_lease/children")
_PIDS[leasechild]=$leasechild  # killed with the test: it outlives its bash otherwise
expect_refused "a descendant's lease" "pid $leasechild: cannot dump fd [0-9]+: it holds a lease" \
  "$CKPT" dump "$PID_lease" -o "$WORK/lease.ckpt" --kill
untouched "$PID_lease" "$leasechild"

# A child sharing its parent's fd table or fs state (clone flags): refused.
for mode in files fs; do
  start "share_$mode" "$PROGRAMS/tree_sharing" "$mode"
  wait_lines "share_$mode" 1
  kid=$(awk '/^child/ {print $2}' "$WORK/share_$mode.out")
  want=$([[ $mode == files ]] && echo "its fd table \\(CLONE_FILES\\)" || echo "its working directory and umask \\(CLONE_FS\\)")
  expect_refused "a child sharing $mode" "pid $kid shares $want with its parent pid $(pid_of "share_$mode")" \
    "$CKPT" dump "$(pid_of "share_$mode")" -o "$WORK/share.ckpt" --kill
  untouched "$(pid_of "share_$mode")" "$kid"
done

# A member's file gone: refused in phase 1, naming the member; nothing made.
touch "$WORK/data"
start files bash -c 'sleep 1000 3<"$1" & echo "child $!"; wait' bash "$WORK/data"
wait_lines files 1
fchild=$(awk '/^child/ {print $2}' "$WORK/files.out")
dump files "$WORK/files.ckpt"
rm "$WORK/data"
expect_refused "a member's missing file" "pid $fchild \\(member 1\\): fd 3 \\(file $WORK/data\\): the file is missing" \
  "$RESTORE" "$WORK/files.ckpt"
dead() {  # PID: ended (gone, or a zombie init has yet to reap)
  local i
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    [[ $(proc_state "$1") == gone || $(proc_state "$1") == Z ]] && return
    sleep 0.05
  done
  fail "member $1 was left behind (state $(proc_state "$1"))"
}
# Members made, then one fails (each member's first fault point is its own).
start pair bash -c 'sleep 1000 & sleep 1001 & echo "children $(jobs -p | tr "\n" " ")"; wait'
wait_lines pair 1
pair_kids=$(sed -n 's/^children //p' "$WORK/pair.out")
dump pair "$WORK/pair.ckpt"
expect_refused "a member failing before the barrier" "pid [0-9]+ \\(member [12]\\): injected failure at fault point 1 \\(tree: member staged\\)" \
  env CKPT_FAULT=fail CKPT_FAULT_AT=1 "$RESTORE" "$WORK/pair.ckpt"
for k in $pair_kids; do
  dead "$k"
done
expect_refused "a member dying before the barrier" "pid [0-9]+ \\(member [12]\\) ended before the point of no return" \
  env CKPT_FAULT=kill CKPT_FAULT_AT=1 "$RESTORE" "$WORK/pair.ckpt"
for k in $pair_kids; do
  dead "$k"
done
# After the go: the timeout only keeps a hang from stalling the suite (a hang is the failure).
late_fault() {  # MODE AT IMAGE MEMBERS: a member's fault point AT, restore run with a bound
  timeout -s KILL $((WAIT_SECONDS * 3)) env CKPT_FAULT=$1 CKPT_FAULT_AT=$2 "$RESTORE" "$3" \
    >"$WORK/late.out" 2>"$WORK/late.err"
  local rc=$?
  ((rc == 120)) || fail "a member ($1) after the go: restore exited $rc, expected 120: $(head -n 5 "$WORK/late.err")"
  tail -n 1 "$WORK/late.err" | grep -qx 'restore: failed after the point of no return: waiting for the other members of the tree (one ended before it could resume) (errno 32)' ||
    fail "a member ($1) after the go: the root's last line is '$(tail -n 1 "$WORK/late.err")'"
  # Gone, not only ended: the members are the dead root's zombies, reaped
  # by whoever inherits them, and the next restore wants their pids.
  local k i
  for k in $4; do
    for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
      [[ $(proc_state "$k") == gone ]] && break
      sleep 0.05
    done
    [[ $(proc_state "$k") == gone ]] || fail "member $k was left behind (state $(proc_state "$k"))"
  done
}
late_fault kill 2 "$WORK/pair.ckpt" "$pair_kids"
(($(wc -l <"$WORK/late.err") == 1)) || fail "a member dying after the go: not one line: $(cat "$WORK/late.err")"
log "a member dying after the go: $(cat "$WORK/late.err")"
late_fault fail 2 "$WORK/pair.ckpt" "$pair_kids"
grep -qE "^restore: $WORK/pair.ckpt: pid [0-9]+ \\(member [12]\\): injected failure at fault point 2 \\(tree: member released\\)$" "$WORK/late.err" ||
  fail "a member failing after the go did not say why: $(cat "$WORK/late.err")"
log "a member failing after the go: $(head -n 1 "$WORK/late.err")"
# Three generations: the grandchild's launcher inherits its parent's count
# of fault points (1) and dies at its second own (3), after the go, while
# its parent has reached the resume barrier and waits there: that one ends
# quietly when the root fails, leaving the root's line alone.
start deep bash -c 'bash -c "sleep 1000 & wait" & wait'
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  mid=$(cat /proc/"$PID_deep"/task/*/children 2>/dev/null) mid=${mid%% *}
  leaf=$(cat /proc/"${mid:-0}"/task/*/children 2>/dev/null) leaf=${leaf%% *}
  [[ -n $leaf && $(cat /proc/"$leaf"/comm 2>/dev/null) == sleep ]] && break
  sleep 0.05
done
[[ -n $leaf ]] || fail "the three-generation tree did not start"
dump deep "$WORK/deep.ckpt"
late_fault kill 3 "$WORK/deep.ckpt" "$mid $leaf"
(($(wc -l <"$WORK/late.err") == 1)) || fail "a grandchild dying after the go: not one line: $(cat "$WORK/late.err")"
log "a grandchild dying after the go, its parent waiting: $(cat "$WORK/late.err")"
log "ok"
