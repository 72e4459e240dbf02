#!/usr/bin/env bash
# No privilege is ever gained from an image: an image dumped from a root
# process and restored by another user (nobody), or by root with another
# group, is refused before anything happens: exit status 1, one line on
# stderr that names the mismatch, nothing on stdout, and the caller never
# becomes the saved program (given the counter's input, it prints no step).
# The same image restored by root then works, so the refusals were about the
# caller and not a broken image.
# Needs root (to dump as root and switch to nobody) and setpriv (util-linux).
source "$(dirname "$0")/lib.sh"

((EUID == 0)) || fail "must run as root: it restores a root image as another user"
command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed to run restore as another user"
id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null || fail "the user nobody or the group nogroup is missing"

# nobody must reach the image and a restore binary: mktemp made $WORK 0700,
# and the build tree may be private. restore is static, so a copy runs.
chmod 755 "$WORK"
cp "$RESTORE" "$WORK/restore" && chmod 755 "$WORK/restore" || fail "cannot copy $RESTORE into $WORK"

seq 100000 | head -c $((8 * 4096 + 100)) >"$WORK/data"
chmod 644 "$WORK/data"
input() { printf 'counter-line-%d\n' "$@"; }

start ref "$PROGRAMS/counter" "$WORK/data"
send ref $(input $(seq 1 12))
wait_lines ref 12
close_input ref
wait_exit ref 0

start run "$PROGRAMS/counter" "$WORK/data"
send run $(input $(seq 1 10))
wait_lines run 10
dump run "$WORK/counter.ckpt"
chmod 644 "$WORK/counter.ckpt"

# refused WHAT PATTERN SETPRIV_ARGS...: restore run through setpriv must
# refuse with one line matching PATTERN.
refused() {
  local what=$1 pattern=$2 rc lines
  shift 2
  input 11 12 | setpriv "$@" "$WORK/restore" "$WORK/counter.ckpt" \
    >"$WORK/$what.out" 2>"$WORK/$what.err"
  rc=$?
  ((rc == 1)) || fail "restore as $what exited $rc, expected 1 (refusal)"
  [[ -s $WORK/$what.out ]] && fail "restore as $what printed on stdout (did it become the counter?)"
  lines=$(wc -l <"$WORK/$what.err")
  ((lines == 1)) || fail "restore as $what printed $lines lines on stderr, expected one"
  grep -qE "^restore: .*$pattern" "$WORK/$what.err" ||
    fail "restore as $what did not name the mismatch ($pattern): $(cat "$WORK/$what.err")"
  log "refused as $what: $(cat "$WORK/$what.err")"
}

refused nobody 'uid 0' --reuid=nobody --regid=nogroup --clear-groups
refused root-with-nogroup 'gid 0' --regid=nogroup --clear-groups

# Sanity: the owner restores the same image.
restore_start back "$WORK/counter.ckpt"
send back $(input 11 12)
wait_lines back 2
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restore as root"
lines "$WORK/ref.out" 11 12 >"$WORK/expected-after"
expect_same "output after the restore as root" "$WORK/expected-after" "$WORK/back.out"
log "PASS"
