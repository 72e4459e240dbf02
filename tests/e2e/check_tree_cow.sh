#!/usr/bin/env bash
# Issue 13: private memory a parent and its children still share
# copy-on-write since fork comes back shared, not once per process, and
# every page of every member comes back exact.
#
# tests/programs/tree_cow fills 64 MiB, forks 8 workers that each write a
# few pages of their own (mixed: one also writes 1 MiB of the shared area,
# one discards 1 MiB and unmaps another, one has a grandchild). The tree is
# dumped with --kill and restored; then every member compares every page of
# the area with what it must hold (tree_cow "check"), and the tree's total
# PSS (the sum of Pss: in /proc/PID/smaps_rollup of every member) must be
# at most 1.1 x what it was before the dump. Restored as 9 (10) private
# copies, it would be about 9 times larger.
#
# A dump without --kill must not unshare the pages either (the tree's PSS
# stays within 1.1 x).
#
# Finding the shared pages needs page frame numbers, which the kernel shows
# only to a CAP_SYS_ADMIN dumper: run without root, this test says so and
# is skipped. Last, a dump with CAP_SYS_ADMIN dropped must warn once and
# save every member's pages, and its restore must still be exact.
source "$(dirname "$0")/lib.sh"
MIB=64

# Proves the check can fail: each member changes a byte before checking.
start corrupt "$PROGRAMS/tree_cow" 4 mixed
wait_lines corrupt 1
send corrupt corrupt
close_input corrupt
wait_exit corrupt any
((EXIT_STATUS != 0)) && grep -q '^FAIL' "$WORK/corrupt.out" ||
  fail "tree_cow did not FAIL its check after changing its memory (status $EXIT_STATUS): the check cannot tell"

if ! grep -q '^CapEff:.*[1-9a-f]' /proc/self/status || [[ $(id -u) != 0 ]]; then
  log "SKIP: page frame numbers need CAP_SYS_ADMIN (run as root); without them ckpt duplicates shared pages by design"
  exit 77
fi

source "$(dirname "$0")/tree.sh"

for mode in plain mixed; do
  members=9
  [[ $mode == mixed ]] && members=10
  start "orig_$mode" "$PROGRAMS/tree_cow" "$MIB" "$mode"
  wait_lines "orig_$mode" 1
  root=$(pid_of "orig_$mode")
  wait_members "$root" "$members"
  before=$(tree_pss "$root")
  pids=$(tree_pids "$root")
  # Each member's memory map, to compare after the restore (children keep
  # their pids; the root's is restore's).
  for p in $pids; do cut -d' ' -f1,2,3,6- /proc/"$p"/maps >"$WORK/maps-$mode-$p.before"; done
  if [[ $mode == plain ]]; then
    # A dump that leaves the tree running must leave its sharing alone: a
    # pinning read (process_vm_readv) of a page shared copy-on-write gives
    # the reader's target a copy of its own.
    dump_live "orig_$mode" "$WORK/live.ckpt"
    live=$(tree_pss "$root")
    log "$mode: tree PSS before a dump without --kill $before kB, after it $live kB"
    ((live * 10 <= before * 11)) ||
      fail "$mode: a dump without --kill made the tree's PSS grow from $before kB to $live kB"
  fi
  img="$WORK/tree_$mode.ckpt"
  dump "orig_$mode" "$img"
  # The members' saved pids must be free again (they are reaped by init).
  for p in $pids; do
    for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
      [[ $(proc_state "$p") == gone ]] && break
      sleep 0.1
    done
  done
  grep -q 'page frame numbers are hidden' "$WORK/dump-orig_$mode.err" && fail "ckpt dump could not see page frames as root"
  log "$mode: image $(( $(image_bytes "$img") / 1048576 )) MiB for $members processes sharing $MIB MiB"

  restore_start "back_$mode" "$img"
  back=$(pid_of "back_$mode")
  wait_members "$back" "$members"
  after=$(tree_pss "$back")
  # The same areas, line for line: what a child kept of its parent's
  # staging is where its own area was, not split or moved.
  for p in $pids; do
    q=$p
    [[ $p == "$root" ]] && q=$back
    cut -d' ' -f1,2,3,6- /proc/"$q"/maps >"$WORK/maps-$mode-$p.after"
    expect_same "$mode: /proc/PID/maps of member $p" "$WORK/maps-$mode-$p.before" "$WORK/maps-$mode-$p.after"
  done
  log "$mode: tree PSS before the dump $before kB, after the restore $after kB"
  ((after * 10 <= before * 11)) ||
    fail "$mode: the restored tree's PSS is $after kB, more than 1.1 x the $before kB before the dump (shared pages duplicated?)"

  send "back_$mode" check
  close_input "back_$mode"
  wait_exit "back_$mode" any
  grep -q '^PASS' "$WORK/back_$mode.out" && ((EXIT_STATUS == 0)) ||
    fail "$mode: restored tree_cow did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/back_$mode.out" | head -n 5)"
  check_quiet "$WORK/back_$mode.err" "restored tree_cow"
  log "$mode: $(grep '^PASS' "$WORK/back_$mode.out")"
done

# A dumper that cannot see page frames (CAP_SYS_ADMIN dropped): it warns
# once, saves every member's pages (nothing inherited), and the restored
# tree is still exact, each member with its own copy.
command -v setpriv >/dev/null || { log "SKIP: setpriv (util-linux) is missing"; exit 77; }
start hidden "$PROGRAMS/tree_cow" 4 plain unshared
wait_lines hidden 1
wait_members "$(pid_of hidden)" 9
pid=$(pid_of hidden)
disown "$pid"
setpriv --bounding-set -sys_admin --inh-caps -sys_admin \
  "$CKPT" dump "$pid" -o "$WORK/hidden.ckpt" --compress "$COMPRESS" --kill >"$WORK/dump-hidden.out" 2>"$WORK/dump-hidden.err" ||
  fail "ckpt dump without CAP_SYS_ADMIN exited $?"
wait_gone hidden
n=$(grep -c 'page frame numbers are hidden' "$WORK/dump-hidden.err")
((n == 1)) || fail "ckpt dump without CAP_SYS_ADMIN warned $n times about hidden page frames, expected once"
grep -q 'shared with their parents' "$WORK/dump-hidden.err" && fail "ckpt dump without CAP_SYS_ADMIN still marked pages inherited"
size=$(image_bytes "$WORK/hidden.ckpt")
((size > 8 * 4 * 1048576)) || fail "without page frames the image should hold each member's 4 MiB, but it has $size bytes"
restore_start back_hidden "$WORK/hidden.ckpt"
wait_members "$(pid_of back_hidden)" 9
send back_hidden check
close_input back_hidden
wait_exit back_hidden any
grep -q '^PASS' "$WORK/back_hidden.out" && ((EXIT_STATUS == 0)) ||
  fail "hidden: restored tree_cow did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/back_hidden.out" | head -n 5)"
log "hidden page frames: one warning, $((size / 1048576)) MiB image, restored exact"
