#!/usr/bin/env bash
# Every vector, mask and x87 register and MXCSR keeps its value across dump
# --kill and restore (xsave_regs checks all of them itself and prints PASS or
# FAIL).  A run told to corrupt a register on purpose must print FAIL, which
# proves the checker can fail at all.
source "$(dirname "$0")/lib.sh"

# wait_ready NAME: the first line must start with "ready".
wait_ready() {
  wait_lines "$1" 1
  head -n 1 "$WORK/$1.out" | grep -q '^ready' ||
    fail "$1 did not start with a 'ready' line"
}

start selftest "$PROGRAMS/xsave_regs" --self-test-fail
wait_ready selftest
send selftest go
close_input selftest
wait_exit selftest any
((EXIT_STATUS != 0)) || fail "xsave_regs --self-test-fail exited 0"
grep -q '^FAIL' "$WORK/selftest.out" || fail "xsave_regs --self-test-fail did not print FAIL"

start run "$PROGRAMS/xsave_regs"
wait_ready run
dump run "$WORK/xsave.ckpt"
verify "$WORK/xsave.ckpt"

restore_start back "$WORK/xsave.ckpt"
send back go
close_input back
wait_exit back any
grep -q '^PASS' "$WORK/back.out" || fail "restored xsave_regs did not print PASS"
((EXIT_STATUS == 0)) || fail "restored xsave_regs exited $EXIT_STATUS"
log "PASS: $(grep '^PASS' "$WORK/back.out" | head -n 1)"
