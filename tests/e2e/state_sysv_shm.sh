#!/usr/bin/env bash
# state_sysv_shm (tests/programs/state_sysv_shm.c): SysV shared memory.
# After the dump (--kill) the original's keyed segments still exist, as
# they would on the machine it ran on: first restore is refused naming the
# key that exists; then the id is taken by another segment (made with
# shm_next_id): refused naming the id; both removed, the restore succeeds
# and the copy checks its segments. Segments made here are removed on exit.
# Refused at dump, naming the segment and leaving the process running: a
# segment also attached by another process, and a partly unmapped attachment.
source "$(dirname "$0")/lib.sh"
prog=state_sysv_shm
TEST_NAME=$prog
cleanup_ids=()
trap 'for i in "${cleanup_ids[@]}"; do ipcrm -m "$i" 2>/dev/null; done; _cleanup' EXIT

fresh_must_fail "$prog"

start orig "$PROGRAMS/$prog"
wait_lines orig 1
read -r _ A C K < <(head -n 1 "$WORK/orig.out")
A=${A#A=} C=${C#C=} K=${K#K=}
[[ $A =~ ^[0-9]+$ && $C =~ ^[0-9]+$ ]] || fail "no segment ids in: $(head -n 1 "$WORK/orig.out")"
cleanup_ids+=("$A" "$C")
dump orig "$WORK/$prog.ckpt"

"$RESTORE" "$WORK/$prog.ckpt" </dev/null >"$WORK/r1.out" 2>"$WORK/r1.err"
rc=$?
((rc == 1)) && grep -q "key $(printf '0x%08x' "$K") exists already, with segment $A" "$WORK/r1.err" ||
  fail "restore with the key in use: exit $rc, $(cat "$WORK/r1.err")"
log "refused: $(cat "$WORK/r1.err")"
ipcrm -m "$A" -m "$C" || fail "ipcrm of the original's segments"

echo "$A" >/proc/sys/kernel/shm_next_id
other=$(ipcmk -M 4096 | grep -o '[0-9]*$')
cleanup_ids+=("$other")
[[ $other == "$A" ]] || fail "could not make a segment with id $A (got '$other')"
"$RESTORE" "$WORK/$prog.ckpt" </dev/null >"$WORK/r2.out" 2>"$WORK/r2.err"
rc=$?
((rc == 1)) && grep -q "segment id $A is taken" "$WORK/r2.err" || fail "restore with the id taken: exit $rc, $(cat "$WORK/r2.err")"
log "refused: $(cat "$WORK/r2.err")"
ipcrm -m "$other"
grep -q "^0x[0-9a-f]* *$A " <(ipcs -m) && fail "a refused restore left segment $A behind"

# Refusals at dump.
start part "$PROGRAMS/$prog" --partial
wait_lines part 1
read -r _ PA PC _ < <(head -n 1 "$WORK/part.out")
cleanup_ids+=("${PA#A=}" "${PC#C=}")
"$CKPT" dump "$PID_part" -o "$WORK/part.ckpt" >"$WORK/dump-part.out" 2>"$WORK/dump-part.err"
rc=$?
((rc == 1)) && grep -q "cannot dump the SysV attachment .* of segment ${PA#A=}: only part of it is mapped" "$WORK/dump-part.err" ||
  fail "dump of a partly unmapped attachment: exit $rc, $(cat "$WORK/dump-part.err")"
log "refused: $(cat "$WORK/dump-part.err")"
# Another process attaches C of a whole second instance (python through ctypes).
start outs "$PROGRAMS/$prog"
wait_lines outs 1
read -r _ PA PC _ < <(head -n 1 "$WORK/outs.out")
cleanup_ids+=("${PA#A=}" "${PC#C=}")
python3 -c '
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
if libc.shmat(int(sys.argv[1]), None, 0) in (None, ctypes.c_void_p(-1).value): sys.exit("shmat failed")
print("attached", flush=True)
sys.stdin.readline()' "${PC#C=}" >"$WORK/outside.out" 2>&1 < <(sleep 30) &
outside=$!
for ((i = 0; i < 100; i++)); do grep -q attached "$WORK/outside.out" && break; sleep 0.1; done
grep -q attached "$WORK/outside.out" || fail "the outside process did not attach: $(cat "$WORK/outside.out")"
"$CKPT" dump "$PID_outs" -o "$WORK/outs.ckpt" >"$WORK/dump-outs.out" 2>"$WORK/dump-outs.err"
rc=$?
kill "$outside" 2>/dev/null
((rc == 1)) && grep -q "segment ${PC#C=} .*attached 2 times, 1 of them outside this process" "$WORK/dump-outs.err" ||
  fail "dump of a segment attached outside: exit $rc, $(cat "$WORK/dump-outs.err")"
log "refused: $(cat "$WORK/dump-outs.err")"
[[ $(proc_state "$PID_part") == [SR] && $(proc_state "$PID_outs") == [SR] ]] || fail "a refused dump did not leave the process running"

restored_must_pass "$WORK/$prog.ckpt" "$prog"
