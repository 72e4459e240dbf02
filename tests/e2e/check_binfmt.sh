#!/usr/bin/env bash
# An image runs by itself: `restore --install-binfmt` registers restore with
# binfmt_misc (its absolute path, flag F, never C, the magic at offset 0),
# `ckpt dump --executable` makes an image u+x (still owner-only), and
# `./app.ckpt` then carries on exactly like `restore app.ckpt`: same output
# as an undisturbed run, fds 0, 1 and 2 only. Re-installing replaces the
# entry; --uninstall-binfmt removes it (also when there is none); a caller
# who is not root, or a system without binfmt_misc mounted, is told what to
# do. An image named like one of restore's options runs as an image; an
# interpreter (or folder) another user owns or may write is refused. The
# entry is always removed at the end (and one that existed before
# the test is put back); binfmt_misc is mounted if it was not, and
# unmounted again. Needs root.
source "$(dirname "$0")/lib.sh"

((EUID == 0)) || fail "must run as root: binfmt_misc registration takes root"
BINFMT=/proc/sys/fs/binfmt_misc
ENTRY=$BINFMT/ckpt

mounted_here=0
if [[ ! -e $BINFMT/register ]]; then
  if ! mount -t binfmt_misc none "$BINFMT" 2>"$WORK/mount.err"; then
    log "SKIPPED: binfmt_misc is not mounted and cannot be mounted here: $(cat "$WORK/mount.err")"
    exit 77
  fi
  mounted_here=1
  log "binfmt_misc was not mounted; mounted it on $BINFMT for this test"
fi
# An entry that someone registered before the test is put back afterwards.
old_interp= old_flags=
if [[ -e $ENTRY ]]; then
  old_interp=$(awk '/^interpreter / {print $2}' "$ENTRY")
  old_flags=$(awk '/^flags: / {print $2}' "$ENTRY")
fi
binfmt_cleanup() {
  [[ -e $ENTRY ]] && echo -1 >"$ENTRY"
  [[ -n $old_interp ]] && echo ":ckpt:M:0:\\x7fCKPT\\x0d\\x0a\\x1a::$old_interp:$old_flags" >"$BINFMT/register"
  ((mounted_here)) && umount "$BINFMT"
  _cleanup
}
trap binfmt_cleanup EXIT

# run_ok WHAT PATTERN CMD...: exit 0 and PATTERN on stdout.
run_ok() {
  local what=$1 pattern=$2 rc
  shift 2
  "$@" </dev/null >"$WORK/last.stdout" 2>"$WORK/last.stderr"
  rc=$?
  ((rc == 0)) || fail "$what: exit status $rc: $(cat "$WORK/last.stderr")"
  grep -qE "$pattern" "$WORK/last.stdout" || fail "$what did not say what it did: $(cat "$WORK/last.stdout")"
  log "$what: $(head -n 2 "$WORK/last.stdout" | tr '\n' ' ')"
}
# run_refused WHAT PATTERN CMD...: exit 1 and PATTERN on stderr.
run_refused() {
  local what=$1 pattern=$2 rc
  shift 2
  "$@" </dev/null >"$WORK/last.stdout" 2>"$WORK/last.stderr"
  rc=$?
  ((rc == 1)) || fail "$what: exit status $rc, expected 1: $(cat "$WORK/last.stderr")"
  grep -qE "$pattern" "$WORK/last.stderr" || fail "$what: the message does not say what to do: $(cat "$WORK/last.stderr")"
  log "$what: $(cat "$WORK/last.stderr")"
}

interp=$(realpath "$RESTORE")
[[ -e $ENTRY ]] && echo -1 >"$ENTRY"
run_ok "uninstall with nothing registered" "nothing removed" "$RESTORE" --uninstall-binfmt
run_ok "install" "registered binfmt_misc entry 'ckpt'" "$RESTORE" --install-binfmt
[[ -e $ENTRY ]] || fail "--install-binfmt said so but $ENTRY does not exist"
grep -qx enabled "$ENTRY" || fail "the entry is not enabled: $(cat "$ENTRY")"
grep -qx "interpreter $interp" "$ENTRY" || fail "the entry's interpreter is not $interp: $(cat "$ENTRY")"
grep -qx "flags: F" "$ENTRY" || fail "the entry's flags are not exactly F: $(cat "$ENTRY")"
grep -qx "offset 0" "$ENTRY" || fail "the entry's magic is not at offset 0: $(cat "$ENTRY")"
grep -qx "magic 7f434b50540d0a1a" "$ENTRY" || fail "the entry's magic is not the image magic: $(cat "$ENTRY")"
run_ok "install again" "removed the existing binfmt_misc entry.*" "$RESTORE" --install-binfmt
grep -q "registered" "$WORK/last.stdout" || fail "re-install did not register again: $(cat "$WORK/last.stdout")"

# Not root: told to be root, and the entry stays as it was.
chmod 755 "$WORK"
cp "$RESTORE" "$WORK/restore" && chmod 755 "$WORK/restore" || fail "cannot copy restore"
run_refused "install as nobody" "takes root" \
  setpriv --reuid=nobody --regid=nogroup --clear-groups "$WORK/restore" --install-binfmt
run_refused "uninstall as nobody" "takes root" \
  setpriv --reuid=nobody --regid=nogroup --clear-groups "$WORK/restore" --uninstall-binfmt
grep -qx "interpreter $interp" "$ENTRY" || fail "a refused install as nobody changed the entry"
# binfmt_misc not mounted (in a private mount namespace): told how to mount it.
run_refused "install without binfmt_misc mounted" "mount -t binfmt_misc none $BINFMT" \
  unshare -m --propagation private sh -c 'umount "$1" && exec "$2" --install-binfmt' - "$BINFMT" "$RESTORE"

# The image itself, run directly.
seq 100000 | head -c $((8 * 4096 + 100)) >"$WORK/data"
input() { printf 'counter-line-%d\n' "$@"; }
start ref "$PROGRAMS/counter" "$WORK/data"
send ref $(input $(seq 1 12))
wait_lines ref 12
close_input ref
wait_exit ref 0

start run "$PROGRAMS/counter" "$WORK/data"
send run $(input $(seq 1 10))
wait_lines run 10
dump run "$WORK/app.ckpt" --executable
mode=$(stat -c %A "$WORK/app.ckpt")
[[ $mode == -rwx------ ]] || fail "ckpt dump --executable made the image $mode, expected -rwx------"

cd "$WORK" || fail "cannot enter $WORK"
start back ./app.ckpt
send back $(input 11)
wait_lines back 1
check_std_fds back
[[ $(cat "/proc/$PID_back/comm") == counter ]] || fail "./app.ckpt runs as '$(cat "/proc/$PID_back/comm")', not the counter"
send back $(input 12)
wait_lines back 2
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "./app.ckpt"
lines "$WORK/ref.out" 11 12 >"$WORK/expected-after"
expect_same "output of ./app.ckpt" "$WORK/expected-after" "$WORK/back.out"
log "./app.ckpt carried on like the undisturbed run, with fds 0 1 2 only"

# An image whose file name is one of restore's options, executed by that
# bare name (as execvp finds it through a PATH that holds "."): binfmt_misc
# passes the name as argv[1], and it is an image like any other. It never
# re-registers or removes the handler, never enters the page server's mode.
for name in --install-binfmt --uninstall-binfmt --page-server --check; do
  cp "$WORK/app.ckpt" "$WORK/$name" || fail "cannot copy the image to $name"
  input 11 | python3 -c 'import os, sys; os.execv(sys.argv[1], sys.argv[1:])' "$name" \
    >"$WORK/named.out" 2>"$WORK/named.err"
  rc=$?
  ((rc == 0)) || fail "an image named $name, run by itself: exit status $rc: $(cat "$WORK/named.err")"
  grep -q binfmt "$WORK/named.out" "$WORK/named.err" && fail "an image named $name reached a binfmt mode: $(cat "$WORK/named.out")"
  [[ -e $ENTRY ]] && grep -qx "interpreter $interp" "$ENTRY" || fail "running an image named $name changed the entry"
  lines "$WORK/ref.out" 11 11 >"$WORK/expected-named"
  expect_same "output of the image named $name" "$WORK/expected-named" "$WORK/named.out"
  log "an image named $name ran as an image"
done
# A script whose "#!" line names such an image (by a relative name, which
# the kernel opens from the current folder) gives that name as argv[1],
# with the line's argument and the script after it, and argv[0] the
# interpreter's absolute path: never the page server's mode (which only
# restore's own exec reaches, with argv[0] "restore"), so a usage error.
printf '#!--page-server 1\n' >"$WORK/via-script" && chmod 755 "$WORK/via-script"
./via-script </dev/null >"$WORK/script.out" 2>"$WORK/script.err"
rc=$?
((rc == 2)) && grep -q "unrecognised option '--page-server'" "$WORK/script.err" ||
  fail "a script naming the image --page-server: exit status $rc, expected 2 (usage): $(cat "$WORK/script.err")"
log "a script naming the image --page-server: $(head -n 1 "$WORK/script.err")"
printf 'x\n' | python3 -c 'import os, sys; os.execv(sys.argv[1], sys.argv[1:])' ./app.ckpt --check >/dev/null 2>"$WORK/args.err"
rc=$?
((rc == 2)) || fail "./app.ckpt --check: exit status $rc, expected 2 (an image takes no arguments): $(cat "$WORK/args.err")"
log "./app.ckpt with arguments: usage error ($(head -n 1 "$WORK/args.err"))"

# The interpreter runs for everyone who executes an image: one that another
# user owns or may write (or whose folder they may write) is refused, and
# the entry stays as it was.
mkdir -m 755 "$WORK/own"
cp "$RESTORE" "$WORK/own/restore" && chmod 755 "$WORK/own/restore" || fail "cannot copy restore"
chown nobody "$WORK/own/restore"
run_refused "install of a restore owned by nobody" "owned by uid" "$WORK/own/restore" --install-binfmt
chown root "$WORK/own/restore" && chmod 757 "$WORK/own/restore"
run_refused "install of a restore others may write" "writable by users other than root" "$WORK/own/restore" --install-binfmt
chmod 755 "$WORK/own/restore" && chmod 777 "$WORK/own"
run_refused "install of a restore in a folder others may write" "folder $WORK/own is writable" "$WORK/own/restore" --install-binfmt
grep -qx "interpreter $interp" "$ENTRY" || fail "a refused install changed the entry: $(cat "$ENTRY")"
chmod 755 "$WORK/own"
run_ok "install of a restore root owns, in root's folders" "registered binfmt_misc entry" "$WORK/own/restore" --install-binfmt
run_ok "install back" "registered binfmt_misc entry" "$RESTORE" --install-binfmt

run_ok "uninstall" "removed the binfmt_misc entry 'ckpt'" "$RESTORE" --uninstall-binfmt
[[ -e $ENTRY ]] && fail "--uninstall-binfmt said so but $ENTRY still exists"
# execve itself (a shell or execvp would fall back to reading the file as a
# script on ENOEXEC): the kernel no longer knows the format.
python3 -c 'import os, sys; os.execv(sys.argv[1], sys.argv[1:])' ./app.ckpt </dev/null >/dev/null 2>"$WORK/noexec.err" &&
  fail "./app.ckpt still runs after --uninstall-binfmt"
grep -q 'Exec format error' "$WORK/noexec.err" || fail "after uninstall, execve of ./app.ckpt: $(cat -v "$WORK/noexec.err")"
log "after uninstall, execve of ./app.ckpt fails with ENOEXEC (Exec format error)"
log "PASS"
