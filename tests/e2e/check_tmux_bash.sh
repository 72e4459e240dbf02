#!/usr/bin/env bash
# An interactive bash at a real terminal (tmux), as a tmux pane's shell:
# the session leader, with its history, a shell variable and its own fd
# 255 on the terminal. Dumped with --kill and restored from a shell in
# another terminal: the prompt is redrawn (readline's SIGWINCH), the
# history and the variable are there, keys go through readline (raw mode,
# one echo), and `exit 3` ends restore with status 3. In this mode (no
# --pid-ns) restore says, in one note, that the shell comes back as a job
# in restore's process group and so cannot take the terminal back after a
# foreground job, and to use `restore --pid-ns` (docs/architecture.md, "Job
# control"); this test sticks to builtins. e2e.check_tmux_bash_pid_ns
# restores the shell with --pid-ns and drives its job control.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tmux.sh"

tmux_window old 100x30 "exec env PS1='old\$ ' HISTFILE=$WORK/old.history HOME=$WORK bash --norc --noprofile"
tmux_wait old '^old\$'
tmux_type old 'echo one'; tmux_keys old Enter
tmux_type old 'v=two; echo "v is $v"'; tmux_keys old Enter
tmux_wait old '^v is two$'
pid=$(tmux_pid old)
[[ $(readlink "/proc/$pid/fd/255") == /dev/pts/* ]] || fail "bash has no fd 255 on its terminal: $(ls -l "/proc/$pid/fd")"
tmux_dump old "$WORK/bash.ckpt"

tmux_shell new 90x30
tmux_type new "$RESTORE $WORK/bash.ckpt"; tmux_keys new Enter
tmux_wait new '^restore: note: the process is a job-control shell' "restore's note on the job-control shell"
tmux_capture new | tr -d '\n ' | grep -q 'restoreitwith`restore--pid-ns`instead' ||
  fail "restore's note does not point to --pid-ns: $(tmux_capture new)"
tmux_wait new '^old\$$' "the restored shell's prompt, redrawn"
back=$(pgrep -P "$(tmux_pid new)")
[[ $(readlink "/proc/$back/fd/255") == "$(readlink "/proc/$back/fd/0")" ]] ||
  fail "the restored shell's fd 255 is not on restore's terminal: $(ls -l "/proc/$back/fd")"
tmux_type new 'history'; tmux_keys new Enter
tmux_wait new '^ +3  history$' "the history with the restored entries"
tmux_capture new >"$WORK/after.txt"
grep -Eq '^ +1  echo one$' "$WORK/after.txt" && grep -Eq '^ +2  v=two; echo "v is \$v"$' "$WORK/after.txt" ||
  fail "the history lost its entries: $(cat "$WORK/after.txt")"
tmux_type new 'echo "still $v"'; tmux_keys new Enter
tmux_wait new '^still two$' "the variable set before the dump"
n=$(grep -c 'echo "still' <(tmux_capture new))
((n == 1)) || fail "the typed line is on the screen $n times, expected once (one echo)"
tmux_type new 'exit 3'; tmux_keys new Enter
tmux_job_done new
tmux_type new 'echo "restore exited $?"'; tmux_keys new Enter
tmux_wait new '^restore exited 3$' "the restored shell's exit status 3 through restore"
log "PASS: bash came back with its prompt, history, variable and fd 255 on the new terminal; exit 3 reached the caller"
