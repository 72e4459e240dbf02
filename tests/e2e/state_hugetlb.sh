#!/usr/bin/env bash
# state_hugetlb (tests/programs/state_hugetlb.c): MAP_HUGETLB memory.
# The machine keeps no huge pages: this test reserves some (vm.nr_hugepages)
# and gives them back on exit; where none can be had it SKIPS, saying so.
# After the dump (--kill) the pages are given back first: restore must
# refuse, saying it needs huge pages, before its point of no return; then
# with pages reserved again it restores and the copy checks its memory.
source "$(dirname "$0")/lib.sh"
prog=state_hugetlb
TEST_NAME=$prog
pool=/sys/kernel/mm/hugepages/hugepages-2048kB
[[ -w $pool/nr_hugepages ]] || { echo "$TEST_NAME: SKIP: cannot reserve 2 MiB huge pages ($pool/nr_hugepages not writable)" >&2; exit 77; }
old=$(cat "$pool/nr_hugepages")
trap 'echo "$old" >"$pool/nr_hugepages"; _cleanup' EXIT
reserve() {
  echo $((old + 4)) >"$pool/nr_hugepages" 2>/dev/null
  (($(cat "$pool/free_hugepages") - $(cat "$pool/resv_hugepages") >= 3))
}
if ! reserve; then
  echo "$TEST_NAME: SKIP: could not get 3 free 2 MiB huge pages (memory too fragmented?); free: $(cat "$pool/free_hugepages")" >&2
  exit 77
fi

fresh_must_fail "$prog"

start orig "$PROGRAMS/$prog"
wait_lines orig 1
grep -q '^ready' "$WORK/orig.out" || fail "$prog did not start: $(cat "$WORK/orig.err")"
dump orig "$WORK/$prog.ckpt"

start twice "$PROGRAMS/$prog" --twice
wait_lines twice 1
grep -q '^ready' "$WORK/twice.out" || fail "$prog --twice did not start: $(cat "$WORK/twice.err")"
"$CKPT" dump "$PID_twice" -o "$WORK/twice.ckpt" --kill >"$WORK/dump-twice.out" 2>"$WORK/dump-twice.err"
rc=$?
((rc == 1)) && grep -q "cannot dump the shared huge-page memory 0x[0-9a-f]*-0x[0-9a-f]*: it is mapped more than once" "$WORK/dump-twice.err" ||
  fail "dump of a twice-mapped huge-page object: exit $rc, $(cat "$WORK/dump-twice.err")"
[[ $(proc_state "$PID_twice") == [SR] ]] || fail "a refused dump did not leave the process running"
log "refused: $(cat "$WORK/dump-twice.err")"
kill "$PID_twice"
wait_exit twice any

echo "$old" >"$pool/nr_hugepages"
"$RESTORE" "$WORK/$prog.ckpt" </dev/null >"$WORK/r1.out" 2>"$WORK/r1.err"
rc=$?
((rc == 1)) && grep -q "has huge-page memory (MAP_HUGETLB, from 0x[0-9a-f]*) needing 3 pages of 2 MiB and this machine has [0-9]* free" "$WORK/r1.err" ||
  fail "restore without huge pages: exit $rc, $(cat "$WORK/r1.err")"
log "refused: $(cat "$WORK/r1.err")"
reserve || fail "could not reserve the huge pages again"

restored_must_pass "$WORK/$prog.ckpt" "$prog"
