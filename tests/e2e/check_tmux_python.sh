#!/usr/bin/env bash
# A python3 REPL at a real terminal (tmux), with variables defined, dumped
# with --kill and restored from a shell in another terminal of another
# size. Before terminals were carried, the restored REPL showed no prompt
# (nothing redrew it) and echoed every typed line twice (the terminal was
# left in cooked mode with echo, and readline echoed too). Now: the prompt
# is redrawn (the pending SIGWINCH interrupts readline's select), one line
# typed gives one echo and the right answer, and the REPL is the shell's
# foreground job: Ctrl-C reaches it, Ctrl-Z stops it, `fg` brings it back.
# CAPTURE_DIR (optional): where the screens before and after are kept.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tmux.sh"
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || fail "$PYTHON is not installed (.ci/deps installs python3)"
CAPTURE_DIR=${CAPTURE_DIR:-$WORK}

tmux_window old 100x30 "HOME=$WORK exec $PYTHON -q"
tmux_wait old '^>>>'
tmux_type old 'x = 6'; tmux_keys old Enter
tmux_type old 'y = 7'; tmux_keys old Enter
tmux_type old "tty = open('/dev/tty', 'w')"; tmux_keys old Enter
# And the terminal itself again, read-write and non-blocking, as fd 4.
tmux_type old "import os; pts = os.open(os.ttyname(0), os.O_RDWR | os.O_NONBLOCK)"; tmux_keys old Enter
tmux_wait old '^>>> tty = '
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  [[ $(tmux_capture old | grep -c '^>>>') == 5 ]] && break
  sleep 0.05
done
tmux_capture old >"$CAPTURE_DIR/python-before.txt"
[[ $(readlink "/proc/$(tmux_pid old)/fd/3") == /dev/tty ]] || fail "python has no fd 3 on /dev/tty: $(ls -l "/proc/$(tmux_pid old)/fd")"
tmux_dump old "$WORK/py.ckpt"
"$CKPT" inspect "$WORK/py.ckpt" >"$WORK/inspect.txt" || fail "ckpt inspect failed"
grep -q '^terminal: .*in the foreground.*raw or cbreak, no echo' "$WORK/inspect.txt" ||
  fail "the image does not hold readline's terminal settings: $(grep '^terminal' "$WORK/inspect.txt")"

tmux_shell new 90x25
tmux_type new "$RESTORE $WORK/py.ckpt"; tmux_keys new Enter
# The prompt, redrawn by readline on the SIGWINCH (no key pressed yet).
tmux_wait new '^>>>' "the restored REPL's prompt"
tmux_capture new >"$CAPTURE_DIR/python-restored.txt"
tmux_type new 'x * y'; tmux_keys new Enter
tmux_wait new '^42$' "the answer 42"
# /dev/tty, opened write-only before the dump, is restore's terminal now.
back=$(pgrep -P "$(tmux_pid new)")
[[ $(readlink "/proc/$back/fd/3") == /dev/tty && $(awk '/^flags:/ {print $2}' "/proc/$back/fdinfo/3") == *1 ]] ||
  fail "the restored REPL's fd 3 is not /dev/tty, write-only: $(ls -l "/proc/$back/fd"; cat "/proc/$back/fdinfo/3")"
# fd 4, a description of its own on the new terminal: read-write and
# O_NONBLOCK (04000), which restore's fd 0 is not.
flags4=$(awk '/^flags:/ {print $2}' "/proc/$back/fdinfo/4")
flags0=$(awk '/^flags:/ {print $2}' "/proc/$back/fdinfo/0")
[[ $(readlink "/proc/$back/fd/4") == "$(readlink "/proc/$back/fd/0")" && $((8#$flags4 & 04003)) == $((04002)) &&
   $((8#$flags0 & 04000)) == 0 ]] ||
  fail "the restored REPL's fd 4 is not its own read-write, non-blocking open of the terminal: fd 4 flags $flags4, fd 0 flags $flags0"
tmux_type new "n = tty.write('through /dev/tty\\n'); tty.flush()"; tmux_keys new Enter
tmux_wait new '^through /dev/tty$' "a line written through /dev/tty"
tmux_capture new >"$CAPTURE_DIR/python-after.txt"
n=$(grep -c 'x \* y' "$CAPTURE_DIR/python-after.txt")
((n == 1)) || fail "'x * y' is on the screen $n times, expected once (one echo): $(cat "$CAPTURE_DIR/python-after.txt")"
grep -q '^>>> x \* y$' "$CAPTURE_DIR/python-after.txt" || fail "the typed line is not echoed once after the prompt"

# Job control: the REPL is the foreground job of the shell that ran restore.
tmux_keys new C-c
tmux_wait new '^KeyboardInterrupt' "KeyboardInterrupt after Ctrl-C"
tmux_keys new C-z
tmux_wait new 'Stopped' "the shell reporting the stopped job after Ctrl-Z"
tmux_wait new '^ckpt\$' "the shell's prompt after Ctrl-Z"
tmux_type new 'fg'; tmux_keys new Enter
tmux_type new 'print(x + y, "back")'; tmux_keys new Enter
tmux_wait new '^13 back$' "13 from the REPL brought back with fg"
tmux_type new 'exit()'; tmux_keys new Enter
tmux_job_done new
tmux_type new 'echo "restore exited $?"'; tmux_keys new Enter
tmux_wait new '^restore exited 0$' "the REPL's exit status 0 through restore"
log "PASS: prompt redrawn, one echo, 6 * 7 = 42, Ctrl-C, Ctrl-Z and fg reached the restored REPL"
