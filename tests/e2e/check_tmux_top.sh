#!/usr/bin/env bash
# top at a real terminal (tmux), refreshing only once a minute, dumped with
# --kill and restored from a shell in another terminal. Before terminals
# were carried, the restored top drew nothing until its next refresh (and
# then without its column header: top redraws only what changed) and took
# keys only after Enter (cooked mode). Now it finds SIGWINCH pending and
# redraws at once, header included, and a single q (raw mode) quits it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tmux.sh"
command -v top >/dev/null || fail "top is not installed (.ci/deps installs procps)"

tmux_window old 100x30 "HOME=$WORK exec top -d 60"
tmux_wait old '^ *PID +USER' "top's column header"
tmux_dump old "$WORK/top.ckpt"
"$CKPT" inspect "$WORK/top.ckpt" >"$WORK/inspect.txt" || fail "ckpt inspect failed"
grep -q '^terminal: .*in the foreground.*raw or cbreak, no echo' "$WORK/inspect.txt" ||
  fail "the image does not hold top's terminal settings: $(grep '^terminal' "$WORK/inspect.txt")"

tmux_shell new 90x30
tmux_type new "$RESTORE $WORK/top.ckpt"; tmux_keys new Enter
# Well before top's next refresh (60 s): the SIGWINCH redraw.
tmux_wait new '^top - ' "top's summary line"
tmux_wait new '^ *PID +USER' "top's column header"
tmux_capture new >"$WORK/after.txt"
tmux_type new q
tmux_job_done new
tmux_type new 'echo "restore exited $?"'; tmux_keys new Enter
tmux_wait new '^restore exited 0$' "top's exit status 0 through restore, after a single q"
log "PASS: top redrew at once with its header and quit on a single q"
