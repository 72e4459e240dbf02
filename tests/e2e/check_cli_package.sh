#!/usr/bin/env bash
# The Debian package: `cpack -G DEB` in the build folder makes a .deb holding
# both programs, the manual pages and the bash completion (and whatever
# other install() rules exist, e.g. a library, headers, a pkg-config file).
# It is installed with `dpkg --root=ROOT -i` into an empty scratch root (its
# own dpkg database; --force-depends, since that root has no libc6 package:
# nothing is fetched, no network). The root is then made a minimal system:
# only the C and C++ runtime libraries the programs (and the test's counter)
# link, copied from this machine, /dev/null, /dev/zero and /dev/urandom made
# with mknod, and a /proc mounted in a private mount namespace. Inside `chroot ROOT`: ckpt --version, ckpt check (finds
# the installed restore beside it), a dump --kill of a counter and its
# restore with the installed /usr/bin/ckpt and /usr/bin/restore, checked
# hash for hash against a run that was never interrupted.
if [[ -z ${CKPT_IN_MOUNT_NS:-} ]]; then
  [[ $(id -u) == 0 ]] || { echo "check_cli_package: SKIP: needs root (dpkg --root, chroot, mount)"; exit 77; }
  exec env CKPT_IN_MOUNT_NS=1 unshare -m --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
BUILD=${CKPT_BUILD_DIR:?CKPT_BUILD_DIR must name the build folder (tests/e2e/CMakeLists.txt sets it)}
[[ -f $BUILD/CPackConfig.cmake ]] || fail "no CPackConfig.cmake in $BUILD"
for tool in cpack dpkg dpkg-deb chroot unshare ldd; do
  command -v $tool >/dev/null || fail "$tool is missing (.ci/deps installs it)"
done

# 1. The package and what it holds.
(cd "$BUILD" && cpack -G DEB -B "$WORK/pkg") >"$WORK/cpack.out" 2>&1 || fail "cpack -G DEB failed: $(tail -n 5 "$WORK/cpack.out")"
deb=$(ls "$WORK"/pkg/*.deb 2>/dev/null | head -n 1)
[[ -f $deb ]] || fail "cpack made no .deb: $(tail -n 5 "$WORK/cpack.out")"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$WORK/contents"
for f in /usr/bin/ckpt /usr/bin/restore /usr/share/man/man1/ckpt.1 /usr/share/man/man1/restore.1 \
         /usr/share/bash-completion/completions/ckpt /usr/share/bash-completion/completions/restore; do
  grep -qx "$f" "$WORK/contents" || fail "$(basename "$deb") lacks $f: $(cat "$WORK/contents")"
done
[[ $(dpkg-deb -f "$deb" Package) == ckpt && $(dpkg-deb -f "$deb" Architecture) == amd64 ]] || fail "bad control fields: $(dpkg-deb -f "$deb")"
log "$(basename "$deb"): $(stat -c %s "$deb") bytes, $(grep -c . "$WORK/contents") entries"

# 2. dpkg -i into an empty root with a database of its own.
ROOT=$WORK/root
mkdir -p "$ROOT"/var/lib/dpkg/{info,updates} "$ROOT"/var/log "$ROOT"/tmp "$ROOT"/proc "$ROOT"/dev
touch "$ROOT"/var/lib/dpkg/status
dpkg --root="$ROOT" --log=/dev/null --force-depends -i "$deb" >"$WORK/dpkg.out" 2>&1 || fail "dpkg -i failed: $(cat "$WORK/dpkg.out")"
dpkg --root="$ROOT" -s ckpt 2>/dev/null | grep -qx 'Status: install ok installed' || fail "dpkg --root does not list ckpt as installed"
page=$(man -l "$ROOT/usr/share/man/man1/ckpt.1" 2>&1) || fail "the installed ckpt(1) does not render: $page"
grep -q 'ckpt check' <<<"$page" || fail "the installed ckpt(1) does not render"  # (not a pipe: pipefail and grep -q race)
bash -c "source '$ROOT/usr/share/bash-completion/completions/ckpt' && complete -p ckpt && complete -p restore" >/dev/null ||
  fail "the installed completion does not load"

# 3. A minimal system around it: the libraries, device nodes, /proc, a counter.
cp "$PROGRAMS/counter" "$ROOT/counter"
for bin in "$ROOT/usr/bin/ckpt" "$ROOT/counter"; do
  ldd "$bin" | grep -o '/[^ ]*' | while read -r lib; do
    mkdir -p "$ROOT$(dirname "$lib")"
    cp -L "$lib" "$ROOT$lib"
  done
done
# Never a bind mount of the host's /dev: lib.sh's cleanup removes $WORK
# recursively and would reach through it. The root gets device nodes of its
# own, and a procfs instance of its own (unmounted before the cleanup; its
# files cannot be removed anyway).
for node in "null 1 3" "zero 1 5" "urandom 1 9"; do
  set -- $node
  mknod -m 666 "$ROOT/dev/$1" c "$2" "$3" || fail "cannot make $ROOT/dev/$1"
done
mount -t proc proc "$ROOT/proc" || fail "cannot mount /proc in the root"
trap 'umount -l "$ROOT/proc" 2>/dev/null; _cleanup' EXIT
seq 100000 | head -c $((8 * 4096 + 100)) >"$ROOT/data"
input() { printf 'counter-line-%d\n' "$@"; }

out=$(chroot "$ROOT" /usr/bin/ckpt --version) || fail "the installed ckpt --version failed"
log "installed: $out"
chroot "$ROOT" /usr/bin/ckpt check >"$WORK/check.out" 2>&1 || fail "ckpt check in the root exited $?: $(cat "$WORK/check.out")"
grep -q '^ok    restore: /usr/bin/restore: restore ' "$WORK/check.out" || fail "ckpt check in the root: $(grep restore: "$WORK/check.out")"

start ref chroot "$ROOT" /counter /data
send ref $(input $(seq 1 20))
wait_lines ref 20
close_input ref
wait_exit ref 0

start run chroot "$ROOT" /counter /data
send run $(input $(seq 1 10))
wait_lines run 10
pid=$(pid_of run)
disown "$pid"
chroot "$ROOT" /usr/bin/ckpt dump "$pid" -o /tmp/counter.ckpt --kill >"$WORK/dump.out" 2>"$WORK/dump.err" ||
  fail "the installed ckpt dump exited $?: $(cat "$WORK/dump.err")"
wait_gone run
_spawn back chroot "$ROOT" /usr/bin/restore /tmp/counter.ckpt
send back $(input $(seq 11 20))
wait_lines back 10
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "the installed restore"
lines "$WORK/ref.out" 1 10 >"$WORK/expected-before"
lines "$WORK/ref.out" 11 20 >"$WORK/expected-after"
expect_same "output before the dump" "$WORK/expected-before" "$WORK/run.out"
expect_same "output after the installed restore" "$WORK/expected-after" "$WORK/back.out"
log "PASS"
