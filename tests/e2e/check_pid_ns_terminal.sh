#!/usr/bin/env bash
# restore --pid-ns as a shell job on a terminal (tmux): the program, inside
# its pid namespace, reads the terminal as the foreground job (it is in the
# shell's job's process group); ^Z stops the job and the shell says so
# ("Stopped"), `fg` continues it; ^C (the terminal's SIGINT) reaches the
# program's handler once, directly (si_pid 0), not once more relayed by
# restore (that copy would come from pid 1, restore's init); and its death
# by SIGINT is the job's ($? 130).
source "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || { echo "check_pid_ns_terminal: SKIP: tmux is not installed" >&2; exit 77; }

sock="ckpt-pidns-$$"
tm() { tmux -L "$sock" "$@"; }
trap 'tm kill-server 2>/dev/null; _cleanup' EXIT
img=$WORK/tty.ckpt
tm new-session -d -x 150 -y 40 "env PS1='$ ' bash --norc --noprofile -i" || fail "tmux new-session"
# pane REGEX: waits until the pane shows a line matching REGEX.
pane() {
  local i
  for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
    tm capture-pane -p -S -100 | grep -qE "$1" && return 0
    sleep 0.1
  done
  fail "the terminal never showed '$1'; it shows: $(tm capture-pane -p -S -100 | grep -v '^$' | tail -n 12)"
}
tm send-keys "cd $WORK && $PROGRAMS/pidns_ids" Enter
pane '^ready pid=[0-9]+ '
P=$(tm capture-pane -p -S -100 | sed -n 's/^ready pid=\([0-9]*\) .*/\1/p' | tail -n 1)
"$CKPT" dump "$P" -o "$img" --kill >"$WORK/dump.out" 2>"$WORK/dump.err" || fail "ckpt dump $P: $(cat "$WORK/dump.err")"
pane '^Killed'
tm send-keys "$RESTORE --pid-ns $img" Enter
sleep 0.2
tm send-keys "ids" Enter
pane "^ids pid=$P tid=$P ppid=1 self=$P "
tm send-keys C-z
pane 'Stopped.*restore --pid-ns'
tm send-keys "fg" Enter
pane "^$RESTORE --pid-ns $img\$"
tm send-keys "check" Enter
pane "^PASS getpid $P"
tm send-keys C-c
pane 'handled signal 2 from 0$'
tm send-keys "ids" Enter
pane "ids pid=$P .*"
sleep 0.2
tm capture-pane -p -S -100 | grep -q 'handled signal 2 from 1' && fail "the terminal's SIGINT reached the program twice (relayed too)"
tm send-keys "die 2" Enter
# The job has ended when the pane's shell has no child left.
sh_pid=$(tm display-message -p '#{pane_pid}')
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  [[ -z $(cat "/proc/$sh_pid/task/$sh_pid/children" 2>/dev/null) ]] && break
  sleep 0.05
done
[[ -z $(cat "/proc/$sh_pid/task/$sh_pid/children" 2>/dev/null) ]] || fail "the job did not end after 'die 2'"
tm send-keys 'echo "status=$?"' Enter
pane '^status=130$'
log "as a terminal job: reads the terminal as pid $P, ^Z/fg, ^C handled once, death by SIGINT (status 130)"
