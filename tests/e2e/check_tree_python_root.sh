#!/usr/bin/env bash
# Python's multiprocessing.Pool(4) as the tree's root, with no shell in
# between (check_tree_python runs it under a bash), dumped mid-computation
# and restored with `restore --pid-ns`: the pool finishes its work with the
# right result, its handler threads and workers live on, and it shuts down
# cleanly (Pool and multiprocessing's exit handler compare the pid each
# worker's Process object stored with os.getpid(): only the mode that gives
# the root its saved pid can carry that). Each restored process holds the
# fds its image saved and no more.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "check_tree_python_root: SKIP: no python3" >&2; exit 77; }

cat >"$WORK/pool.py" <<'EOF'
import multiprocessing, os, sys, time
def work(i):
    time.sleep(0.01)
    return i * i
if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    with multiprocessing.Pool(4) as pool:
        result = pool.map_async(work, range(1000), chunksize=1)
        print("ready", os.getpid(), flush=True)
        sys.stdin.readline()
        print("sum", sum(result.get()), flush=True)
        print("more", sum(pool.map(work, range(50))), flush=True)
    print("closed", flush=True)
EOF
want_sum=$(python3 -c 'print(sum(i * i for i in range(1000)))')
want_more=$(python3 -c 'print(sum(i * i for i in range(50)))')

# fd_list PID: "COMM: FDS" of PID and its descendants, children by saved pid.
fd_list() {
  local p=$1 c
  printf '%s: %s\n' "$(cat "/proc/$p/comm")" "$(ls "/proc/$p/fd" | sort -n | tr '\n' ' ')"
  for c in $(for c in $(cat /proc/"$p"/task/*/children); do
               echo "$(awk '/^NSpid:/ {print $NF}' "/proc/$c/status") $c"; done | sort -n | cut -d' ' -f2); do
    fd_list "$c"
  done
}

workers_of() {
  local i
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    (($(wc -w <"/proc/$1/task/$1/children") == 4)) && return 0
    sleep 0.05
  done
  fail "pid $1 has not 4 pool workers"
}

start pool python3 "$WORK/pool.py"
wait_lines pool 1
workers_of "$PID_pool"
sleep 0.3  # into the computation: 1000 tasks of 10 ms on 4 workers take about 2.5 s
fd_list "$PID_pool" >"$WORK/fds.want"
dump pool "$WORK/pool.ckpt"
RESTORE_FLAGS=--pid-ns restore_start back "$WORK/pool.ckpt"
root=$(RESTORE_FLAGS=--pid-ns restored_pid back)
workers_of "$root"
for ((i = 0; i < WAIT_SECONDS * 10; i++)); do  # until every trampoline has closed the launchers' fds
  fd_list "$root" >"$WORK/fds.got" 2>/dev/null
  cmp -s "$WORK/fds.want" "$WORK/fds.got" && break
  sleep 0.1
done
expect_same "the restored pool's fds" "$WORK/fds.want" "$WORK/fds.got"
send back go
wait_exit back 0
printf 'sum %s\nmore %s\nclosed\n' "$want_sum" "$want_more" >"$WORK/out.want"
cp "$WORK/back.out" "$WORK/out.got"
expect_same "the restored pool's output" "$WORK/out.want" "$WORK/out.got"
[[ ! -s $WORK/back.err ]] || fail "the restored pool printed on stderr: $(head -n 5 "$WORK/back.err")"
log "restore --pid-ns: multiprocessing.Pool(4) as the root finished its work ($(tr '\n' ' ' <"$WORK/out.got")) and shut down cleanly"
