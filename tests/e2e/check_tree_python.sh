#!/usr/bin/env bash
# Python with children, dumped and restored as a tree (issue 13):
#   - subprocess.Popen of a child still running and of one that exited with
#     status 3 (a zombie at the dump): poll() answers None and 3, as before;
#     terminate() then wait() of the running one gives -15;
#   - multiprocessing.Pool(4) dumped mid-computation finishes the work with
#     the right result (workers, result pipes, semaphores in /dev/shm). The
#     pool runs under a shell, the tree's root: multiprocessing compares
#     its own pid with the one it stored (Pool asserts it at shutdown), and
#     only the root's pid changes (restore's; restore --pid-ns keeps it).
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "check_tree_python: SKIP: no python3" >&2; exit 77; }

cat >"$WORK/popen.py" <<'EOF'
import subprocess, sys, time
running = subprocess.Popen(["sleep", "1000"])
exited = subprocess.Popen(["sh", "-c", "exit 3"])
def state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]
while state(exited.pid) != "Z":   # ended, not yet waited for
    time.sleep(0.01)
print("ready", running.pid, exited.pid, flush=True)
sys.stdin.readline()
print("running poll", running.poll(), flush=True)
print("exited poll", exited.poll(), flush=True)
running.terminate()
print("running wait", running.wait(), flush=True)
EOF
start popen python3 "$WORK/popen.py"
wait_lines popen 1
dump popen "$WORK/popen.ckpt"
restore_start back "$WORK/popen.ckpt"
send back check
wait_exit back 0
printf 'running poll None\nexited poll 3\nrunning wait -15\n' >"$WORK/popen.want"
tail -n 3 "$WORK/back.out" >"$WORK/popen.got"
expect_same "Popen poll/wait after restore" "$WORK/popen.want" "$WORK/popen.got"
check_quiet "$WORK/back.err" "restored python"
log "subprocess: poll() of a running child and of one that exited 3, as before the dump"

cat >"$WORK/pool.py" <<'EOF'
import multiprocessing, sys, time
def work(i):
    time.sleep(0.01)
    return i * i
if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    with multiprocessing.Pool(4) as pool:
        result = pool.map_async(work, range(2000), chunksize=1)
        print("ready", flush=True)
        sys.stdin.readline()  # the work goes on meanwhile; the dump comes while it does
        print("sum", sum(result.get()), flush=True)
EOF
start pool bash -c 'python3 "$1"; echo "exit $?"' bash "$WORK/pool.py"
wait_lines pool 1
py=$(tr -d ' ' <"/proc/$PID_pool/task/$PID_pool/children")
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  (($(wc -w <"/proc/$py/task/$py/children") == 4)) && break
  sleep 0.05
done
(($(wc -w <"/proc/$py/task/$py/children") == 4)) || fail "the pool has not 4 workers"
sleep 0.3  # into the computation: 2000 tasks of 10 ms on 4 workers take about 5 s
dump pool "$WORK/pool.ckpt"
restore_start back "$WORK/pool.ckpt"
send back go
wait_exit back 0
grep -qx "sum $(python3 -c 'print(sum(i * i for i in range(2000)))')" "$WORK/back.out" && grep -qx 'exit 0' "$WORK/back.out" ||
  fail "the restored pool's result is wrong: $(cat "$WORK/back.out")"
check_quiet "$WORK/back.err" "restored pool"
log "multiprocessing.Pool(4) finished its work after restore with the right result"
