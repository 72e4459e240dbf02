#!/usr/bin/env bash
# Syscall injection in a process under memory-deny-write-execute (prctl
# PR_SET_MDWE): the batch of injected calls needs a writable and executable
# area, which the kernel refuses here, so the calls go one by one (a
# traced dump shows no batch fault point, and injected calls), the refused
# mapping leaves nothing behind (the maps are as before), and the dump
# succeeds and the process answers with the flag set. Restoring it is
# e2e.state_mdwe.
source "$(dirname "$0")/lib.sh"

start m "$PROGRAMS/mdwe"
wait_lines m 1
grep -qx 'ready mdwe=1' "$WORK/m.out" || fail "the program did not set memory-deny-write-execute: $(head -n 1 "$WORK/m.out")"
pid=$PID_m
maps_before=$(<"/proc/$pid/maps")
CKPT_FAULT=trace "$CKPT" dump "$pid" -o "$WORK/m.ckpt" >/dev/null 2>"$WORK/trace.err" ||
  fail "the dump failed: $(grep -v '^ckpt fault point' "$WORK/trace.err" | head -n 3)"
grep -q 'inject: at the system call.s exit' "$WORK/trace.err" || fail "the traced dump injected no call"
grep -q 'inject: batch' "$WORK/trace.err" && fail "a batch of injected calls ran in a process that cannot map one"
[[ $(<"/proc/$pid/maps") == "$maps_before" ]] || fail "the dump changed the process's maps"
[[ $(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status") == 0 ]] || fail "the process is still traced"
"$CKPT" inspect "$WORK/m.ckpt" >"$WORK/inspect.out" || fail "ckpt inspect failed"
grep -q 'memory-deny-write-execute 0x1$' "$WORK/inspect.out" ||
  fail "the image does not hold the flag: $(grep 'memory-deny' "$WORK/inspect.out")"
send m "still there?"
wait_lines m 2
[[ $(tail -n 1 "$WORK/m.out") == 'alive mdwe=1' ]] || fail "the process did not answer as before: $(tail -n 1 "$WORK/m.out")"
log "calls injected one by one: $(grep -c 'inject: at the system call.s exit' "$WORK/trace.err") of them; the image holds the flag"
close_input m
wait_exit m 0
log "PASS"
