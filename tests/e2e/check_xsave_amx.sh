#!/usr/bin/env bash
# AMX tile data (tests/programs/amx_tiles.c): a process granted tile data on
# request (ARCH_REQ_XCOMP_PERM) holds that grant again after restore, and its
# other XSAVE state resumes through a signal frame the kernel accepts (sized
# for the features every process has, not the CPU's whole XSAVE area). A
# process whose tiles hold data at the moment of the dump is refused, named,
# and left running untouched. Skipped (exit 77, shown by CTest) on a CPU
# without AMX.
source "$(dirname "$0")/lib.sh"
P=$PROGRAMS/amx_tiles

if ! grep -qw amx_tile /proc/cpuinfo; then
  log "SKIP: this CPU has no AMX (no amx_tile in /proc/cpuinfo)"
  exit 77
fi

# The check can fail: without the request it sees no permission.
start fresh "$P" --fresh
wait_lines fresh 1
send fresh check
close_input fresh
wait_exit fresh any
((EXIT_STATUS != 0)) && grep -q '^FAIL' "$WORK/fresh.out" || fail "amx_tiles --fresh did not FAIL its check"

# Tiles in use: refused before anything is written or killed.
start hold "$P" hold
wait_lines hold 1
grep -q '^holding' "$WORK/hold.out" || fail "amx_tiles hold did not load its tile"
"$CKPT" dump "$(pid_of hold)" -o "$WORK/held.ckpt" --kill >"$WORK/dump-held.out" 2>"$WORK/dump-held.err"
rc=$?
((rc == 1)) || fail "dump of a process holding tile data exited $rc, not 1"
grep -q 'holds AMX tile data' "$WORK/dump-held.err" || fail "the refusal does not name the tile data: $(cat "$WORK/dump-held.err")"
(($(wc -l <"$WORK/dump-held.err") == 1)) || fail "the refusal is not one line"
[[ ! -e $WORK/held.ckpt ]] || fail "a refused dump left an image behind"
[[ $(proc_state "$(pid_of hold)") == S ]] || fail "the refused process is not running as before"

# Released: the same process dumps, and its restored copy still has the grant.
send hold release
wait_lines hold 2
dump hold "$WORK/amx.ckpt"
restored_must_pass "$WORK/amx.ckpt" amx_tiles
