# Job control of an interactive bash restored with `restore --pid-ns` in a
# tmux window: what a person does with a shell, driven with send-keys and
# checked with capture-pane. Source it after lib.sh and tmux.sh; the
# restored shell's prompt is PROMPT (an extended regex, e.g. '^old\$').
#
#   bash_job_control NAME PROMPT JOB_PID
#
# JOB_PID: the background job `sleep 600 &` started before the dump ([1]).
# Checks, in order: the job is listed; a foreground command runs and the
# shell takes the terminal back after it (before --pid-ns made the shell
# lead its saved group again, bash read EIO here and exited); Ctrl-C ends a
# foreground job ($? 130); Ctrl-Z stops one, `jobs` lists it Stopped, `bg`
# continues it in the background, `fg` brings it to the front where Ctrl-C
# ends it; a job stopped with Ctrl-Z comes back with a plain `fg`; and
# `kill %1` ends the job from before the dump.

# _bj_last NAME REGEX: the screen's last line matching REGEX.
_bj_last() { tmux_capture "$1" | grep -E -- "$2" | tail -n 1; }

# _bj_prompts NAME: how many lines of the screen start with the prompt.
_bj_prompts() { tmux_capture "$1" | grep -cE -- "$_BJ_PROMPT"; }

# _bj_run NAME TEXT: types TEXT and Enter, then waits until a new prompt
# line is on the screen (the command is done; the shell reads again).
_bj_run() {
  local name=$1 text=$2 before i
  before=$(_bj_prompts "$name")
  tmux_type "$name" "$text"; tmux_keys "$name" Enter
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    (($(_bj_prompts "$name") > before)) && return 0
    sleep 0.05
  done
  fail "$name: no prompt after '$text' within ${WAIT_SECONDS}s; the screen:
$(tmux_capture "$name")"
}

# _bj_interrupt NAME: Ctrl-C, then waits for the shell's next prompt (so
# that what is typed next is not echoed by the terminal as type-ahead).
_bj_interrupt() {
  local name=$1 before i
  before=$(_bj_prompts "$name")
  tmux_keys "$name" C-c
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    (($(_bj_prompts "$name") > before)) && return 0
    sleep 0.05
  done
  fail "$name: no prompt after Ctrl-C within ${WAIT_SECONDS}s; the screen:
$(tmux_capture "$name")"
}

# _bj_clear NAME: an empty screen with one prompt, so that each step reads
# only its own lines. What the screen showed is kept first, in order, in
# ${CAPTURE_DIR:-$WORK}/NAME-session.txt.
_bj_clear() {
  tmux_capture "$1" | sed '/^$/d' >>"${CAPTURE_DIR:-$WORK}/$1-session.txt"
  tmux_keys "$1" C-l
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    [[ $(tmux_capture "$1" | grep -c .) == 1 ]] && return 0
    sleep 0.05
  done
  fail "$1: the screen did not clear; it shows:
$(tmux_capture "$1")"
}

# _bj_foreground_is NAME PID: waits until PID's process group is the
# terminal's foreground group (stat fields 5 and 8, pgrp and tpgid).
_bj_foreground_is() {
  local name=$1 pid=$2 i f
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    f=($(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null))
    [[ ${#f[@]} -gt 5 && ${f[2]} == "${f[5]}" ]] && return 0
    sleep 0.05
  done
  fail "$name: the group of pid $pid (${f[2]:-gone}) is not the terminal's foreground group (${f[5]:-?})"
}

bash_job_control() {
  local name=$1 job=$3 i
  _BJ_PROMPT=$2
  _bj_clear "$name"
  _bj_run "$name" 'jobs'
  tmux_wait "$name" '^\[1\]\+ +Running +sleep 600 &$' "the job from before the dump in 'jobs'"

  # A foreground command: the shell gives the terminal to it and takes it back.
  _bj_clear "$name"
  _bj_run "$name" 'sleep 1; echo "done $((6 * 7))"'
  tmux_wait "$name" '^done 42$' "the foreground command's output"
  _bj_run "$name" 'echo "after a foreground job"'
  tmux_wait "$name" '^after a foreground job$' "the shell reading again after a foreground job"

  # Ctrl-C of a foreground job.
  _bj_clear "$name"
  tmux_type "$name" 'sleep 100'; tmux_keys "$name" Enter
  _bj_wait_child_sleep "$name" 100
  _bj_interrupt "$name"
  _bj_run "$name" 'echo "status $?"'
  tmux_wait "$name" '^status 130$' "the foreground job ended by Ctrl-C (status 130)"

  # Ctrl-Z, jobs, bg, fg.
  _bj_clear "$name"
  tmux_type "$name" 'sleep 200'; tmux_keys "$name" Enter
  _bj_wait_child_sleep "$name" 200
  tmux_keys "$name" C-z
  tmux_wait "$name" '^\[2\]\+ +Stopped +sleep 200$' "the job stopped by Ctrl-Z"
  [[ $(proc_state "$_BJ_SLEEP") == T ]] || fail "$name: sleep 200 ($_BJ_SLEEP) is $(proc_state "$_BJ_SLEEP"), not stopped"
  _bj_run "$name" 'jobs'
  tmux_wait "$name" '^\[1\]- +Running +sleep 600 &$' "the job from before the dump, listed with the stopped one"
  tmux_wait "$name" '^\[2\]\+ +Stopped +sleep 200$' "the stopped job in 'jobs'"
  _bj_run "$name" 'bg'
  tmux_wait "$name" '^\[2\]\+ sleep 200 &$' "bg continuing the stopped job"
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    [[ $(proc_state "$_BJ_SLEEP") == S ]] && break
    sleep 0.05
  done
  [[ $(proc_state "$_BJ_SLEEP") == S ]] || fail "$name: sleep 200 ($_BJ_SLEEP) is $(proc_state "$_BJ_SLEEP") after bg"
  _bj_clear "$name"
  tmux_type "$name" 'fg %2'; tmux_keys "$name" Enter
  tmux_wait "$name" '^sleep 200$' "fg naming the job it brings back"
  _bj_foreground_is "$name" "$_BJ_SLEEP"
  _bj_interrupt "$name"
  _bj_run "$name" 'echo "status $?"'
  tmux_wait "$name" '^status 130$' "the job brought back by fg, ended by Ctrl-C"

  _bj_clear "$name"
  tmux_type "$name" 'sleep 300'; tmux_keys "$name" Enter
  _bj_wait_child_sleep "$name" 300
  tmux_keys "$name" C-z
  tmux_wait "$name" '^\[2\]\+ +Stopped +sleep 300$' "the second job stopped by Ctrl-Z"
  tmux_type "$name" 'fg'; tmux_keys "$name" Enter
  tmux_wait "$name" '^sleep 300$' "fg naming the job it brings back"
  _bj_foreground_is "$name" "$_BJ_SLEEP"
  [[ $(proc_state "$_BJ_SLEEP") == S ]] || fail "$name: sleep 300 is $(proc_state "$_BJ_SLEEP") after fg"
  _bj_interrupt "$name"
  _bj_run "$name" 'echo "status $?"'
  tmux_wait "$name" '^status 130$' "the job brought back by a plain fg, ended by Ctrl-C"

  # The job from before the dump, ended by its job number.
  _bj_clear "$name"
  _bj_run "$name" 'kill %1'
  _bj_run "$name" 'echo killed'
  tmux_wait "$name" '^\[1\]\+ +Terminated +sleep 600( &)?$' "the shell reporting the end of its job from before the dump"
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    [[ -d /proc/$job ]] || break
    sleep 0.05
  done
  [[ -d /proc/$job ]] && fail "$name: the job from before the dump (host pid $job) is still there after kill %1"
  _bj_clear "$name"
  _bj_run "$name" 'jobs; echo "no jobs"'
  tmux_wait "$name" '^no jobs$'
  [[ $(tmux_capture "$name" | grep -c '^\[') == 0 ]] || fail "$name: jobs still lists: $(tmux_capture "$name")"
  tmux_capture "$name" | sed '/^$/d' >>"${CAPTURE_DIR:-$WORK}/$name-session.txt"
}

# _bj_wait_child_sleep NAME SECONDS: until the restored shell has a child
# `sleep SECONDS` in the terminal's foreground; sets _BJ_SLEEP (host pid).
_bj_wait_child_sleep() {
  local name=$1 secs=$2 i p
  _BJ_SLEEP=
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    for p in $(pgrep -P "$BJ_SHELL" -x sleep); do
      [[ $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) == "sleep $secs " ]] && _BJ_SLEEP=$p
    done
    [[ -n $_BJ_SLEEP ]] && break
    sleep 0.05
  done
  [[ -n $_BJ_SLEEP ]] || fail "$name: the restored shell (host pid $BJ_SHELL) did not start 'sleep $secs'; the screen:
$(tmux_capture "$name")"
  _bj_foreground_is "$name" "$_BJ_SLEEP"
}
