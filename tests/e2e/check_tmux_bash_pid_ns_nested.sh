#!/usr/bin/env bash
# An interactive bash that is not its terminal's session leader (started
# from the tmux pane's shell, so a job of that shell: its own process
# group in the pane shell's session), with a background job and a
# foreground job running (so the shell is not in front), dumped with
# --kill and restored with `restore --pid-ns` by a caller without job
# control (`sh -c`, in one process group with restore). The foreground
# job is in front of the terminal again and Ctrl-C ends it; the restored
# shell leads its saved group, takes the terminal back, and all of its
# job control works (bash_job_control.sh). When it exits, restore gives the
# terminal back to its caller's group: the caller's next read of the
# terminal gets the typed line (without that, the caller, in a background
# group then, would be stopped by SIGTTIN).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tmux.sh"
source "$(dirname "$0")/bash_job_control.sh"

tmux_shell old 100x30
tmux_type old "env PS1='inner\$ ' HISTFILE=$WORK/inner.history HOME=$WORK bash --norc --noprofile"; tmux_keys old Enter
tmux_wait old '^inner\$'
inner=$(pgrep -P "$(tmux_pid old)" -x bash)
[[ -n $inner ]] || fail "no bash under the pane's shell"
[[ $(awk '{print $5, $6}' "/proc/$inner/stat") == "$inner $(tmux_pid old)" ]] ||
  fail "the inner bash $inner does not lead its group in the pane shell's session: $(cat "/proc/$inner/stat")"
tmux_type old 'sleep 600 &'; tmux_keys old Enter
tmux_wait old '^\[1\] [0-9]+$'
job=$(tmux_capture old | sed -n 's/^\[1\] \([0-9]*\)$/\1/p')
# And a foreground job at the dump: the shell is not in front then.
tmux_type old 'sleep 700'; tmux_keys old Enter
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  front=$(pgrep -P "$inner" -f '^sleep 700$')
  [[ -n $front ]] && break
  sleep 0.05
done
[[ -n $front && $(awk '{print $5, $8}' "/proc/$front/stat") == "$front $front" ]] ||
  fail "no sleep 700 in front of the terminal under the inner bash"
DUMP_PID=$inner tmux_dump old "$WORK/bash.ckpt"
tmux_wait old '^ckpt\$' "the pane's shell again, after its job was killed"

tmux_window new 90x30 "$RESTORE --pid-ns $WORK/bash.ckpt; echo \"restore exited \$?\"; read -r line; echo \"the caller read: \$line\"; exec sleep 100000"
caller=$(tmux_pid new)
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  outer=$(pgrep -P "$caller")
  [[ -n $outer ]] && BJ_SHELL=$(pgrep -P "$(pgrep -P "$outer")" -x bash)
  [[ -n ${BJ_SHELL:-} ]] && back=$(pgrep -P "$BJ_SHELL" -f '^sleep 700$') && break
  sleep 0.05
done
[[ -n ${back:-} ]] || fail "no restored bash with its sleep 700 under restore's init"
# The foreground job from before the dump is in front again; Ctrl-C ends
# it and the shell takes the terminal back.
_bj_foreground_is new "$back"
tmux_keys new C-c
tmux_wait new '^inner\$$' "the restored shell's prompt after Ctrl-C of its foreground job"
[[ $(awk '/^NSpgid:/ {print $NF}' "/proc/$BJ_SHELL/status") == "$inner" ]] ||
  fail "the restored shell does not lead its saved group $inner: $(grep -E '^NS(pid|pgid):' "/proc/$BJ_SHELL/status")"
[[ $(awk '{print $5}' "/proc/$outer/stat") == "$caller" ]] || fail "restore is not in its caller's group"
_bj_foreground_is new "$BJ_SHELL"

bash_job_control new '^inner\$' "$job"

tmux_type new 'exit 3'; tmux_keys new Enter
tmux_wait new '^restore exited 3$' "the restored shell's exit status 3 through restore"
_bj_foreground_is new "$caller"
tmux_type new 'typed after the restore'; tmux_keys new Enter
tmux_wait new '^the caller read: typed after the restore$' "the caller reading the terminal after restore ended"
log "PASS: a bash that was a job of the pane's shell, restored with --pid-ns from sh -c: its job control works, and the terminal went back to the caller after exit 3"
