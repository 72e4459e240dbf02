#!/usr/bin/env bash
# vim at a real terminal (tmux), started from a shell there (a job, not a
# session leader), editing a file with unsaved changes, dumped
# with --kill and restored from a shell in another terminal, 90 columns
# wide instead of 100. Before terminals were carried, the restored vim
# showed a blank screen and the terminal stayed in cooked mode (keys
# reached vim only after Enter, and echoed). Now vim finds SIGWINCH
# pending and its raw mode applied: it redraws at the new width with the
# same text (the unsaved edit included), the edit goes on, and :wq writes
# what was typed before and after the dump.
# CAPTURE_DIR (optional): where the screens before and after are kept.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tmux.sh"
command -v vim >/dev/null || fail "vim is not installed (.ci/deps installs it)"
CAPTURE_DIR=${CAPTURE_DIR:-$WORK}

for i in $(seq 1 60); do echo "line $i"; done >"$WORK/f.txt"
tmux_shell old 100x30
tmux_type old "vim -u NONE -N -n -i NONE -c 'set ruler' $WORK/f.txt"; tmux_keys old Enter
tmux_wait old '^line 29$'
vim_pid=$(pgrep -P "$(tmux_pid old)")
[[ $(readlink "/proc/$vim_pid/exe") == */vim* ]] || fail "no vim under the old window's shell: $vim_pid"
tmux_keys old 5G A; tmux_type old ' edited'; tmux_keys old Escape
tmux_wait old '^line 5 edited$'
tmux_wait old '5,13 +Top$' "vim's ruler at line 5, column 13"
tmux_capture old >"$CAPTURE_DIR/vim-before.txt"
DUMP_PID=$vim_pid tmux_dump old "$WORK/vim.ckpt"
grep -q 'line 5 edited' "$WORK/f.txt" && fail "the edit reached the file before :wq"

tmux_shell new 90x30
tmux_type new "$RESTORE $WORK/vim.ckpt"; tmux_keys new Enter
# The redraw: rows 1-29 as before (the shell's lines gone), the ruler at
# the right of the 90 columns now.
tmux_wait new '^ {72}5,13 +Top$' "vim's ruler redrawn at the right of 90 columns"
tmux_capture new >"$CAPTURE_DIR/vim-after.txt"
expect_same "vim's text rows after the redraw" <(head -n 29 "$CAPTURE_DIR/vim-before.txt") \
  <(head -n 29 "$CAPTURE_DIR/vim-after.txt")
# The edit goes on (raw mode: each key reaches vim at once) and is written.
tmux_keys new o; tmux_type new 'added after restore'; tmux_keys new Escape
tmux_wait new '^added after restore$'
tmux_type new ':wq'; tmux_keys new Enter
tmux_job_done new
tmux_type new 'echo "restore exited $?"'; tmux_keys new Enter
tmux_wait new '^restore exited 0$' "vim's exit status 0 through restore"
{
  for i in 1 2 3 4; do echo "line $i"; done
  echo "line 5 edited"
  echo "added after restore"
  for i in $(seq 6 60); do echo "line $i"; done
} >"$WORK/expected.txt"
expect_same "the file vim wrote" "$WORK/expected.txt" "$WORK/f.txt"
log "PASS: vim redrew the same 29 rows at 90 columns, went on editing, and :wq wrote the edits"
