#!/usr/bin/env bash
# Crafted images and paths that made restore hang, crash, act or lose the
# process (issue 16), each made from a real image by tests/tools/image_edit
# with every checksum right, so that it reaches the decoders, validation
# and staging:
#   - two fds of one pipe that together carry more unread data than the
#     pipe holds (restore blocked forever writing them), and the same for a
#     FIFO (written without blocking: an error, not a hang);
#   - a saved page of a file mapping past the file's end (SIGBUS);
#   - chunks sharing stored bytes (decompression amplification);
#   - an epoll fd watching a regular file, or a deleted file (exit 120
#     after the point of no return);
#   - more pending real-time signals than the caller may queue (the same);
#   - an image refused for a bad chunk that also names a FIFO with unread
#     data and a deleted file of 40 MiB: nothing reaches the FIFO and no
#     file is created, because page data is staged and checked before any
#     file-system side effect;
#   - the saved executable replaced by a FIFO: restore neither hangs nor
#     refuses (it is only the /proc/PID/exe link);
#   - a FIFO given as the image path to restore, restore --check, ckpt
#     verify and ckpt inspect: refused at once;
#   - glibc's cached tid in read-only memory: refused by restore --check as
#     by restore (--check runs restore's checks).
# Each refusal: exit 1, one line on stderr saying why, nothing on stdout,
# within 10 s.
source "$(dirname "$0")/lib.sh"
EDIT="$PROGRAMS/../tools/image_edit"
[[ -x $EDIT ]] || fail "image_edit not built at $EDIT"
cd "$WORK" || fail "cannot enter $WORK"
seq 100000 | head -c $((8 * 4096 + 100)) >"$WORK/data"

# refused NAME PATTERN CMD...: CMD exits 1 within 10 s with one line on
# stderr matching PATTERN and nothing on stdout.
refused() {
  local name=$1 pattern=$2 rc
  shift 2
  printf 'c\n' | timeout -k 2 10 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  rc=$?
  ((rc == 124 || rc == 137)) && fail "$name: $1 hung (killed after 10 s)"
  ((rc == 1)) || fail "$name: $1 exited $rc, expected 1: $(cat "$WORK/$name.err")"
  [[ -s $WORK/$name.out ]] && fail "$name: $1 printed on stdout: $(head -n 3 "$WORK/$name.out")"
  (($(wc -l <"$WORK/$name.err") == 1)) || fail "$name: expected one line on stderr: $(cat "$WORK/$name.err")"
  grep -qE "$pattern" "$WORK/$name.err" || fail "$name: the message does not say why: $(cat "$WORK/$name.err")"
  log "refused $name: $(cat "$WORK/$name.err")"
}
# edit NAME FIELD=VALUE...: $BASE edited into $WORK/NAME.ckpt.
edit() {
  local name=$1
  shift
  "$EDIT" "$BASE" "$WORK/$name.ckpt" "$@" 2>"$WORK/edit-$name.err" || fail "image_edit $*: $(cat "$WORK/edit-$name.err")"
}

start run "$PROGRAMS/counter" "$WORK/data"
send run a
wait_lines run 1
dump run "$WORK/base.ckpt"
BASE=$WORK/base.ckpt

# Two read ends of one 64 KiB pipe, each with 64 KiB of unread data.
edit pipe add_pipe=20,21:65536
refused pipe-overfull "ends carry 131072 bytes of unread data, more than the pipe holds" "$RESTORE" "$WORK/pipe.ckpt"
refused pipe-overfull-check "more than the pipe holds" "$RESTORE" --check "$WORK/pipe.ckpt"

# Two read ends of one FIFO, each with 64 KiB of unread data for its
# 64 KiB buffer: written without blocking, the second write is an error.
mkfifo "$WORK/fifo2"
edit fifo-overfull add_fifo=20:"$WORK/fifo2":65536 add_fifo=22:"$WORK/fifo2":65536
refused fifo-overfull "fd 22 \(fifo $WORK/fifo2\): cannot put back the 65536 bytes of unread data" \
  "$RESTORE" "$WORK/fifo-overfull.ckpt"

# The first file mapping with saved pages now maps a file of one byte.
printf x >"$WORK/tiny"
edit past-eof saved_file_path="$WORK/tiny"
refused past-eof "saved pages lie past the end of $WORK/tiny" "$RESTORE" "$WORK/past-eof.ckpt"
refused past-eof-check "past the end" "$RESTORE" --check "$WORK/past-eof.ckpt"
refused past-eof-verify "past the end" "$CKPT" verify "$WORK/past-eof.ckpt"

# 64 MiB of zero pages in zstd chunks that all point at the first one's bytes.
edit shared compress=zstd add_saved=0x600000000000:0x4000000 share_chunks=1
refused shared-chunks "stored bytes overlap" "$CKPT" verify "$WORK/shared.ckpt"
refused shared-chunks-restore "stored bytes overlap" "$RESTORE" "$WORK/shared.ckpt"

# An epoll fd watching a regular file: epoll_ctl says EPERM, so restore must
# say it before its point of no return (it exited 120 after it).
edit epoll-file add_file_fd=20:"$WORK/data" add_epoll=21:20
refused epoll-file "epoll fd 21: entry for fd 20: watches a file, which epoll cannot watch" "$RESTORE" "$WORK/epoll-file.ckpt"
refused epoll-file-check "which epoll cannot watch" "$RESTORE" --check "$WORK/epoll-file.ckpt"
# ... and restore's own stdin, when it is a regular file.
edit epoll-stdin add_epoll=21:0
refused epoll-stdin "epoll fd 21 cannot watch fd 0 \(restore's own\): Operation not permitted" \
  sh -c 'exec "$0" "$1" <"$2"' "$RESTORE" "$WORK/epoll-stdin.ckpt" "$WORK/data"
# ... and a deleted file (recreated on disk: never pollable), which
# validation knows without trying.
edit epoll-deleted add_deleted=20:"$WORK/gone":10 add_epoll=21:20
refused epoll-deleted "epoll fd 21: entry for fd 20: watches a deleted file, which epoll cannot watch" \
  "$RESTORE" "$WORK/epoll-deleted.ckpt"
refused epoll-deleted-check "which epoll cannot watch" "$RESTORE" --check "$WORK/epoll-deleted.ckpt"

# glibc's cached tid said to be in read-only memory: restore could not
# rewrite it, and --check says so too.
edit cached-tid cached_tid_readonly=1
refused cached-tid-check "cached thread id is not in writable memory" "$RESTORE" --check "$WORK/cached-tid.ckpt"
refused cached-tid "cached thread id is not in writable memory" "$RESTORE" "$WORK/cached-tid.ckpt"

# Eight queued real-time signals, restored by a caller who may queue only
# four: queueing them after the point of no return would fail (EAGAIN).
edit pending add_pending_rt=8
refused pending-rt "8 pending signals, real-time ones among them, but only [0-4] more can be queued" \
  prlimit --sigpending=4 "$RESTORE" "$WORK/pending.ckpt"
refused pending-rt-check "more can be queued" prlimit --sigpending=4 "$RESTORE" --check "$WORK/pending.ckpt"

# Refused for a bad chunk, with side effects on offer: unread data for an
# existing FIFO (held open here, so data written into it would stay), and a
# deleted file of 40 MiB to recreate in a folder watched for creations.
mkfifo "$WORK/fifo"
exec {hold}<>"$WORK/fifo"
mkdir "$WORK/victim"
edit side-effects corrupt_chunk=1 add_fifo=20:"$WORK/fifo":4096 add_deleted=21:"$WORK/victim/big":41943040
python3 - "$WORK/victim" "$RESTORE" "$WORK/side-effects.ckpt" >"$WORK/watch.out" 2>"$WORK/watch.err" <<'EOF'
import ctypes, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK)
IN_CREATE, IN_MODIFY = 0x100, 0x2
if fd < 0 or libc.inotify_add_watch(fd, sys.argv[1].encode(), IN_CREATE | IN_MODIFY) < 0:
    sys.exit("inotify: " + os.strerror(ctypes.get_errno()))
r = subprocess.run([sys.argv[2], sys.argv[3]], stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
print(r.returncode)
sys.stderr.write(r.stderr.decode())
try:
    events = os.read(fd, 65536)
except BlockingIOError:
    events = b""
print("created" if events else "nothing")
EOF
(($? == 0)) || fail "the watcher failed: $(cat "$WORK/watch.err")"
[[ $(sed -n 1p "$WORK/watch.out") == 1 ]] || fail "the image with a bad chunk: restore exited $(sed -n 1p "$WORK/watch.out"), expected 1: $(cat "$WORK/watch.err")"
grep -q "page data checksum mismatch" "$WORK/watch.err" || fail "not refused for its bad chunk: $(cat "$WORK/watch.err")"
[[ $(sed -n 2p "$WORK/watch.out") == nothing ]] || fail "restore created a file for a refused image (the deleted file)"
leaked=$(python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
try: print(len(os.read(fd, 1 << 20)))
except BlockingIOError: print(0)' "$WORK/fifo")
[[ $leaked == 0 ]] || fail "restore wrote $leaked bytes into the FIFO for a refused image"
exec {hold}>&-
log "a bad chunk is refused before any file-system side effect: $(cat "$WORK/watch.err")"

# The saved executable is a FIFO now: only /proc/PID/exe is lost (a warning).
mkfifo "$WORK/exe-fifo"
edit exe-fifo exe="$WORK/exe-fifo"
restore_start back "$WORK/exe-fifo.ckpt"
send back b
wait_lines back 1
grep -q '^step 2 ' "$WORK/back.out" || fail "the image whose executable is a FIFO did not carry on: $(cat "$WORK/back.out")"
close_input back
wait_exit back 0
log "a FIFO as the saved executable: restored ($(head -n 1 "$WORK/back.err"))"

# A FIFO as the image path (nobody writes it: opening it would block).
mkfifo "$WORK/image.fifo"
refused fifo-restore "it is a FIFO, not a regular file" "$RESTORE" "$WORK/image.fifo"
refused fifo-check "it is a FIFO, not a regular file" "$RESTORE" --check "$WORK/image.fifo"
refused fifo-verify "it is a FIFO, not a regular file" "$CKPT" verify "$WORK/image.fifo"
refused fifo-inspect "it is a FIFO, not a regular file" "$CKPT" inspect "$WORK/image.fifo"
log "PASS"
