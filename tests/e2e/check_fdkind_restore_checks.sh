#!/usr/bin/env bash
# What restore checks about deleted files and inotify watches before it
# changes anything: each image below is honest, but this machine can no
# longer take it, and both `restore --check` and `restore` must exit 1 with
# one line naming the file or watch:
#   hardlink   a deleted file kept by its other hard link is reopened by
#              file handle; the other link was removed after the dump, so
#              the handle leads nowhere
#   watch      an inotify watch's directory was removed after the dump
#   owner      a process of nobody held a deleted file owned by root;
#              nobody restoring it could not give it its owner back
# Needs root (file handles, a process of another user).
source "$(dirname "$0")/lib.sh"

((EUID == 0)) || fail "needs root (open_by_handle_at, setpriv to nobody); run as root"
PYTHON=/usr/bin/python3
D=$(mktemp -d /tmp/ckpt-fdkchk.XXXXXX)
chmod 0755 "$D"
trap 'rm -rf "$D"' EXIT
HOLDER='
import ctypes, os, sys
kind, d = sys.argv[1], sys.argv[2]
if kind == "hardlink":
    open(d + "/a", "w").write("linked")
    os.link(d + "/a", d + "/b")
    fd = os.open(d + "/a", os.O_RDWR); os.unlink(d + "/a")
elif kind == "watch":
    os.mkdir(d + "/w")
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(0)
    if fd < 0 or libc.inotify_add_watch(fd, (d + "/w").encode(), 0x100) != 1:
        sys.exit("inotify: errno %d" % ctypes.get_errno())
elif kind == "owner":
    fd = os.open(d + "/rootfile", os.O_RDONLY)
print("ready", fd, flush=True)
for line in sys.stdin:
    print("echo", line.strip(), flush=True)
'

refused() {  # NAME IMAGE WORDS [RUNNER...]: restore --check and restore refuse IMAGE, saying WORDS
  local name=$1 img=$2 words=$3
  shift 3
  local mode
  for mode in --check ""; do
    "$@" "$RESTORE" $mode "$img" >"$WORK/restore-$name.out" 2>"$WORK/restore-$name.err" </dev/null
    local rc=$?
    ((rc == 1)) || fail "restore $mode ($name) exited $rc, expected 1: $(head -n 3 "$WORK/restore-$name.err")"
    (($(wc -l <"$WORK/restore-$name.err") == 1)) || fail "restore $mode ($name) did not print exactly one line"
    grep -Eiq "$words" "$WORK/restore-$name.err" ||
      fail "restore $mode ($name) does not say why ($words): $(cat "$WORK/restore-$name.err")"
  done
  log "$name: refused as expected: $(cat "$WORK/restore-$name.err")"
}

start hardlink "$PYTHON" -u -c "$HOLDER" hardlink "$D"
wait_lines hardlink 1
dump hardlink "$WORK/hardlink.ckpt"
rm "$D/b"
refused hardlink "$WORK/hardlink.ckpt" 'file handle'

start watch "$PYTHON" -u -c "$HOLDER" watch "$D"
wait_lines watch 1
dump watch "$WORK/watch.ckpt"
rmdir "$D/w"
refused watch "$WORK/watch.ckpt" 'wd 1 .*missing'

printf 'root-owned' >"$D/rootfile"
chmod 0644 "$D/rootfile"
start owner setpriv --reuid=65534 --regid=65534 --clear-groups "$PYTHON" -u -c "$HOLDER" owner "$D"
wait_lines owner 1
rm "$D/rootfile"
dump owner "$D/owner.ckpt"
chmod 0644 "$D/owner.ckpt"
refused owner "$D/owner.ckpt" 'only root can give it' setpriv --reuid=65534 --regid=65534 --clear-groups
log "PASS"
