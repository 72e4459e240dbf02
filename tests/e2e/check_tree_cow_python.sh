#!/usr/bin/env bash
# Issue 13, a real program: Python's multiprocessing.Pool(4) (fork start
# method) over about 150 MB of Python objects built before the pool. The
# workers share the objects copy-on-write; after dump --kill and restore
# the pool computes the same results again, and the tree's total PSS is at
# most 1.1 x what it was before the dump (each worker restored with a copy
# of its own would make it about 5 x).
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { log "SKIP: python3 is missing"; exit 77; }
[[ $(id -u) == 0 ]] || { log "SKIP: page frame numbers need CAP_SYS_ADMIN (run as root)"; exit 77; }

cat >"$WORK/pool.py" <<'EOF'
import multiprocessing as mp, os, sys
data = [i * 3 for i in range(4_000_000)]
def work(x):
    return sum(data[x::1000])
if __name__ == "__main__":
    mp.set_start_method("fork")
    pool = mp.Pool(4)
    before = pool.map(work, range(16))
    print("ready", flush=True)
    sys.stdin.readline()
    after = pool.map(work, range(16))
    print("PASS pool results equal" if after == before else "FAIL pool results differ: %r %r" % (before, after), flush=True)
    # The restored root has restore's pid: multiprocessing's exit handlers
    # would refuse to join workers "of another process" (a known gap of trees).
    os._exit(0)
EOF

source "$(dirname "$0")/tree.sh"

start orig python3 "$WORK/pool.py"
WAIT_SECONDS=60 wait_lines orig 1
wait_members "$(pid_of orig)" 5
before=$(tree_pss "$(pid_of orig)")
dump orig "$WORK/pool.ckpt"
grep -q 'shared with their parents' "$WORK/dump-orig.err" || fail "ckpt dump found no page the workers share with the pool's process"
restore_start back "$WORK/pool.ckpt"
wait_members "$(pid_of back)" 5
after=$(tree_pss "$(pid_of back)")
log "Pool(4): tree PSS before the dump $before kB, after the restore $after kB; image $(( $(image_bytes "$WORK/pool.ckpt") / 1048576 )) MiB"
((after * 10 <= before * 11)) || fail "the restored pool's PSS is $after kB, more than 1.1 x the $before kB before the dump"
send back check
close_input back
wait_exit back any
grep -q '^PASS' "$WORK/back.out" && ((EXIT_STATUS == 0)) ||
  fail "the restored pool did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/back.out" | head -n 5)"
log "$(grep '^PASS' "$WORK/back.out")"
