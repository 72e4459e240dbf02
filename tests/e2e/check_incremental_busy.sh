#!/usr/bin/env bash
# An incremental dump of a process that writes all the time: the pages
# written since the parent are copied before the freeze (each protected
# again first), and in the freeze only those written since
# (dumper/DirtyPages.h, Precopy). tests/programs/stamper's 3 threads stamp
# every page of 64 MiB (1 ms of sleep every 16 pages: a sweep takes longer than from the copy before the freeze to the freeze, so some pages are still as copied) through a --track dump and two
# --parent dumps; each restored image must be one instant (the stamper's
# check), so a page copied before the freeze and written again before it
# must have been copied again. The dumps must say that pages were taken
# from before the freeze, or this test proves nothing. The first --parent
# dump is held for 0.3 s between its copy and its freeze (CKPT_FAULT=wait
# at "dump: precopied"), so that the stamper surely writes again pages
# already copied (about 5 000 of them): the restore of that image shows
# whether each was copied again in the freeze, by value.
source "$(dirname "$0")/lib.sh"

start s "$PROGRAMS/stamper" 64 3 slow
wait_lines s 1
"$CKPT" dump "$PID_s" -o "$WORK/base.ckpt" --track --compress none 2>"$WORK/base.err" ||
  fail "ckpt dump --track failed: $(cat "$WORK/base.err")"
precopied=0
parent=$WORK/base.ckpt
for n in 1 2; do
  sleep 0.3
  track=()
  ((n < 2)) && track=(--track)
  hold=()
  ((n == 1)) && hold=(CKPT_FAULT=wait "CKPT_FAULT_AT=dump: precopied" "CKPT_FAULT_FILE=$WORK/hold")
  env "${hold[@]}" "$CKPT" dump "$PID_s" -o "$WORK/i$n.ckpt" --parent "$parent" "${track[@]}" --compress none --json \
    >"$WORK/i$n.json" 2>"$WORK/i$n.err" &
  dumper=$!
  if ((n == 1)); then
    for ((i = 0; i < WAIT_SECONDS * 100; i++)); do
      [[ -e $WORK/hold ]] && break
      kill -0 "$dumper" 2>/dev/null || break
      sleep 0.01
    done
    [[ -e $WORK/hold ]] || fail "ckpt did not reach the point between its copy and its freeze: $(cat "$WORK/i$n.err")"
    sleep 0.3
    rm -f "$WORK/hold"
  fi
  wait "$dumper" || fail "ckpt dump --parent ($n) failed: $(cat "$WORK/i$n.err")"
  p=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["pages_precopied"])' "$WORK/i$n.json") ||
    fail "ckpt dump --json: $(cat "$WORK/i$n.json")"
  log "incremental $n: $p pages taken from before the freeze"
  precopied=$((precopied + p))
  parent=$WORK/i$n.ckpt
done
((precopied > 0)) || fail "no page was copied before the freeze in 2 incremental dumps of 3 writing threads"
state=$(proc_state "$PID_s")
[[ $state == R || $state == S ]] || fail "after the dumps the target is in state '$state'"
kill -9 "$PID_s"
wait "$PID_s" 2>/dev/null
unset "_PIDS[s]"
for n in 1 2; do
  restored_must_pass "$WORK/i$n.ckpt" stamper
  unset "_PIDS[back]"
done
