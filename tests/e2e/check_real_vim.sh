#!/usr/bin/env bash
# vim (Debian's) after a restore: its POSIX timer (glibc SIGEV_THREAD: a
# helper thread, signal 32), which bounds pattern searches with a timeout,
# comes back with its id and aimed at the new helper thread, and fires.
# The search below backtracks for ever on a line of 80 a's unless the
# timer stops it after 300 ms; without the timer (ckpt before it carried
# POSIX timers) the restored vim spins until the test gives up. The test
# then edits and writes the file through the restored vim.
source "$(dirname "$0")/lib.sh"
command -v vim >/dev/null || fail "vim is not installed (.ci/deps installs it)"

printf '%s\n' "$(printf 'a%.0s' $(seq 80))" >"$WORK/f.txt"
start v vim -u NONE -N -n -i NONE "$WORK/f.txt"
# vim makes its timer at start-up; wait for it, and for vim to settle.
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  grep -q '^ID:' "/proc/$PID_v/timers" 2>/dev/null && break
  sleep 0.05
done
grep -q '^ID:' "/proc/$PID_v/timers" || fail "vim made no POSIX timer: $(cat "/proc/$PID_v/timers")"
cp "/proc/$PID_v/timers" "$WORK/timers.before"
sleep 0.2
dump v "$WORK/vim.ckpt"
restore_start back "$WORK/vim.ckpt"
# The timer as /proc shows it: same id, signal, value and clock; aimed at one of the restored vim's threads.
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  grep -q '^ID:' "/proc/$PID_back/timers" 2>/dev/null && break
  sleep 0.05
done
cp "/proc/$PID_back/timers" "$WORK/timers.after"
expect_same "vim's timers (tids aside)" <(sed 's/tid\.[0-9]*/tid/' "$WORK/timers.before") \
  <(sed 's/tid\.[0-9]*/tid/' "$WORK/timers.after")
tid=$(sed -n 's/^notify: signal\/tid\.//p' "$WORK/timers.after")
[[ -n $tid && -d /proc/$PID_back/task/$tid ]] || fail "vim's timer is aimed at $tid, not one of its threads: $(ls "/proc/$PID_back/task")"
send back ":call search('\\%#=1\\(a\\|aa\\)*[bc]', '', 0, 300)" ':s/^a/X/' ':wq'
wait_exit back 0
[[ $(cut -c1-3 "$WORK/f.txt") == Xaa ]] || fail "the restored vim did not write its edit: $(head -c 20 "$WORK/f.txt")"
log "PASS: vim's timer back as $(head -n 1 "$WORK/timers.after"), aimed at thread $tid; the timed-out search returned and the edit was written"
