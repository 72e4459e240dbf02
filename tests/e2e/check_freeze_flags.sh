#!/usr/bin/env bash
# A dump that lets its target run again reads /proc/PID/smaps (the only
# source of each area's VmFlags, and a walk of every page table) before
# the freeze, and in the freeze only /proc/PID/maps (dumper/AddressSpace.h).
# What the target changes between the two must not reach the image:
#  - a layout change (mprotect splitting an area) shows in maps: the freeze
#    reads smaps again and the image holds the areas as they were at the freeze;
#  - flags changed in place on a whole area (madvise MADV_DONTFORK, then
#    MADV_DOFORK) do not show in maps: the dump reads smaps again once the
#    target runs, finds the difference and fails in one line, before writing
#    anything, leaving the target running and untouched (short freeze and
#    --snapshot alike).
# The target (tests/programs/flagflip.c) acts on a line from the test while
# ckpt is held at its first fault point, with the target seized but running.
source "$(dirname "$0")/lib.sh"

start f "$PROGRAMS/flagflip"
wait_lines f 1
read -r _ area_start area_end <"$WORK/f.out"
start_dec=$((16#$area_start))
end_dec=$((16#$area_end))
answers=1

wait_stopped() {  # PID
  local i
  for ((i = 0; i < WAIT_SECONDS * 100; i++)); do
    [[ $(proc_state "$1") == T ]] && return 0
    sleep 0.01
  done
  fail "ckpt (pid $1) did not stop at its first fault point"
}
# dump_changing IMAGE COMMAND [FLAGS...]: a dump held between its read of
# smaps and its freeze while the target runs COMMAND; its status in $status.
dump_changing() {
  local image=$1 command=$2
  shift 2
  rm -f "$image"
  CKPT_FAULT=stop CKPT_FAULT_AT="seize: thread seized" "$CKPT" dump "$PID_f" -o "$image" "$@" \
    >"$WORK/d.out" 2>"$WORK/d.err" &
  local dumper=$!
  wait_stopped "$dumper"
  send f "$command"
  answers=$((answers + 1))
  wait_lines f "$answers"
  [[ $(tail -n 1 "$WORK/f.out") == ok ]] || fail "flagflip could not $command"
  kill -CONT "$dumper"
  status=0
  wait "$dumper" || status=$?
}
left_alone() {  # WHAT
  local state
  state=$(proc_state "$PID_f")
  [[ $state == S || $state == R ]] || fail "$1: the target is in state '$state'"
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$PID_f/status") == 0 ]] || fail "$1: the target is still traced"
  if grep -E '^VmFlags:.* u[wmi]( |$)' "/proc/$PID_f/smaps" >/dev/null; then
    fail "$1: an area of the target is still registered with a userfaultfd"
  fi
}
# area_flags IMAGE: "start-end prot flags" of each image area inside the test's area.
area_flags() {
  "$CKPT" inspect --json "$1" | python3 -c '
import json, sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
for v in json.load(sys.stdin)["vmas"]:
    if v["start"] >= lo and v["end"] <= hi:
        print("%x-%x %s %d" % (v["start"], v["end"], v["prot"], v["flags"] & 4))' "$start_dec" "$end_dec"
}

# Flags changed in place between the read of smaps and the freeze: refused, once the target runs.
for mode in short snapshot; do
  flags=()
  [[ $mode == snapshot ]] && flags=(--snapshot)
  command=dontfork
  [[ $mode == snapshot ]] && command=dofork
  dump_changing "$WORK/$mode.ckpt" "$command" "${flags[@]}"
  ((status == 1)) || fail "$mode: a dump whose target changed an area's flags before the freeze exited $status: $(cat "$WORK/d.err")"
  (($(wc -l <"$WORK/d.err") == 1)) || fail "$mode: the refusal is not one line: $(cat "$WORK/d.err")"
  grep -q "changed around the freeze" "$WORK/d.err" || fail "$mode: the refusal does not say why: $(cat "$WORK/d.err")"
  grep -q "0x$area_start-0x$area_end" "$WORK/d.err" || fail "$mode: the refusal does not name the area: $(cat "$WORK/d.err")"
  [[ ! -e $WORK/$mode.ckpt ]] || fail "$mode: the refused dump left an image"
  left_alone "$mode"
  log "$mode: $(cat "$WORK/d.err")"
done

# Nothing changed: the flags read before the freeze are the image's (MADV_DOFORK: none).
"$CKPT" dump "$PID_f" -o "$WORK/plain.ckpt" 2>"$WORK/plain.err" || fail "ckpt dump failed: $(cat "$WORK/plain.err")"
[[ $(area_flags "$WORK/plain.ckpt") == "$area_start-$area_end rw- 0" ]] ||
  fail "the image's area is not the target's: $(area_flags "$WORK/plain.ckpt")"
send f dontfork
answers=$((answers + 1))
wait_lines f "$answers"
"$CKPT" dump "$PID_f" -o "$WORK/dc.ckpt" --snapshot 2>"$WORK/dc.err" || fail "ckpt dump --snapshot failed: $(cat "$WORK/dc.err")"
[[ $(area_flags "$WORK/dc.ckpt") == "$area_start-$area_end rw- 4" ]] ||
  fail "the image's area lacks MADV_DONTFORK: $(area_flags "$WORK/dc.ckpt")"

# The area split between the read of smaps and the freeze: maps shows it, the image has it.
second=$(printf '%x' $((start_dec + 4096)))
for mode in short snapshot; do
  flags=()
  [[ $mode == snapshot ]] && flags=(--snapshot)
  [[ $mode == snapshot ]] && { send f dofork; answers=$((answers + 1)); wait_lines f "$answers"; }
  dump_changing "$WORK/split-$mode.ckpt" split "${flags[@]}"
  ((status == 0)) || fail "$mode: the dump of a target that split an area before the freeze failed: $(cat "$WORK/d.err")"
  dc=4
  [[ $mode == snapshot ]] && dc=0
  want="$area_start-$second r-- $dc
$second-$area_end rw- $dc"
  [[ $(area_flags "$WORK/split-$mode.ckpt") == "$want" ]] ||
    fail "$mode: the image's areas are not the target's at the freeze: $(area_flags "$WORK/split-$mode.ckpt")"
  left_alone "$mode split"
done

log "layout changes before the freeze reach the image; in-place flag changes fail the dump, target left running"
