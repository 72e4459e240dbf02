# A real terminal for the end-to-end tests of interactive programs: a
# private tmux server (its own socket, no configuration file) that this
# test starts and, on exit, kills by that socket and nothing else.
# Source it after lib.sh:
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/tmux.sh"
#   tmux_window old 100x30 "exec vim file"    # a session with one window running CMD
#   tmux_wait old 'some text'                 # until capture-pane shows it
#   tmux_keys old i hello Escape              # tmux send-keys
#   tmux_pid old                              # the pane's first process
#   tmux_capture old                          # the visible screen, as text
#
# Programs see TERM=screen (its terminfo entry is in ncurses-base), no
# status line, and the pane's size exactly as asked. Waits are bounded by
# WAIT_SECONDS and look at the screen, never at the clock.

command -v tmux >/dev/null || fail "tmux is not installed (.ci/deps installs it)"

TMUX_SOCKET="ckpt-$TEST_NAME-$$"
unset TMUX TMUX_PANE  # a test run from inside tmux must not talk to that server

tmux_() { tmux -L "$TMUX_SOCKET" -f /dev/null "$@"; }

# The server by its socket, then a bounded wait for it (and so its panes'
# shells, which write their history into $WORK) to be gone.
_tmux_cleanup() {
  local server i
  server=$(tmux_ display-message -p '#{pid}' 2>/dev/null)
  tmux_ kill-server 2>/dev/null
  for ((i = 0; i < 100 && ${#server} > 0; i++)); do
    kill -0 "$server" 2>/dev/null || break
    sleep 0.05
  done
  rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$TMUX_SOCKET"  # the server leaves its socket file
  _cleanup
}
trap _tmux_cleanup EXIT

# tmux_window NAME COLSxROWS CMD: a new session NAME (one window of that
# size) whose pane runs CMD through sh -c. Sessions rather than windows, so
# that each has its own size. The pane's environment is the test's.
tmux_window() {
  local name=$1 size=$2 cmd=$3
  local cols=${size%x*} rows=${size#*x}
  if ! tmux_ has-session 2>/dev/null; then
    # The server's options first, in a session that only holds them.
    tmux_ -f /dev/null new-session -d -s _ -x 20 -y 5 "sleep 100000" ||
      fail "tmux could not start its server (socket $TMUX_SOCKET)"
    tmux_ set-option -g status off
    tmux_ set-option -g default-terminal screen
    tmux_ set-option -g remain-on-exit off
    tmux_ set-option -g history-limit 0
  fi
  tmux_ new-session -d -s "$name" -x "$cols" -y "$rows" "$cmd" || fail "tmux could not start session $name running: $cmd"
}

# tmux_shell NAME COLSxROWS: tmux_window running an interactive bash
# without start-up files, prompt "ckpt$ ", history in $WORK/NAME.history;
# waits for its prompt.
tmux_shell() {
  tmux_window "$1" "$2" "env PS1='ckpt\$ ' HISTFILE=$WORK/$1.history HOME=$WORK bash --norc --noprofile"
  tmux_wait "$1" '^ckpt\$' "the prompt of the shell in $1"
}

# tmux_pid NAME: the pid of the pane's first process (sh -c CMD, or CMD if it execs).
tmux_pid() { tmux_ display-message -p -t "=$1:" '#{pane_pid}'; }

# tmux_keys NAME KEY...: tmux send-keys (Enter, Escape, C-c... are key names; -l for literal text).
tmux_keys() {
  local name=$1; shift
  tmux_ send-keys -t "=$name:" "$@" || fail "tmux send-keys to $name failed (is it still there?)"
}

# tmux_type NAME TEXT: TEXT as typed, literally, without Enter.
tmux_type() { tmux_keys "$1" -l "$2"; }

# tmux_capture NAME: the pane's visible screen, one line per row, trailing blanks trimmed.
tmux_capture() { tmux_ capture-pane -p -t "=$1:" 2>/dev/null | sed 's/[[:space:]]*$//'; }

# tmux_cursor NAME: "X Y" of the pane's cursor.
tmux_cursor() { tmux_ display-message -p -t "=$1:" '#{cursor_x} #{cursor_y}'; }

# tmux_wait NAME EXTENDED_REGEX [WHAT]: until the screen has a line
# matching; else fails, showing the screen.
tmux_wait() {
  local name=$1 re=$2 what=${3:-"'$2' on the screen"} i
  local screen
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    screen=$(tmux_capture "$name")
    grep -Eq -- "$re" <<<"$screen" && return 0
    sleep 0.05
  done
  fail "$name: waited ${WAIT_SECONDS}s for $what; the screen:
$(tmux_capture "$name")"
}

# tmux_wait_screen NAME FILE: until the screen is exactly FILE's text
# (blank lines at the end aside); else fails, showing both.
tmux_wait_screen() {
  local name=$1 want=$2 i
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    diff -q <(tmux_capture "$name" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}') \
      <(sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$want") >/dev/null && return 0
    sleep 0.05
  done
  fail "$name: the screen is not what it was; diff (expected, then seen):
$(diff <(sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$want") <(tmux_capture "$name" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'))"
}

# tmux_job_done NAME: until the program the shell in NAME runs (its one
# child, restore as it became the program) has ended, so that what is
# typed next goes to the shell, not into the program's input buffer.
tmux_job_done() {
  local shell child i
  shell=$(tmux_pid "$1")
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    child=$(pgrep -P "$shell")
    [[ -z $child ]] && return 0
    sleep 0.05
  done
  fail "$1: the program under the shell did not end within ${WAIT_SECONDS}s; the screen:
$(tmux_capture "$1")"
}

# tmux_wait_gone NAME: until the session's pane has exited (the session closes with it).
tmux_wait_gone() {
  local i
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    tmux_ has-session -t "=$1" 2>/dev/null || return 0
    sleep 0.05
  done
  fail "$1: still running after ${WAIT_SECONDS}s; the screen:
$(tmux_capture "$1")"
}

# tmux_dump NAME IMAGE [ARGS...]: ckpt dump --kill of the process whose pid
# is PID (default: the pane's first process), checked as lib.sh's dump does.
tmux_dump() {
  local name=$1 img=$2; shift 2
  local pid=${DUMP_PID:-$(tmux_pid "$name")} rc
  "$CKPT" dump "$pid" -o "$img" --compress "$COMPRESS" --kill "$@" \
    >"$WORK/dump-$name.out" 2>"$WORK/dump-$name.err"
  rc=$?
  ((rc == 0)) || fail "ckpt dump $pid ($name) --kill exited $rc: $(cat "$WORK/dump-$name.err")"
  check_quiet "$WORK/dump-$name.err" "ckpt dump"
}
