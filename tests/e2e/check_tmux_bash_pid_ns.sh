#!/usr/bin/env bash
# An interactive bash at a real terminal (tmux), as a tmux pane's shell
# (the session leader), with history, a variable and a background job
# (`sleep 600 &`), dumped with --kill and restored with `restore --pid-ns`
# from a shell in another terminal. The shell gets its saved pid and leads
# its saved process group again, and that group is the terminal's
# foreground group, so it is a fully working job-control shell: foreground
# commands, Ctrl-C, Ctrl-Z, jobs, bg, fg and kill %1 all work
# (bash_job_control.sh); `exit 3` ends restore with status 3 and the
# calling shell has its terminal back; a hang-up sent to restore's process
# group reaches the shell (relayed) and ends it. Without --pid-ns the shell lands in
# restore's group under another number and, after its first foreground
# command, cannot take the terminal back (it reads EIO and exits):
# e2e.check_tmux_bash covers that mode and its note. In the background,
# restore cannot give the shell the terminal and says so in a note.
# CAPTURE_DIR (optional): where the screens before and after are kept.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tmux.sh"
source "$(dirname "$0")/bash_job_control.sh"
CAPTURE_DIR=${CAPTURE_DIR:-$WORK}

tmux_window old 100x30 "exec env PS1='old\$ ' HISTFILE=$WORK/old.history HOME=$WORK bash --norc --noprofile"
tmux_wait old '^old\$'
shell=$(tmux_pid old)
tmux_type old 'echo one'; tmux_keys old Enter
tmux_type old 'v=two; echo "v is $v"'; tmux_keys old Enter
tmux_wait old '^v is two$'
tmux_type old 'sleep 600 &'; tmux_keys old Enter
tmux_wait old '^\[1\] [0-9]+$'
job=$(tmux_capture old | sed -n 's/^\[1\] \([0-9]*\)$/\1/p')
tmux_type old 'jobs'; tmux_keys old Enter
tmux_wait old '^\[1\]\+ +Running +sleep 600 &$'
tmux_capture old >"$CAPTURE_DIR/bash-before.txt"
[[ $(awk '{print $5, $6}' "/proc/$shell/stat") == "$shell $shell" ]] ||
  fail "the pane's shell $shell does not lead its own session and group"
tmux_dump old "$WORK/bash.ckpt"

tmux_shell new 90x30
# In the background, restore cannot give the shell the terminal, and says so
# (after the calling shell's next prompt, or before it: the job races it).
tmux_type new "$RESTORE --pid-ns $WORK/bash.ckpt &"; tmux_keys new Enter
tmux_wait new '^(ckpt\$ )?restore: note: the process is a job-control shell and restore is not in the' "the note of a restore in the background"
tmux_type new 'kill -KILL %1; wait; clear'; tmux_keys new Enter
tmux_wait new '^ckpt\$$' "the calling shell's prompt alone"
tmux_type new "$RESTORE --pid-ns $WORK/bash.ckpt"; tmux_keys new Enter
tmux_wait new '^old\$$' "the restored shell's prompt, redrawn"
grep -q 'restore: note' <(tmux_capture new) && fail "restore printed a note: $(tmux_capture new)"
outer=$(pgrep -P "$(tmux_pid new)")
init=$(pgrep -P "$outer")
BJ_SHELL=$(pgrep -P "$init" -x bash)
[[ -n $BJ_SHELL ]] || fail "no bash under restore's init $init"
# Its saved pid and group inside the namespace, in the calling shell's session.
[[ $(awk '/^NSpid:/ {print $NF}' "/proc/$BJ_SHELL/status") == "$shell" &&
   $(awk '/^NSpgid:/ {print $NF}' "/proc/$BJ_SHELL/status") == "$shell" ]] ||
  fail "the restored shell's pid and group are not $shell inside: $(grep -E '^NS(pid|pgid|sid):' "/proc/$BJ_SHELL/status")"
[[ $(awk '{print $6}' "/proc/$BJ_SHELL/stat") == "$(tmux_pid new)" ]] ||
  fail "the restored shell is not in the calling shell's session: $(cat "/proc/$BJ_SHELL/stat")"
_bj_foreground_is new "$BJ_SHELL"
tmux_type new 'history'; tmux_keys new Enter
tmux_wait new '^ +4  jobs$' "the history with the restored entries"
tmux_capture new >"$CAPTURE_DIR/bash-restored.txt"
grep -Eq '^ +2  v=two; echo "v is \$v"$' "$CAPTURE_DIR/bash-restored.txt" ||
  fail "the history lost its entries: $(cat "$CAPTURE_DIR/bash-restored.txt")"
tmux_type new 'echo "still $v"'; tmux_keys new Enter
tmux_wait new '^still two$' "the variable set before the dump"

bash_job_control new '^old\$' "$job"
tmux_capture new >"$CAPTURE_DIR/bash-after.txt"

tmux_type new 'exit 3'; tmux_keys new Enter
tmux_job_done new
tmux_type new 'echo "restore exited $?"'; tmux_keys new Enter
tmux_wait new '^restore exited 3$' "the restored shell's exit status 3 through restore"

# A hang-up sent to restore's job (what a shell sends its jobs when its
# terminal goes away) reaches the shell, which leads a group of its own, by
# restore's relay: bash passes it to its jobs and dies of it, and restore
# ends as it did ($? 129).
tmux_keys new C-l
tmux_type new "$RESTORE --pid-ns $WORK/bash.ckpt"; tmux_keys new Enter
tmux_wait new '^old\$$' "the restored shell's prompt, a second time"
outer=$(pgrep -P "$(tmux_pid new)")
BJ_SHELL=$(pgrep -P "$(pgrep -P "$outer")" -x bash)
_bj_foreground_is new "$BJ_SHELL"
kill -HUP -- "-$outer"
tmux_job_done new
tmux_type new 'echo "restore exited $?"'; tmux_keys new Enter
tmux_wait new '^restore exited 129$' "the restored shell's death by SIGHUP through restore"
log "PASS: bash restored with --pid-ns as pid $shell leading its group: foreground commands, Ctrl-C, Ctrl-Z, jobs, bg, fg, kill %1 of its job from before the dump; exit 3 reached the caller"
