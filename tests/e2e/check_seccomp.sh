#!/usr/bin/env bash
# Seccomp filters carried (tests/programs/state_seccomp.c; e2e.state_seccomp
# checks their effect in both threads after a restore):
#   - the image holds the process's two filters, oldest first, the first
#     with its LOG flag; a dump of the restored process holds the very same
#     (same order, flags and instructions: `ckpt inspect` prints a checksum
#     of each program); the process was dumped with its filters suspended
#     for ckpt's calls, one call at a time (no batch);
#   - a tree (bash and its child) under a filter: each member carries it;
#   - ckpt killed at fault points of such a dump: the process is left as
#     it was, under its filters, each time;
#   - refused at dump, naming the reason, the process left running and
#     untraced: a filter that hands calls to a supervisor (USER_NOTIF),
#     threads under different chains, and ckpt itself under a filter (it
#     can then neither read nor suspend the process's);
#   - refused by restore before the point of no return, and by
#     `restore --check` as well (the original,
#     dumped without --kill, still answers; nothing restored runs): a filter
#     that would fail restore's own last munmap, filters the kernel will not
#     take from the process (attached with a capability it dropped, without
#     no_new_privs: tried in a child of restore); crafted images: a program
#     jumping beyond its end, and more filters than the credentials count.
source "$(dirname "$0")/lib.sh"
TOOLS="$PROGRAMS/../tools"

start s "$PROGRAMS/state_seccomp"
wait_lines s 1
disown "$PID_s"
CKPT_FAULT=trace "$CKPT" dump "$PID_s" -o "$WORK/s.ckpt" --kill >/dev/null 2>"$WORK/s.err" ||
  fail "the dump failed: $(grep -v '^ckpt fault point' "$WORK/s.err" | head -n 3)"
grep -q 'inject: batch' "$WORK/s.err" && fail "a batch of injected calls ran while the process's filters were suspended"
wait_gone s
seccomp_filters "$WORK/s.ckpt" >"$WORK/s.filters"
[[ $(wc -l <"$WORK/s.filters") == 2 ]] || fail "the image does not hold two filters: $(cat "$WORK/s.filters")"
grep -q '^seccomp filter 0 .*flag LOG' "$WORK/s.filters" || fail "filter 0 is not the LOG one: $(cat "$WORK/s.filters")"
grep -q '^seccomp filter 1 .*flag LOG' "$WORK/s.filters" && fail "filter 1 has the LOG flag: $(cat "$WORK/s.filters")"
"$RESTORE" --check "$WORK/s.ckpt" >/dev/null 2>"$WORK/s.check.err" || fail "restore --check refused the image: $(cat "$WORK/s.check.err")"
restored_same_filters r "$WORK/s.ckpt"
send r check
close_input r
wait_exit r 0
grep -q '^PASS' "$WORK/r.out" || fail "the restored process did not pass its check: $(cat "$WORK/r.out")"
log "carried: $(tr '\n' ';' <"$WORK/s.filters")"

# A tree under a filter: bash and its child, both under the filter
# dump_target attached before exec (acct fails with EPERM). Dumped with
# --kill, restored: both members carry it (one filter each), and the child
# is still sleep, bash still waiting for it.
start tree "$PROGRAMS/dump_target" --under-seccomp 163 bash -c 'sleep 1000 & echo "child $!"; wait'
wait_lines tree 1
tchild=$(awk '/^child/ {print $2}' "$WORK/tree.out")
_PIDS[tree_child]=$tchild
[[ $(awk '/^Seccomp_filters:/ {print $2}' "/proc/$tchild/status") == 1 ]] || fail "the tree's child has no filter"
dump tree "$WORK/tree.ckpt"
[[ $("$CKPT" inspect "$WORK/tree.ckpt" | grep -c '^seccomp filter 0 ') == 2 ]] ||
  fail "the tree's image does not carry a filter for each member: $("$CKPT" inspect "$WORK/tree.ckpt" | grep -i seccomp)"
restore_start rtree "$WORK/tree.ckpt"
for ((i = 0; i < 100; i++)); do
  rchild=$(cat "/proc/$PID_rtree/task/$PID_rtree/children" 2>/dev/null | tr -d ' ')
  [[ -n $rchild && $(tr '\0' ' ' <"/proc/$rchild/cmdline" 2>/dev/null) == "sleep 1000 " &&
     $(awk '/^Seccomp_filters:/ {print $2}' "/proc/$rchild/status" 2>/dev/null) == 1 ]] && break
  sleep 0.05
done
[[ -n $rchild ]] || fail "the restored tree has no child"
_PIDS[rtree_child]=$rchild
for p in "$PID_rtree" "$rchild"; do
  [[ $(awk '/^Seccomp_filters:/ {print $2}' "/proc/$p/status") == 1 ]] ||
    fail "restored member $p has $(awk '/^Seccomp_filters:/ {print $2}' "/proc/$p/status") filters, want 1"
done
log "a tree under a filter: both members restored under it (pids $PID_rtree, $rchild)"
kill "$rchild"
wait_exit rtree 0

# ckpt killed at fault points of a dump of a process under its own filters
# (every 7th point, and every point that is not one of the single calls'):
# each time the process is left untraced, in its wait, under its 2 filters
# (the suspension ends with ckpt), its maps as before; its check then
# passes (the filters still act, in both threads).
start k "$PROGRAMS/state_seccomp"
wait_lines k 1
maps_before=$(<"/proc/$PID_k/maps")
CKPT_FAULT=trace "$CKPT" dump "$PID_k" -o "$WORK/ktrace.ckpt" >/dev/null 2>"$WORK/ktrace.err" ||
  fail "the traced dump failed: $(grep -v '^ckpt fault point' "$WORK/ktrace.err" | head -n 3)"
sed -n 's/^ckpt fault point \([0-9]*\): /\1 /p' "$WORK/ktrace.err" >"$WORK/kpoints"
kills=0
while read -r n what; do
  [[ $what == inject:* ]] && ((n % 7)) && continue
  (CKPT_FAULT=kill CKPT_FAULT_AT=$n "$CKPT" dump "$PID_k" -o "$WORK/k.ckpt" >/dev/null 2>"$WORK/k.err"
   echo $? >"$WORK/k.rc") 2>/dev/null
  [[ $(<"$WORK/k.rc") == 137 ]] || fail "point $n ($what): ckpt exited $(<"$WORK/k.rc") instead of being killed"
  for ((i = 0; i < 200; i++)); do
    [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$PID_k/status") == 0 && $(proc_state "$PID_k") == S &&
       $(<"/proc/$PID_k/maps") == "$maps_before" ]] && break
    sleep 0.01
  done
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$PID_k/status") == 0 ]] || fail "killed at point $n ($what): still traced"
  [[ $(proc_state "$PID_k") == S ]] || fail "killed at point $n ($what): state $(proc_state "$PID_k")"
  [[ $(<"/proc/$PID_k/maps") == "$maps_before" ]] || fail "killed at point $n ($what): its maps changed"
  [[ $(awk '/^Seccomp_filters:/ {print $2}' "/proc/$PID_k/status") == 2 ]] || fail "killed at point $n ($what): filters changed"
  rm -f "$WORK"/k.ckpt*
  kills=$((kills + 1))
done <"$WORK/kpoints"
((kills >= 40)) || fail "only $kills kill points"
send k check
close_input k
wait_exit k 0
grep -q '^PASS' "$WORK/k.out" || fail "after ckpt was killed $kills times, the check failed: $(cat "$WORK/k.out")"
log "ckpt killed at $kills of $(wc -l <"$WORK/kpoints") points of a dump under the process's filters; $(grep '^PASS' "$WORK/k.out")"

# refused_dump MODE WHAT: the dump fails naming WHAT; the process runs on, untraced.
refused_dump() {
  local mode=$1 what=$2
  start "d$mode" "$PROGRAMS/state_seccomp" "--$mode"
  wait_lines "d$mode" 1
  local pid
  pid=$(pid_of "d$mode")
  "$CKPT" dump "$pid" -o "$WORK/$mode.ckpt" --kill >/dev/null 2>"$WORK/$mode.err" &&
    fail "a process with $mode filters was dumped"
  grep -q "$what" "$WORK/$mode.err" || fail "the refusal of $mode does not say '$what': $(cat "$WORK/$mode.err")"
  [[ -e $WORK/$mode.ckpt ]] && fail "a refused dump left $WORK/$mode.ckpt"
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status") == 0 ]] || fail "the $mode process is still traced"
  [[ $(proc_state "$pid") == S ]] || fail "the $mode process is in state $(proc_state "$pid") after the refusal"
  log "refused at dump: $(head -n 1 "$WORK/$mode.err")"
  kill "$pid"
}
refused_dump notify "SECCOMP_RET_USER_NOTIF"
refused_dump split "other seccomp filters than thread"

# ckpt itself under a filter (of its own, on acct) cannot read the
# process's: refused, saying what it needs.
start u "$PROGRAMS/state_seccomp"
wait_lines u 1
"$PROGRAMS/dump_target" --under-seccomp 163 "$CKPT" dump "$PID_u" -o "$WORK/u.ckpt" >/dev/null 2>"$WORK/u.err" &&
  fail "ckpt under a seccomp filter of its own dumped a process under two others"
grep -q "cannot read filter 0.*no seccomp filter of its own" "$WORK/u.err" ||
  fail "the refusal under ckpt's own filter does not say why: $(cat "$WORK/u.err")"
[[ $(awk '/^TracerPid:/ {print $2}' "/proc/$PID_u/status") == 0 ]] || fail "the process is still traced"
log "refused, ckpt under a filter itself: $(head -n 1 "$WORK/u.err")"
send u check
close_input u
wait_exit u 0

# refused_restore IMAGE WHAT: restore fails before the point of no return, naming WHAT.
refused_restore() {
  local img=$1 what=$2 rc
  ${RESTORE_WITH:-} "$RESTORE" "$img" </dev/null >"$WORK/refused.out" 2>"$WORK/refused.err"
  rc=$?
  ((rc != 0 && rc != 120)) || fail "restore of $img exited $rc (want a refusal before the point of no return)"
  grep -q "$what" "$WORK/refused.err" || fail "restore of $img does not say '$what': $(cat "$WORK/refused.err")"
  [[ -s $WORK/refused.out ]] && fail "something of $img ran: $(cat "$WORK/refused.out")"
  ${RESTORE_WITH:-} "$RESTORE" --check "$img" </dev/null >/dev/null 2>"$WORK/refused.check.err"
  rc=$?
  ((rc == 1)) || fail "restore --check of $img exited $rc, want 1 (a refusal)"
  grep -q "$what" "$WORK/refused.check.err" || fail "restore --check of $img does not say '$what': $(cat "$WORK/refused.check.err")"
  log "refused at restore (and by restore --check): $(grep -m1 "$what" "$WORK/refused.err")"
}
start m "$PROGRAMS/state_seccomp" --deny-munmap
wait_lines m 1
dump_live m "$WORK/munmap.ckpt"
refused_restore "$WORK/munmap.ckpt" "answers 0x50001 to restore's last munmap"
send m check
close_input m
wait_exit m 0
# Filters attached with CAP_SYS_ADMIN, which the process then dropped, and
# no no_new_privs: restore, run with the same capabilities, is refused by
# the kernel when it tries them (in a child, before the point of no return).
start n "$PROGRAMS/state_seccomp" --no-nnp
wait_lines n 1
dump_live n "$WORK/nnp.ckpt"
RESTORE_WITH="setpriv --bounding-set=-sys_admin --" refused_restore "$WORK/nnp.ckpt" "the kernel refuses the process's seccomp filter 0: Permission denied (the process had neither no_new_privs nor CAP_SYS_ADMIN)"
send n check
close_input n
wait_exit n 0
"$TOOLS/image_edit" "$WORK/s.ckpt" "$WORK/jump.ckpt" seccomp_jump=9 || fail "image_edit seccomp_jump failed"
refused_restore "$WORK/jump.ckpt" "seccomp: filter 0: instruction 0: jumps beyond the program"
"$TOOLS/image_edit" "$WORK/s.ckpt" "$WORK/extra.ckpt" seccomp_extra=1 || fail "image_edit seccomp_extra failed"
refused_restore "$WORK/extra.ckpt" "3 filters, where the credentials say 2"
log "PASS"
