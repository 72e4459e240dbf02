#!/usr/bin/env bash
# restore --pid-ns as a shell job on a terminal (tmux): the program, inside
# its pid namespace, reads the terminal as the foreground job (it is in the
# shell's job's process group); ^Z stops the job and the shell says so
# ("Stopped"), `fg` continues it, and ^C (the terminal's SIGINT, which the
# program gets directly and restore does not relay again) ends it, the
# shell seeing a death by SIGINT ($? 130).
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
pane '^\^C'
tm send-keys 'echo "status=$?"' Enter
pane '^status=130$'
log "as a terminal job: reads the terminal as pid $P, ^Z/fg, ^C ends it (status 130)"
