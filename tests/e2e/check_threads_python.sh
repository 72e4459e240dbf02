#!/usr/bin/env bash
# A real python3 with a pool of 6 threading workers consuming a queue.Queue
# is dumped with --kill in the middle of the work (some workers computing
# with the GIL, others waiting for it or in q.get), restored with a new
# stdin, finishes the queued work and then processes a second batch given
# only after the restore. Checked:
#   - the restored process has all 7 threads (main + 6 workers), in
#     /proc/PID/task and in threading.enumerate();
#   - every job of both batches was done exactly once and gave the right
#     value: the count, the sum and a job-weighted sum of the results equal
#     the ones worked out here in closed form (job n sums i*i for i below
#     20000 + n*7919 % 5000);
#   - more than one worker did jobs of the second batch (the threads run,
#     not just the main thread);
#   - "quit" stops and joins every worker, and python3 exits 0.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
WORKERS=6
FIRST=3000   # jobs 1..FIRST before the dump
SECOND=1500  # jobs FIRST+1..FIRST+SECOND after the restore
# Commands, one a line: "add A B" queues jobs A..B; "progress" prints how
# many are done without waiting; "wait" waits for the queue to drain;
# "check A B" prints count, sum and weighted sum of jobs A..B and how many
# workers did them; "threads" prints the live worker threads; "quit".
POOL='
import sys, threading, queue
q = queue.Queue()
lock = threading.Lock()
results = {}  # job -> (worker, value)

def value(n):
    m = 20000 + n * 7919 % 5000
    s = 0
    for i in range(m):
        s += i * i
    return s

def worker(k):
    while True:
        job = q.get()
        if job is None:
            q.task_done()
            return
        v = value(job)
        with lock:
            if job in results:
                print("error: job", job, "done twice", flush=True)
            results[job] = (k, v)
        q.task_done()

pool = [threading.Thread(target=worker, args=(k,), name="worker-%d" % k) for k in range(int(sys.argv[1]))]
for t in pool:
    t.start()
while True:
    line = sys.stdin.readline()
    if not line:
        break
    cmd = line.split()
    if cmd[0] == "add":
        for n in range(int(cmd[1]), int(cmd[2]) + 1):
            q.put(n)
    elif cmd[0] == "progress":
        with lock:
            print("progress", len(results))
    elif cmd[0] == "wait":
        q.join()
        print("drained")
    elif cmd[0] == "check":
        a, b = int(cmd[1]), int(cmd[2])
        with lock:
            got = {n: results[n] for n in range(a, b + 1) if n in results}
        total = sum(v for k, v in got.values())
        weighted = sum(n * v for n, (k, v) in got.items()) % 10**18
        print("check", len(got), total, weighted, len({k for k, v in got.values()}))
    elif cmd[0] == "threads":
        print("threads", " ".join(sorted(t.name for t in threading.enumerate() if t.name.startswith("worker-"))))
    elif cmd[0] == "quit":
        for t in pool:
            q.put(None)
        for t in pool:
            t.join()
        print("bye", sum(t.is_alive() for t in pool))
        break
'

# count, sum and weighted sum (mod 10^18) of jobs A..B, in closed form.
expected() {
  local a=$1 b=$2 n m v count=0 total=0 weighted=0
  for ((n = a; n <= b; n++)); do
    m=$((20000 + n * 7919 % 5000))
    v=$(((m - 1) * m * (2 * m - 1) / 6))
    count=$((count + 1)) total=$((total + v)) weighted=$(((weighted + n * v) % 1000000000000000000))
  done
  echo "check $count $total $weighted"
}

# last_line NAME: the last line NAME printed.
last_line() { tail -n 1 "$WORK/$1.out"; }

start run "$PYTHON" -u -c "$POOL" "$WORKERS"
send run "add 1 $FIRST"
# Dump once a tenth of the jobs are done, so that the pool is busy.
lines_seen=0 done_jobs=0
for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
  send run progress
  lines_seen=$((lines_seen + 1))
  wait_lines run "$lines_seen"
  done_jobs=$(last_line run | awk '{print $2}')
  ((done_jobs >= FIRST / 10)) && break
  sleep 0.1
done
((done_jobs >= FIRST / 10 && done_jobs < FIRST)) ||
  fail "python3 had done $done_jobs of $FIRST jobs when it was to be dumped mid-work"
tasks=$(ls /proc/"$PID_run"/task | wc -l)
((tasks == WORKERS + 1)) || fail "python3 has $tasks threads before the dump, expected $((WORKERS + 1))"
dump run "$WORK/pool.ckpt"
log "dumped with $done_jobs of $FIRST jobs done; image $(image_bytes "$WORK/pool.ckpt") bytes"

restore_start back "$WORK/pool.ckpt"
send back threads
wait_lines back 1
tasks=$(ls /proc/"$PID_back"/task | wc -l)
((tasks == WORKERS + 1)) || fail "restored python3 has $tasks threads, expected $((WORKERS + 1))"
want_names=$(for ((k = 0; k < WORKERS; k++)); do printf 'worker-%d\n' "$k"; done | sort | tr '\n' ' ')
[[ "$(last_line back) " == "threads $want_names" ]] ||
  fail "restored python3's live workers: '$(last_line back)', want 'threads $want_names'"

send back wait "check 1 $FIRST"
wait_lines back 3
[[ $(last_line back) == "$(expected 1 "$FIRST") "* ]] ||
  fail "first batch after restore: '$(last_line back)', want '$(expected 1 "$FIRST") <workers>'"

last=$((FIRST + SECOND))
send back "add $((FIRST + 1)) $last" wait "check $((FIRST + 1)) $last"
wait_lines back 5
got=$(last_line back)
[[ $got == "$(expected $((FIRST + 1)) "$last") "* ]] ||
  fail "second batch, queued after restore: '$got', want '$(expected $((FIRST + 1)) "$last") <workers>'"
workers_used=${got##* }
((workers_used >= 2)) || fail "only $workers_used worker thread(s) did the second batch"

send back quit
wait_lines back 6
[[ $(last_line back) == "bye 0" ]] || fail "quit: '$(last_line back)', want 'bye 0' (every worker joined)"
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restored python3"
grep -q '^error' "$WORK/back.out" && fail "restored python3: $(grep '^error' "$WORK/back.out" | head -n 3)"
log "PASS: $((FIRST + SECOND)) jobs right, $workers_used workers did the second batch"
