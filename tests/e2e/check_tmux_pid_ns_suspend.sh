#!/usr/bin/env bash
# Full-screen and line-editing programs restored with `restore --pid-ns`
# at a real terminal (tmux) are the calling shell's foreground job as they
# were their own shell's: Ctrl-Z suspends them back to that shell ("Stopped"
# and its prompt), `fg` resumes them. A python3 REPL: it has its saved pid,
# answers after fg (as an unrestored REPL does under bash, it does not
# redraw its prompt on fg). vim, editing a file with an unsaved change: fg
# redraws its screen (the same rows as before the dump), the edit goes on
# and :wq writes it. Neither is a job-control shell, so each stays in
# restore's process group (docs/architecture.md, "Job control").
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tmux.sh"
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || fail "$PYTHON is not installed (.ci/deps installs python3)"
command -v vim >/dev/null || fail "vim is not installed (.ci/deps installs it)"

# in_front NAME PID: PID's group is the terminal's foreground group.
in_front() {
  local f
  f=($(sed 's/.*) //' "/proc/$2/stat" 2>/dev/null))
  [[ ${#f[@]} -gt 5 && ${f[2]} == "${f[5]}" ]] || fail "$1: pid $2 is not in the terminal's foreground group: ${f[*]:0:6}"
}
# restored NAME: the host pid of the process restore --pid-ns made (the child of its init).
restored() { pgrep -P "$(pgrep -P "$(pgrep -P "$(tmux_pid "$1")")")"; }

# The REPL.
tmux_window py 100x30 "HOME=$WORK exec $PYTHON -q"
tmux_wait py '^>>>'
tmux_type py 'x = 6; import os; saved = os.getpid()'; tmux_keys py Enter
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do  # the line done: its prompt and the next one
  [[ $(tmux_capture py | grep -c '^>>>') == 2 ]] && break
  sleep 0.05
done
py_pid=$(tmux_pid py)
tmux_dump py "$WORK/py.ckpt"
tmux_shell new 90x25
tmux_type new "$RESTORE --pid-ns $WORK/py.ckpt"; tmux_keys new Enter
tmux_wait new '^>>>' "the restored REPL's prompt"
back=$(restored new)
[[ $(awk '/^NSpid:/ {print $NF}' "/proc/$back/status") == "$py_pid" ]] || fail "the REPL does not have its saved pid $py_pid"
in_front new "$back"
tmux_keys new C-z
tmux_wait new '^\[1\]\+ +Stopped +.*restore --pid-ns' "the calling shell reporting its stopped job after Ctrl-Z"
tmux_wait new '^ckpt\$$' "the calling shell's prompt after Ctrl-Z"
[[ $(proc_state "$back") == T ]] || fail "the REPL is $(proc_state "$back"), not stopped, after Ctrl-Z"
tmux_keys new C-l
tmux_type new 'fg'; tmux_keys new Enter
tmux_wait new 'restore --pid-ns' "fg naming the job"
in_front new "$back"
tmux_type new 'print(x * 7, os.getpid() == saved)'; tmux_keys new Enter
tmux_wait new '^42 True$' "the REPL brought back with fg answering"
tmux_type new 'exit()'; tmux_keys new Enter
tmux_job_done new
tmux_type new 'echo "restore exited $?"'; tmux_keys new Enter
tmux_wait new '^restore exited 0$'

# vim.
for i in $(seq 1 60); do echo "line $i"; done >"$WORK/f.txt"
tmux_shell old 100x30
tmux_type old "vim -u NONE -N -n -i NONE -c 'set ruler' $WORK/f.txt"; tmux_keys old Enter
tmux_wait old '^line 29$'
vim_pid=$(pgrep -P "$(tmux_pid old)")
tmux_keys old 5G A; tmux_type old ' edited'; tmux_keys old Escape
tmux_wait old '5,13 +Top$' "vim's ruler at line 5, column 13"
tmux_capture old >"$WORK/vim-before.txt"
DUMP_PID=$vim_pid tmux_dump old "$WORK/vim.ckpt"
tmux_shell vnew 100x30
tmux_type vnew "$RESTORE --pid-ns $WORK/vim.ckpt"; tmux_keys vnew Enter
tmux_wait vnew '5,13 +Top$' "vim's ruler, redrawn after the restore"
in_front vnew "$(restored vnew)"
tmux_keys vnew C-z
tmux_wait vnew '^\[1\]\+ +Stopped +.*restore --pid-ns' "the calling shell reporting its stopped job after Ctrl-Z"
tmux_wait vnew '^ckpt\$$' "the calling shell's prompt after Ctrl-Z"
tmux_type vnew 'fg'; tmux_keys vnew Enter
tmux_wait_screen vnew "$WORK/vim-before.txt"
tmux_keys vnew o; tmux_type vnew 'added after fg'; tmux_keys vnew Escape
tmux_wait vnew '^added after fg$'
tmux_type vnew ':wq'; tmux_keys vnew Enter
tmux_job_done vnew
tmux_type vnew 'echo "restore exited $?"'; tmux_keys vnew Enter
tmux_wait vnew '^restore exited 0$'
{
  for i in 1 2 3 4; do echo "line $i"; done
  echo "line 5 edited"
  echo "added after fg"
  for i in $(seq 6 60); do echo "line $i"; done
} >"$WORK/expected.txt"
expect_same "the file vim wrote" "$WORK/expected.txt" "$WORK/f.txt"
log "PASS: under restore --pid-ns, Ctrl-Z suspended the REPL and vim back to the calling shell, fg resumed them (vim redrawn, the same screen)"
