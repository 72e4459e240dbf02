#!/usr/bin/env bash
# A real python3 asyncio event loop: its self-pipe is a Unix socket pair
# (the loop's wake-up for signals, set_wakeup_fd, and for
# call_soon_threadsafe), its selector an epoll set watching it and stdin.
# A timer-driven coroutine prints a tick every tenth sleep; the loop waits
# for SIGUSR1 through loop.add_signal_handler, then for a line on stdin
# through loop.add_reader. Dumped with --kill while ticking, restored: the
# ticks go on from where they were, SIGUSR1 sent to the restored process
# reaches its handler through the restored socket pair, and a line sent to
# it is read. A --fresh-like control: the same script not dumped at all
# must print the same lines (run first, so the test can fail).
#
# asyncio finds its running loop only in the pid that started it (a fork
# check: get_running_loop() compares os.getpid()), so the restore runs in a
# new pid namespace where it gets the saved pid (ns_last_pid): with another
# pid the loop's tasks would all fail ("no running event loop"), see
# docs/architecture.md, "The pid".
source "$(dirname "$0")/lib.sh"
if ! unshare -p -f true 2>/dev/null; then
  echo "check_real_asyncio: SKIP: cannot create a pid namespace (needs CAP_SYS_ADMIN) to restore with the saved pid" >&2
  exit 77
fi

PYTHON=/usr/bin/python3
PROG='
import asyncio, signal, sys
async def main():
    loop = asyncio.get_running_loop()
    got = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, got.set)
    lines = asyncio.Queue()
    loop.add_reader(sys.stdin.fileno(), lambda: lines.put_nowait(sys.stdin.readline()))
    async def ticker():
        n = 0
        while True:
            await asyncio.sleep(0.02)
            n += 1
            if n % 10 == 0:
                print("tick", n, flush=True)
    task = asyncio.create_task(ticker())
    print("ready", flush=True)
    await got.wait()
    print("signal", flush=True)
    print("line", (await lines.get()).strip(), flush=True)
    task.cancel()
asyncio.run(main())
'

# wait_for NAME PATTERN: until NAME's output has a line matching PATTERN.
wait_for() {
  local i
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    grep -qE "$2" "$WORK/$1.out" && return 0
    sleep 0.05
  done
  fail "$1 never printed /$2/"
}

# The reference: the same conversation without a dump.
start ref "$PYTHON" -c "$PROG"
wait_for ref '^tick 20$'
kill -USR1 "$(pid_of ref)"
wait_for ref '^signal$'
send ref hello
wait_exit ref 0
grep -q '^line hello$' "$WORK/ref.out" || fail "the reference run did not read its line"

start orig "$PYTHON" -c "$PROG"
wait_for orig '^tick 20$'
dump orig "$WORK/asyncio.ckpt"
last=$(grep '^tick' "$WORK/orig.out" | tail -n 1 | cut -d' ' -f2)
saved_pid=$("$CKPT" inspect "$WORK/asyncio.ckpt" | sed -n 's/^process: pid \([0-9]*\) .*/\1/p')
# unshare -> bash (pid 1 there) -> the subshell that execs restore with the saved pid.
_spawn back unshare -p -f bash -c 'echo $(($1 - 1)) >/proc/sys/kernel/ns_last_pid && (exec "$2" "$3")' \
  _ "$saved_pid" "$RESTORE" "$WORK/asyncio.ckpt"
wait_for back "^tick $((last + 20))$"
restored=$(pgrep -P "$(pgrep -P "$(pid_of back)")")
[[ $(grep NSpid "/proc/$restored/status" | awk '{print $3}') == "$saved_pid" ]] ||
  fail "the restored process does not have the saved pid $saved_pid in its namespace"
first=$(grep '^tick' "$WORK/back.out" | head -n 1 | cut -d' ' -f2)
((first == last + 10)) || fail "the restored ticker went on from tick $first, not from tick $((last + 10))"
kill -USR1 "$restored"
wait_for back '^signal$'
send back hello
wait_exit back 0
grep -q '^line hello$' "$WORK/back.out" || fail "the restored loop did not read its line: $(tail -n 3 "$WORK/back.out")"
check_quiet "$WORK/back.err" "restored asyncio"
log "restored asyncio loop: ticks from $first on, SIGUSR1 through its socket pair, then a line read"
