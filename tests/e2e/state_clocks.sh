#!/usr/bin/env bash
# CLOCK_MONOTONIC and CLOCK_BOOTTIME of a restored process go on from their
# values at the dump (a time namespace), whatever the image did meanwhile;
# restore --host-clocks keeps the host's instead; clocks that would go
# back are refused; without CAP_SYS_ADMIN the host's are kept with a
# warning; an absolute timerfd keeps its deadline on the process's clock.
# Speed-independent: every bound is between readings of the
# script's own clocks (H) and the process's (P) taken before and after:
#   in a namespace, P2 - P1 <= (H2 - H1) - SIT   (the sitting time is left out)
#   with host clocks, P2 - P1 >= SIT
source "$(dirname "$0")/lib.sh"
TEST_NAME=state_clocks
prog="$PROGRAMS/state_clocks"
SIT=3  # seconds the image sits between dump and restore

# clocks NAME: asks NAME for its clocks; sets MONO BOOT OFF_MONO OFF_BOOT.
# Its absolute CLOCK_MONOTONIC timerfd must still expire at its deadline
# on the process's clock, namespace or not (within 500 ms: two readings).
clocks() {
  local name=$1 n skew
  n=$(wc -l <"$WORK/$name.out")
  send "$name" tick
  wait_lines "$name" $((n + 1))
  read -r _ MONO BOOT OFF_MONO OFF_BOOT skew < <(tail -n 1 "$WORK/$name.out")
  ((skew >= -500 && skew <= 500)) ||
    fail "$name: its absolute CLOCK_MONOTONIC timerfd moved by $skew ms against its own clock"
}
host() { read -r _ H_MONO H_BOOT _ _ < <("$prog" --now); }

# restore_clocks IMAGE [RESTORE OPTIONS...]: restores IMAGE as "back",
# reads its clocks, ends it; sets MONO BOOT OFF_MONO OFF_BOOT.
restore_clocks() {
  local img=$1; shift
  _spawn back "$RESTORE" ${RESTORE_FLAGS:-} "$@" "$img"
  clocks back
  close_input back
  wait_exit back 0
}

# 1. Clocks continue from the dump (SIT s later, as a plain restore).
start orig "$prog"
wait_lines orig 1
host; H1_MONO=$H_MONO H1_BOOT=$H_BOOT
clocks orig; P1_MONO=$MONO P1_BOOT=$BOOT
dump orig "$WORK/clocks.ckpt"
sleep "$SIT"
restore_clocks "$WORK/clocks.ckpt"
host
check_quiet "$WORK/back.err" "restore"
((MONO >= P1_MONO && BOOT >= P1_BOOT)) || fail "clocks went back: monotonic $P1_MONO -> $MONO, boottime $P1_BOOT -> $BOOT"
((MONO - P1_MONO <= H_MONO - H1_MONO - SIT * 1000000000)) ||
  fail "CLOCK_MONOTONIC jumped: $(((MONO - P1_MONO) / 1000000)) ms passed for the process, $(((H_MONO - H1_MONO) / 1000000)) ms for the host of which $SIT s the image sat"
((BOOT - P1_BOOT <= H_BOOT - H1_BOOT - SIT * 1000000000)) ||
  fail "CLOCK_BOOTTIME jumped: $(((BOOT - P1_BOOT) / 1000000)) ms passed for the process, $(((H_BOOT - H1_BOOT) / 1000000)) ms for the host"
((OFF_MONO <= -SIT && OFF_BOOT <= -SIT)) || fail "timens_offsets of the restored process: monotonic $OFF_MONO s, boottime $OFF_BOOT s, want <= -$SIT"
log "in a time namespace: +$(((MONO - P1_MONO) / 1000000)) ms over a dump, ${SIT} s on disk and a restore; offsets $OFF_MONO s / $OFF_BOOT s"

# 1b. A restored process (living in the namespace) dumped again: its own
# clocks are saved, and a second restore continues from them. The first
# of the two restores is a plain one even under --lazy: a process whose
# page server still has pages to bring in is refused by the dump (its
# areas are registered with a userfaultfd; e2e.state_lazy checks that).
_spawn again "$RESTORE" "$WORK/clocks.ckpt"
clocks again
host; H1_MONO=$H_MONO
clocks again; P1_MONO=$MONO
dump again "$WORK/again.ckpt"
sleep "$SIT"
restore_clocks "$WORK/again.ckpt"
host
((MONO >= P1_MONO && MONO - P1_MONO <= H_MONO - H1_MONO - SIT * 1000000000)) ||
  fail "restored twice: CLOCK_MONOTONIC went from $P1_MONO to $MONO ns over $(((H_MONO - H1_MONO) / 1000000)) ms of which $SIT s on disk"

# 2. --host-clocks: the host's clocks, ahead by at least the sitting time.
restore_clocks "$WORK/clocks.ckpt" --host-clocks
check_quiet "$WORK/back.err" "restore --host-clocks"
[[ -s $WORK/back.err ]] && fail "restore --host-clocks warned: $(cat "$WORK/back.err")"
((MONO - P1_MONO >= SIT * 1000000000 && BOOT - P1_BOOT >= SIT * 1000000000)) ||
  fail "--host-clocks: the clocks moved only $(((MONO - P1_MONO) / 1000000)) ms / $(((BOOT - P1_BOOT) / 1000000)) ms"
((OFF_MONO == 0 && OFF_BOOT == 0)) || fail "--host-clocks: timens_offsets $OFF_MONO / $OFF_BOOT, want 0"

# 3. Without CAP_SYS_ADMIN: the host's clocks, with a warning saying so.
nocap=(setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin)
_spawn back "${nocap[@]}" "$RESTORE" ${RESTORE_FLAGS:-} "$WORK/clocks.ckpt"
clocks back
close_input back
wait_exit back 0
grep -q '^restore: warning: CLOCK_MONOTONIC jumps ahead by .*CAP_SYS_ADMIN' "$WORK/back.err" ||
  fail "restore without CAP_SYS_ADMIN did not warn of the clock jump: $(cat "$WORK/back.err")"
((MONO - P1_MONO >= SIT * 1000000000)) || fail "without CAP_SYS_ADMIN the clock moved only $(((MONO - P1_MONO) / 1000000)) ms"

# 4. An image whose clocks are ahead of this machine's (another boot): the
# namespace brings them back; the host's clocks would go back: refused,
# by --check too, and without privilege.
start far unshare -T --monotonic 1000000 --boottime 1000000 "$prog"
wait_lines far 1
clocks far; P1_MONO=$MONO
((P1_MONO > 1000000 * 1000000000)) || fail "unshare --monotonic did not move the clock ($P1_MONO ns)"
dump far "$WORK/far.ckpt"
restore_clocks "$WORK/far.ckpt"
((MONO >= P1_MONO && MONO - P1_MONO < 1000000 * 1000000000)) ||
  fail "an image from a clock 1000000 s ahead came back at $MONO ns (dumped at $P1_MONO)"
for opts in "--host-clocks" "--check --host-clocks"; do
  # shellcheck disable=SC2086
  "$RESTORE" $opts "$WORK/far.ckpt" </dev/null >"$WORK/refused.out" 2>"$WORK/refused.err" && fail "restore $opts accepted clocks that go back"
  grep -q 'CLOCK_MONOTONIC would go back by' "$WORK/refused.err" || fail "restore $opts: $(cat "$WORK/refused.err")"
done
"${nocap[@]}" "$RESTORE" "$WORK/far.ckpt" </dev/null >"$WORK/refused.out" 2>"$WORK/refused.err" &&
  fail "restore without CAP_SYS_ADMIN accepted clocks that go back"
grep -q 'would go back by .*CAP_SYS_ADMIN' "$WORK/refused.err" || fail "restore without CAP_SYS_ADMIN: $(cat "$WORK/refused.err")"
log "PASS: continue from the dump, --host-clocks, no CAP_SYS_ADMIN, an image from a clock 1000000 s ahead"
