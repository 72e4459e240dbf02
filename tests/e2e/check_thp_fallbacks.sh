#!/usr/bin/env bash
# Huge pages at restore (restorer/HugeBlocks.cpp) along each of its paths,
# with tests/programs/state_thp checking from inside that nothing but
# AnonHugePages changed (maps, VmFlags, THPeligible, Rss, present pages,
# contents) and that its no-advice area did get huge pages:
#   - the moves (UFFDIO_MOVE), as on this kernel: PASS;
#   - the collapse a kernel without UFFDIO_MOVE falls back to
#     (CKPT_TEST_HUGE_PAGES=collapse): PASS;
#   - neither (CKPT_TEST_HUGE_PAGES=none, as restore did before): the
#     program must FAIL, naming the area without huge pages, which proves
#     its check can fail. Where no huge page is free the program cannot
#     tell, and says so: that case is reported and not counted.
source "$(dirname "$0")/lib.sh"
prog=state_thp

for mode in move collapse none; do
  start orig "$PROGRAMS/$prog"
  wait_lines orig 1
  dump orig "$WORK/$mode.ckpt"
  export CKPT_TEST_HUGE_PAGES=$mode
  [[ $mode == move ]] && CKPT_TEST_HUGE_PAGES=
  if [[ $mode != none ]]; then
    restored_must_pass "$WORK/$mode.ckpt" "$prog ($mode)"
  else
    restore_start back "$WORK/$mode.ckpt"
    send back check
    close_input back
    wait_exit back any
    if grep -q '^PASS.*no huge page free' "$WORK/back.out"; then
      log "SKIPPED the 'none' case: no huge page free on this machine now, so state_thp cannot tell"
    else
      grep -q '^FAIL area A holds no huge page' "$WORK/back.out" ||
        fail "restored without huge pages, $prog did not FAIL on it: $(head -n 5 "$WORK/back.out")"
      log "without huge pages: $(grep '^FAIL' "$WORK/back.out" | head -n 1)"
    fi
  fi
  unset CKPT_TEST_HUGE_PAGES
done
log PASS
