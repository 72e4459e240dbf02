#!/usr/bin/env bash
# Images through pipes: `ckpt dump PID -o - | restore -` brings the process
# back exactly (24 MiB of noise and pattern, a double); `-o -` to a file
# writes a plain image; `inspect -` and `verify -` read a stream; `restore
# --lazy -` serves pages from the received copy. A stream cut short at any
# point, or with a byte changed in its metadata, pages or end record, is
# refused by restore, which restores nothing; a reader gone away fails the
# dump cleanly; a terminal as -o - or as `restore -`'s stdin is refused.
# Through all of it the source process runs on untouched.
source "$(dirname "$0")/lib.sh"
shopt -s lastpipe  # restore_from at the end of a pipeline sets RC here

fresh_must_fail stream_target
start orig "$PROGRAMS/stream_target"
wait_lines orig 1
pid=$PID_orig

untouched() {  # the source: running (not stopped, not traced)
  local state tracer
  state=$(proc_state "$pid")
  [[ $state == S || $state == R ]] || fail "the source (pid $pid) is in state '$state' after $1"
  tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status")
  [[ $tracer == 0 ]] || fail "the source (pid $pid) is still traced by $tracer after $1"
}

# restore_from WHAT FILE|-: runs restore - on FILE (as stdin) or on the
# pipe given on this function's stdin; sets RC and leaves back.out/back.err.
restore_from() {
  if [[ $2 == - ]]; then
    "$RESTORE" "${@:3}" - >"$WORK/back.out" 2>"$WORK/back.err"
  else
    "$RESTORE" "${@:3}" - <"$2" >"$WORK/back.out" 2>"$WORK/back.err"
  fi
  RC=$?
}
must_pass() {
  ((RC == 0)) && grep -q '^PASS .*read(0) returned 0' "$WORK/back.out" ||
    fail "$1: the restored process did not PASS with EOF on fd 0 (status $RC)"
  check_quiet "$WORK/back.err" "restore - ($1)"
}
must_refuse() {  # WHAT PATTERN: restore exited 1 with PATTERN and nothing ran
  ((RC == 1)) || fail "$1: restore exited $RC, expected 1"
  grep -qE "$2" "$WORK/back.err" || fail "$1: restore did not say '$2': $(cat "$WORK/back.err")"
  [[ ! -s $WORK/back.out ]] || fail "$1: something was restored: $(head -n 3 "$WORK/back.out")"
  [[ $(wc -l <"$WORK/back.err") == 1 ]] || fail "$1: restore said more than one line: $(cat "$WORK/back.err")"
}

# 1. The round trip through a pipe, the source left running.
"$CKPT" dump "$pid" -o - --compress "$COMPRESS" 2>"$WORK/dump.err" | restore_from pipe -
((PIPESTATUS[0] == 0)) || fail "ckpt dump -o - | restore - : the dump failed: $(cat "$WORK/dump.err")"
check_quiet "$WORK/dump.err" "ckpt dump -o -"
must_pass "dump -o - | restore -"
untouched "dump -o - | restore -"
log "dump -o - | restore -: $(cat "$WORK/back.out")"

# 2. --lazy from a stream: the received copy serves the pages.
"$CKPT" dump "$pid" -o - --compress "$COMPRESS" 2>"$WORK/dump.err" | restore_from lazy - --lazy
must_pass "dump -o - | restore --lazy -"

# 3. -o - to a file is a plain image: restore FILE, restore - < FILE, verify.
"$CKPT" dump "$pid" -o - --compress "$COMPRESS" >"$WORK/plain.ckpt" 2>"$WORK/dump.err" ||
  fail "ckpt dump -o - > FILE failed: $(cat "$WORK/dump.err")"
head -c 8 "$WORK/plain.ckpt" | od -An -c | grep -q 'C   K   P   T  \\r  \\n' || fail "-o - > FILE did not write a plain image"
verify "$WORK/plain.ckpt"
restore_from "file on stdin" "$WORK/plain.ckpt"
must_pass "restore - < FILE"
"$CKPT" dump "$pid" -o - >>"$WORK/plain.ckpt" 2>"$WORK/dump.err" && fail "ckpt dump -o - >> FILE was accepted"
grep -q 'opened for appending' "$WORK/dump.err" || fail "-o - >> FILE: no reason given: $(cat "$WORK/dump.err")"
{ echo x; "$CKPT" dump "$pid" -o - 2>"$WORK/dump.err"; } >"$WORK/offset.ckpt" && fail "ckpt dump -o - at offset 2 was accepted"
grep -q 'at offset 2' "$WORK/dump.err" || fail "-o - at an offset: no reason given: $(cat "$WORK/dump.err")"
( exec >&-; "$CKPT" dump "$pid" -o - 2>"$WORK/dump.err" ) && fail "ckpt dump -o - with stdout closed was accepted"
grep -q 'standard output is closed' "$WORK/dump.err" || fail "-o - with stdout closed: $(cat "$WORK/dump.err")"
"$CKPT" dump "$pid" -o - --executable 2>"$WORK/dump.err" | cat >"$WORK/exec.stream"
((PIPESTATUS[0] == 1)) || fail "ckpt dump -o - --executable into a pipe did not fail"
grep -q -- '--executable needs an image file' "$WORK/dump.err" || fail "-o - --executable: $(cat "$WORK/dump.err")"
"$RESTORE" - <"$WORK/exec.stream" >/dev/null 2>"$WORK/exec.err" && fail "the stream of a failed dump was restored"
untouched "the refused dumps to files"

# 4. A stream kept in a file (restore - copies it, as from a pipe); inspect and verify.
"$CKPT" dump "$pid" -o - --compress "$COMPRESS" 2>"$WORK/dump.err" | cat >"$WORK/s.stream"
size=$(stat -c %s "$WORK/s.stream")
head -c 8 "$WORK/s.stream" | od -An -c | grep -q 'C   K   P   T   S   T   M' || fail "the stream does not start with the stream magic"
tail -c 120 "$WORK/s.stream" | head -c 8 | grep -q '^CKPTSEND$' || fail "the stream does not end with its end record"
"$CKPT" verify - <"$WORK/s.stream" >"$WORK/verify.out" 2>&1 || fail "ckpt verify - refused the stream: $(cat "$WORK/verify.out")"
grep -q '^-: ok' "$WORK/verify.out" || fail "ckpt verify - said: $(cat "$WORK/verify.out")"
cat "$WORK/s.stream" | "$CKPT" inspect - >"$WORK/inspect.out" 2>&1 || fail "ckpt inspect - failed: $(head -n 3 "$WORK/inspect.out")"
grep -q 'ckpt image, format version' "$WORK/inspect.out" || fail "ckpt inspect - printed: $(head -n 3 "$WORK/inspect.out")"
cat "$WORK/s.stream" | "$CKPT" inspect - --json | python3 -c 'import json,sys; json.load(sys.stdin)' ||
  fail "ckpt inspect - --json is not JSON"
restore_from "stream from a file" "$WORK/s.stream"
must_pass "restore - < STREAM"

# 5. Cut short anywhere: refused, nothing restored.
for cut in 10 64 4096 $((size / 2)) $((size - 120)) $((size - 1)); do
  head -c "$cut" "$WORK/s.stream" | restore_from "cut at $cut" -
  must_refuse "a stream cut at $cut of $size bytes" 'ended (early|after)'
done
# A reader that goes away mid-stream fails the dump, which releases the source.
"$CKPT" dump "$pid" -o - --compress "$COMPRESS" 2>"$WORK/dump.err" | head -c 100000 | restore_from "reader gone" -
must_refuse "a dump whose reader left" 'ended early'
grep -q 'Broken pipe' "$WORK/dump.err" || fail "the dump into a closed pipe did not fail with EPIPE: $(cat "$WORK/dump.err")"
untouched "a dump into a pipe closed early"

# 6. One byte changed: in the metadata, in the page data, in the end record.
corrupt() {  # OFFSET -> $WORK/bad.stream
  cp "$WORK/s.stream" "$WORK/bad.stream"
  printf '\xa5' | dd of="$WORK/bad.stream" bs=1 seek="$1" conv=notrunc status=none
}
corrupt 200
restore_from "metadata byte" "$WORK/bad.stream"
must_refuse "a stream with a metadata byte changed" 'checksum|bad image'
corrupt $((size / 2))
restore_from "page byte" "$WORK/bad.stream"
must_refuse "a stream with a page byte changed" 'checksum'
"$CKPT" verify - <"$WORK/bad.stream" >/dev/null 2>&1 && fail "ckpt verify - accepted a stream with a page byte changed"
corrupt $((size - 60))
restore_from "end record byte" "$WORK/bad.stream"
must_refuse "a stream with its end record changed" 'not a valid end record'
corrupt 0
restore_from "magic" "$WORK/bad.stream"
must_refuse "a stream with its magic changed" 'not an image'

# 7. A terminal is refused as -o - and as the stdin of restore - / inspect -.
command -v script >/dev/null || { log "SKIP: script(1) is missing: cannot give ckpt a terminal"; exit 77; }
script -qec "$CKPT dump $pid -o -" /dev/null >"$WORK/tty.out" 2>&1 && fail "ckpt dump -o - to a terminal was accepted"
grep -q 'standard output is a terminal' "$WORK/tty.out" || fail "-o - to a terminal: $(cat "$WORK/tty.out")"
script -qec "$RESTORE -" /dev/null >"$WORK/tty.out" 2>&1 && fail "restore - from a terminal was accepted"
grep -q 'standard input is a terminal' "$WORK/tty.out" || fail "restore - from a terminal: $(cat "$WORK/tty.out")"
script -qec "$CKPT inspect -" /dev/null >"$WORK/tty.out" 2>&1 && fail "ckpt inspect - from a terminal was accepted"
grep -q 'standard input is a terminal' "$WORK/tty.out" || fail "inspect - from a terminal: $(cat "$WORK/tty.out")"
untouched "all of the above"

# The source, after all that: its own state still checks.
send orig check
close_input orig
wait_exit orig 0
grep -q '^PASS' "$WORK/orig.out" || fail "the source did not PASS its own check at the end"
log "PASS: round trip, lazy, file, inspect/verify -, $((6)) cuts, 4 corruptions, terminals refused; source untouched"
