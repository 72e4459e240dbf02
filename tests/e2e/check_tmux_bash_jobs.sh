#!/usr/bin/env bash
# An interactive bash at a real terminal (tmux) with a background job
# (sleep, in a process group of its own), dumped with --kill as a tree and
# restored from a shell in another terminal: the shell comes back in front
# (its prompt redrawn, its settings applied), its job in the background
# with its saved pid and group; `jobs` lists it, `kill %1` ends it and the
# shell reports it, and `exit 4` ends restore with status 4.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tmux.sh"

tmux_window old 100x30 "exec env PS1='old\$ ' HISTFILE=$WORK/old.history HOME=$WORK bash --norc --noprofile"
tmux_wait old '^old\$'
tmux_type old 'sleep 1000 &'; tmux_keys old Enter
tmux_wait old '^\[1\] [0-9]+$'
job=$(tmux_capture old | sed -n 's/^\[1\] \([0-9]*\)$/\1/p')
shell=$(tmux_pid old)
[[ $(cat "/proc/$job/comm") == sleep && $(awk '{print $5}' "/proc/$job/stat") == "$job" ]] ||
  fail "the background job $job is not a sleep leading its own group"
tmux_type old 'jobs'; tmux_keys old Enter
tmux_wait old '^\[1\]\+ +Running +sleep 1000 &$'
tmux_dump old "$WORK/bash.ckpt"

tmux_shell new 90x30
tmux_type new "$RESTORE $WORK/bash.ckpt"; tmux_keys new Enter
tmux_wait new '^old\$$' "the restored shell's prompt, redrawn"
back=$(pgrep -P "$(tmux_pid new)")
[[ -d /proc/$job && $(cat "/proc/$job/comm") == sleep ]] || fail "the job is not back with its pid $job"
[[ $(awk '{print $4, $5}' "/proc/$job/stat") == "$back $job" ]] ||
  fail "the job's parent and group are $(awk '{print $4, $5}' "/proc/$job/stat"), expected $back $job"
tmux_type new 'jobs'; tmux_keys new Enter
tmux_wait new '^\[1\]\+ +Running +sleep 1000 &$' "the restored shell's job list"
tmux_type new 'kill %1'; tmux_keys new Enter
tmux_type new 'echo killed'; tmux_keys new Enter
tmux_wait new '^\[1\]\+ +Terminated +sleep 1000$' "the shell reporting its job's end"
tmux_type new 'exit 4'; tmux_keys new Enter
tmux_job_done new
tmux_type new 'echo "restore exited $?"'; tmux_keys new Enter
tmux_wait new '^restore exited 4$' "the restored shell's exit status 4 through restore"
log "PASS: bash came back in front with its background job (pid $job, own group); jobs, kill %1 and exit worked"
