#!/usr/bin/env bash
# The progress line of dump and restore (common/Progress.h): drawn on a
# terminal (bytes done, rate, time left, redrawn with \r and erased at the
# end), absent when standard error is not a terminal, forced with
# --progress, suppressed with --no-progress. The one-second delay before the
# first draw is lowered with CKPT_PROGRESS_AFTER_MS=0, so that the 64 MiB of
# bigmem shows it however fast this machine is; no timing is asserted.
source "$(dirname "$0")/lib.sh"
PTY="python3 $(dirname "$0")/pty_stderr.py"
export CKPT_PROGRESS_AFTER_MS=0

# has_line FILE WHAT: FILE holds a progress line of WHAT ("ckpt: dumping",
# "restore: restoring") with its figures, drawn with \r and erased with \r ESC[K.
has_line() {
  grep -aq $'\r'"$2 [0-9.]* [KMG]*i*B of [0-9.]* [KMG]*i*B ([0-9]*%), [0-9.]* [KMG]*i*B/s, [0-9]* s left" "$1" ||
    fail "no progress line '$2 ... of ... (N%), .../s, N s left' in $1: $(cat -v "$1" | head -c 600)"
  grep -aq $'\r\e\[K' "$1" || fail "the progress line in $1 was not erased: $(cat -v "$1" | head -c 600)"
}
no_line() { grep -aq "$2" "$1" && fail "$3: a progress line appeared: $(cat -v "$1" | head -c 600)"; return 0; }

# 1. dump on a terminal: the line, then the usual summary on a line of its own.
start a "$PROGRAMS/bigmem"
wait_lines a 1
pid=$(pid_of a)
$PTY "$WORK/dump-a.tty" -- "$CKPT" dump "$pid" -o "$WORK/a.ckpt" --compress none </dev/null >/dev/null ||
  fail "ckpt dump under a terminal exited $?: $(cat -v "$WORK/dump-a.tty")"
has_line "$WORK/dump-a.tty" "ckpt: dumping"
grep -aq $'\e\[Kckpt: dumped pid '"$pid" "$WORK/dump-a.tty" || fail "the summary does not follow the erased line: $(cat -v "$WORK/dump-a.tty" | tail -c 300)"
log "dump on a terminal: $(tr '\r' '\n' <"$WORK/dump-a.tty" | grep -a 'dumping' | tail -n 1 | cat -v)"

# 2. not a terminal: nothing extra; --progress forces it; --no-progress on a terminal suppresses it.
"$CKPT" dump "$pid" -o "$WORK/b.ckpt" --compress none >/dev/null 2>"$WORK/dump-b.err" || fail "ckpt dump exited $?"
no_line "$WORK/dump-b.err" "dumping" "dump with stderr a file"
[[ $(wc -l <"$WORK/dump-b.err") == 1 ]] || fail "dump with stderr a file printed more than its summary: $(cat -v "$WORK/dump-b.err")"
"$CKPT" dump "$pid" -o "$WORK/c.ckpt" --compress none --progress >/dev/null 2>"$WORK/dump-c.err" || fail "ckpt dump --progress exited $?"
has_line "$WORK/dump-c.err" "ckpt: dumping"
$PTY "$WORK/dump-d.tty" -- "$CKPT" dump "$pid" -o "$WORK/d.ckpt" --compress none --no-progress </dev/null >/dev/null ||
  fail "ckpt dump --no-progress exited $?"
no_line "$WORK/dump-d.tty" "dumping" "dump --no-progress on a terminal"
"$CKPT" dump "$pid" -o "$WORK/e.ckpt" --progress --no-progress >/dev/null 2>"$WORK/dump-e.err"
(($? == 2)) || fail "dump --progress --no-progress: expected a usage error (2)"

# 3. restore on a terminal: the line while memory is staged, erased before the program runs on.
_spawn back $PTY "$WORK/back.tty" -- "$RESTORE" "$WORK/a.ckpt"
send back x
wait_lines back 1
close_input back
wait_exit back 0
has_line "$WORK/back.tty" "restore: restoring"
grep -q '^sum ' "$WORK/back.out" || fail "the restored bigmem did not go on: $(cat "$WORK/back.out")"
log "restore on a terminal: $(tr '\r' '\n' <"$WORK/back.tty" | grep -a 'restoring' | tail -n 1 | cat -v)"

# 4. restore with stderr not a terminal: nothing; --progress forces it; --no-progress suppresses it.
restore_start quiet "$WORK/b.ckpt"
send quiet x
close_input quiet
wait_exit quiet 0
no_line "$WORK/quiet.err" "restoring" "restore with stderr a file"
_spawn forced "$RESTORE" --progress "$WORK/c.ckpt"
send forced x
close_input forced
wait_exit forced 0
has_line "$WORK/forced.err" "restore: restoring"
_spawn off $PTY "$WORK/off.tty" -- "$RESTORE" --no-progress "$WORK/d.ckpt"
send off x
close_input off
wait_exit off 0
no_line "$WORK/off.tty" "restoring" "restore --no-progress on a terminal"
log "PASS"
