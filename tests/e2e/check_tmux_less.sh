#!/usr/bin/env bash
# less at a real terminal (tmux), 500 lines into a long file, dumped with
# --kill and restored from a shell in another terminal. less reads its keys
# from a descriptor of its own on the terminal (fd 3, opened read-only):
# before terminals were carried the dump refused it ("terminals other than
# the inherited stdio are not supported yet"). Now fd 3 is a new open of
# restore's terminal, read-only as it was; less redraws at the new width
# with the same lines, and single keys (raw mode) move it and quit it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tmux.sh"
command -v less >/dev/null || fail "less is not installed (.ci/deps installs it)"

for i in $(seq 1 2000); do echo "row $i"; done >"$WORK/long.txt"
tmux_window old 100x30 "HOME=$WORK LESSHISTFILE=- exec less $WORK/long.txt"
tmux_wait old '^row 29$'
tmux_type old 500g
tmux_wait old '^row 500$'
tmux_wait old '^:$' "less's prompt"
tmux_capture old >"$WORK/before.txt"
pid=$(tmux_pid old)
[[ $(readlink "/proc/$pid/fd/3") == /dev/pts/* && $(stat -L -c %a "/proc/$pid/fd/3") ]] ||
  fail "less has no fd 3 on its terminal (this test needs one): $(ls -l "/proc/$pid/fd")"
tmux_dump old "$WORK/less.ckpt"
"$CKPT" inspect "$WORK/less.ckpt" >"$WORK/inspect.txt" || fail "ckpt inspect failed"
grep -q '^files: .*3 terminal /dev/pts/' "$WORK/inspect.txt" ||
  fail "fd 3 is not recorded as on the terminal: $(grep '^files' "$WORK/inspect.txt")"

tmux_shell new 90x30
tmux_type new "$RESTORE $WORK/less.ckpt"; tmux_keys new Enter
tmux_wait new '^row 500$' "less redrawn at row 500"
tmux_wait new '^:$' "less's prompt"
back=$(pgrep -P "$(tmux_pid new)")
[[ $(readlink "/proc/$back/fd/3") == "$(readlink "/proc/$back/fd/0")" ]] ||
  fail "the restored less's fd 3 is not on restore's terminal: $(ls -l "/proc/$back/fd")"
[[ $(awk '/^flags:/ {print $2}' "/proc/$back/fdinfo/3") == *0 ]] ||
  fail "the restored less's fd 3 is not read-only as it was: $(cat "/proc/$back/fdinfo/3")"
tmux_capture new >"$WORK/after.txt"
expect_same "less's screen after the redraw" "$WORK/before.txt" "$WORK/after.txt"
tmux_type new j
tmux_wait new '^row 529$' "less one line further on after j"
[[ $(tmux_capture new | head -n 1) == "row 501" ]] || fail "j did not move less one line: $(tmux_capture new | head -n 3)"
tmux_type new q
tmux_job_done new
tmux_type new 'echo "restore exited $?"'; tmux_keys new Enter
tmux_wait new '^restore exited 0$' "less's exit status 0 through restore"
log "PASS: less came back at row 500 with its own read-only fd 3 on the new terminal; j and q worked"
