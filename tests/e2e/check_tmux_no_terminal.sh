#!/usr/bin/env bash
# An image of a program on a terminal (less at a real terminal, tmux, with
# its own fd 3 on it), restored with no terminal at all: stdin a FIFO,
# stdout and stderr files. restore says so in one line and falls back to
# the shell-job rule: fds 0-2 are restore's own, fd 3 (read-only on the
# terminal) becomes a dup of restore's fd 0, no terminal settings are
# applied. less then takes its keys from that FIFO: q ends it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tmux.sh"
command -v less >/dev/null || fail "less is not installed (.ci/deps installs it)"

for i in $(seq 1 2000); do echo "row $i"; done >"$WORK/long.txt"
tmux_window old 100x30 "HOME=$WORK LESSHISTFILE=- exec less $WORK/long.txt"
tmux_wait old '^row 29$'
tmux_wait old 'long\.txt' "less's prompt (the file's name)"
tmux_dump old "$WORK/less.ckpt"
"$RESTORE" --check "$WORK/less.ckpt" </dev/null >"$WORK/check.out" 2>"$WORK/check.err" ||
  fail "restore --check refused the image without a terminal: $(cat "$WORK/check.err")"

restore_start back "$WORK/less.ckpt"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  [[ $(readlink "/proc/$PID_back/fd/3" 2>/dev/null) == "$WORK/back.in" ]] && break
  sleep 0.05
done
[[ $(readlink "/proc/$PID_back/fd/3") == "$WORK/back.in" ]] ||
  fail "the restored less's fd 3 is not restore's stdin: $(ls -l "/proc/$PID_back/fd")"
[[ $(cat "$WORK/back.err") =~ ^"restore: note: the process was on a terminal (/dev/pts/"[0-9]+") but restore's stdin is not one: fds 0-2 are restore's own, its fds 3 on the terminal become dups of restore's fd 0 (1 if write-only), and the terminal settings are not applied"$ ]] ||
  fail "restore did not say, in one line, that it has no terminal: $(cat "$WORK/back.err")"
# A dup, not a new open: one description (the same flags and offset).
expect_same "fd 3's and fd 0's description" <(grep -v '^ino' "/proc/$PID_back/fdinfo/0") \
  <(grep -v '^ino' "/proc/$PID_back/fdinfo/3")
printf q >&"${_WFD[back]}"
wait_exit back 0
log "PASS: one note, fd 3 a dup of restore's stdin, and q through it ended less"
