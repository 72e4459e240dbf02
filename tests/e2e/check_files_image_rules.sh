#!/usr/bin/env bash
# Images whose files section asks for what the kernel would refuse (made
# from a real image by tests/tools/image_edit, every checksum right) are
# refused before the point of no return, naming the fd: exit 1, never 120.
#   - an epoll entry watching a regular file (epoll cannot watch one):
#     refused by validation, so also by `restore --check` and `ckpt verify`;
#   - the same epoll entry twice (EEXIST): refused by validation;
#   - one fd number given to two open files: refused by validation;
#   - a write lock through an fd open only for reading: refused by validation;
#   - O_PATH on an eventfd, and on a file with an offset: refused by validation;
#   - an epoll entry watching /dev/null (a device without poll: EPERM):
#     passes validation, refused by restore while it fills the epoll sets,
#     before the point of no return.
# The unedited image restores, and its epoll set still works.
source "$(dirname "$0")/lib.sh"

EDIT="$PROGRAMS/../tools/image_edit"
[[ -x $EDIT ]] || fail "image_edit not built at $EDIT"
PYTHON=/usr/bin/python3
PROG='
import os, select, sys
f = os.open("/etc/hostname", os.O_RDONLY)
n = os.open("/dev/null", os.O_RDONLY)
e = os.eventfd(0)
ep = select.epoll()
ep.register(e, select.EPOLLIN)
print(f, n, e, ep.fileno(), flush=True)
sys.stdin.readline()
os.eventfd_write(e, 5)
print("events", ep.poll(0), flush=True)
'
start orig "$PYTHON" -c "$PROG"
wait_lines orig 1
read -r file null efd epfd <"$WORK/orig.out"
dump orig "$WORK/base.ckpt"

# refused NAME WHAT_PATTERN EDITS...: restore (and, when validation must
# catch it, restore --check and ckpt verify) exit 1 naming the fd.
refused() {
  local name=$1 pattern=$2 check=$3 rc; shift 3
  "$EDIT" "$WORK/base.ckpt" "$WORK/$name.ckpt" "$@" || fail "image_edit $* failed"
  "$RESTORE" "$WORK/$name.ckpt" </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err"
  rc=$?
  ((rc == 1)) || fail "$name: restore exited $rc, want 1: $(cat "$WORK/$name.err")"
  grep -qE "$pattern" "$WORK/$name.err" || fail "$name: restore did not say /$pattern/: $(cat "$WORK/$name.err")"
  if [[ $check == validated ]]; then
    "$RESTORE" --check "$WORK/$name.ckpt" >/dev/null 2>"$WORK/$name.check.err"
    rc=$?
    ((rc == 1)) || fail "$name: restore --check exited $rc, want 1"
    "$CKPT" verify "$WORK/$name.ckpt" >/dev/null 2>"$WORK/$name.verify.err" && fail "$name: ckpt verify accepted it"
    grep -qE "$pattern" "$WORK/$name.verify.err" || fail "$name: ckpt verify did not say /$pattern/: $(cat "$WORK/$name.verify.err")"
  fi
  log "$name: $(head -n 1 "$WORK/$name.err")"
}

refused epoll-regular-file "epoll fd $epfd: .*watches a file, which epoll cannot watch" validated epoll_file="$file"
refused epoll-twice "epoll fd $epfd: fd $efd is watched twice" validated epoll_twice=1
refused fd-twice "fd $efd belongs to two open files" validated dup_fd="$efd"
refused lock-read-only "fd $file: POSIX lock for writing on an fd not open for writing" validated lock=write
refused opath-eventfd "fd $efd: O_PATH on kind eventfd" validated opath=eventfd
refused opath-offset "fd $file: O_PATH with an offset, a lock or an owner" validated opath=file
refused epoll-dev-null "epoll fd $epfd: cannot watch fd $efd again: Operation not permitted" runtime epoll_file="$null"

restore_start back "$WORK/base.ckpt"
send back go
wait_lines back 1
grep -q "events \[($efd, 1)\]" "$WORK/back.out" || fail "the restored epoll set does not report the eventfd: $(cat "$WORK/back.out")"
close_input back
wait_exit back 0
log "PASS"
