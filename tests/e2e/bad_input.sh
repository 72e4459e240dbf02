#!/usr/bin/env bash
# Bad input of every kind gets a clear one-line error and a non-zero exit,
# never a crash, a hang, a half-written file or a harmed process: unknown
# pids, unwritable output paths, refused processes, usage errors, and images
# that are truncated or have any byte of a header or a section flipped.
# Every case is tried; all the ones that misbehave are listed at the end.
source "$(dirname "$0")/lib.sh"

problems=()
problem() { problems+=("$*"); }

# run_capture NAME CMD...: runs CMD (bounded) with no stdin; sets RC and
# leaves $WORK/NAME.stdout, $WORK/NAME.stderr.
run_capture() {
  local name=$1; shift
  timeout -k 5 20 "$@" </dev/null >"$WORK/$name.stdout" 2>"$WORK/$name.stderr"
  RC=$?
}

# expect_refused WHAT CMD...: exit 1..125 (not a signal, not a hang),
# nothing on stdout, exactly one line on stderr.  (Run hundreds of times:
# no helper processes here.)
expect_refused() {
  local what=$1; shift
  run_capture last "$@"
  local -a errl=()
  mapfile -t errl <"$WORK/last.stderr"
  local err=${errl[*]:0:3}
  if ((RC == 124)); then
    problem "$what: hung (killed after 20 s)"
  elif ((RC == 0 || RC > 125)); then
    problem "$what: exit status $RC${err:+, stderr: ${err:0:300}}"
  elif [[ -s $WORK/last.stdout ]]; then
    problem "$what: printed on stdout: $(head -c 200 "$WORK/last.stdout")"
  elif ((${#errl[@]} != 1)); then
    problem "$what: ${#errl[@]} lines on stderr, expected one${err:+: ${err:0:300}}"
  fi
}

expect_usage() {
  local what=$1; shift
  run_capture last "$@"
  ((RC == 2)) || problem "$what: exit status $RC, expected 2 (usage)"
}

# The only files a test may leave in a directory are the ones it meant to.
expect_files() {
  local dir=$1 want=$2 have
  have=$(ls -A "$dir" | grep -vE '\.(in|out|err|stdout|stderr)$' | sort | tr '\n' ' ')
  [[ $have == "$want" ]] || problem "files in $dir: '$have', expected '$want' (temporary file left behind?)"
}

alive_and_well() {  # NAME STEP: still running, untraced, and answers
  local name=$1 step=$2 pid
  pid=$(pid_of "$name")
  local state; state=$(proc_state "$pid")
  if [[ $state != S && $state != R ]]; then
    problem "$name (pid $pid) is in state '$state' after a failed dump"
    return
  fi
  send "$name" "after-failure-$step"
  wait_lines "$name" "$step"
}

seq 100000 | head -c $((6 * 4096)) >"$WORK/data"
mkdir "$WORK/out"

# --- usage errors
expect_usage "ckpt with no arguments" "$CKPT"
expect_usage "ckpt dump with no pid" "$CKPT" dump
expect_usage "ckpt dump with no -o" "$CKPT" dump 1
expect_usage "ckpt with an unknown command" "$CKPT" frobnicate
expect_usage "ckpt run with two images" "$CKPT" run a.ckpt b.ckpt --lazy
expect_usage "restore with no arguments" "$RESTORE"
expect_usage "restore --lazy with --install-binfmt" "$RESTORE" --install-binfmt --lazy
expect_usage "restore --lazy with no image" "$RESTORE" --lazy

# --- the dump side
expect_refused "ckpt dump of a missing pid" "$CKPT" dump 999999999 -o "$WORK/out/x.ckpt"
grep -q 999999999 "$WORK/last.stderr" || problem "the error for a missing pid does not name it: $(cat "$WORK/last.stderr")"
expect_files "$WORK/out" ""

start victim "$PROGRAMS/counter" "$WORK/data"
send victim first
wait_lines victim 1
pid=$PID_victim

expect_usage "ckpt dump --compress bogus" "$CKPT" dump "$pid" -o "$WORK/out/x.ckpt" --compress bogus
expect_files "$WORK/out" ""
expect_refused "ckpt dump into a missing folder" "$CKPT" dump "$pid" -o "$WORK/out/missing/x.ckpt" --kill
expect_files "$WORK/out" ""
alive_and_well victim 2
expect_refused "ckpt dump into /proc" "$CKPT" dump "$pid" -o /proc/x.ckpt --kill
grep -q ckpt <(ls -A /proc) && problem "files left in /proc: $(ls -A /proc | grep ckpt)"
alive_and_well victim 3
# A read-only folder: root ignores the mode, so as root the dumper and its
# target run as nobody (through setpriv, util-linux), in a folder nobody
# owns and may not write to; a caller who is not root is that user itself.
as_user=()
if [[ $(id -u) == 0 ]]; then
  command -v setpriv >/dev/null || fail "setpriv (util-linux, .ci/deps) is missing: the read-only-folder case needs it as root"
  as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  chmod 711 "$WORK"  # nobody reaches the data file and its own folder below
  chmod 644 "$WORK/data"
  for bin in "$CKPT" "$PROGRAMS/counter"; do
    "${as_user[@]}" test -x "$bin" ||
      fail "nobody cannot run $bin: the read-only-folder case needs the build tree readable by others"
  done
fi
mkdir "$WORK/ro"
((${#as_user[@]})) && chown nobody:nogroup "$WORK/ro"
chmod 0555 "$WORK/ro"
"${as_user[@]}" touch "$WORK/ro/probe" 2>/dev/null &&
  fail "the read-only folder $WORK/ro is writable for $("${as_user[@]}" id -un): the case would prove nothing"
start rovictim "${as_user[@]}" "$PROGRAMS/counter" "$WORK/data"
send rovictim first
wait_lines rovictim 1
[[ $(stat -c %u "/proc/$PID_rovictim") == $("${as_user[@]}" id -u) ]] || fail "the victim does not run as the dumping user"
expect_refused "ckpt dump into a read-only folder (as $("${as_user[@]}" id -un))" \
  "${as_user[@]}" "$CKPT" dump "$PID_rovictim" -o "$WORK/ro/x.ckpt" --kill
grep -q "$WORK/ro" "$WORK/last.stderr" || problem "the refusal of a read-only folder does not name it: $(cat "$WORK/last.stderr")"
expect_files "$WORK/ro" ""
log "read-only folder as $("${as_user[@]}" id -un): $(cat "$WORK/last.stderr")"
alive_and_well rovictim 2
close_input rovictim
wait_exit rovictim any
expect_files "$WORK/out" ""

# A valid image made now; a later failed dump to the same path must leave it.
"$CKPT" dump "$pid" -o "$WORK/out/good.ckpt" --compress zstd >/dev/null 2>"$WORK/dump-good.err" ||
  fail "ckpt dump of the counter failed: $(cat "$WORK/dump-good.err")"
"$CKPT" dump "$pid" -o "$WORK/out/raw.ckpt" --compress none >/dev/null 2>"$WORK/dump-raw.err" ||
  fail "ckpt dump --compress none of the counter failed: $(cat "$WORK/dump-raw.err")"
cp "$WORK/out/good.ckpt" "$WORK/good.copy"
expect_files "$WORK/out" "good.ckpt raw.ckpt "

# A process holding a kind of fd that cannot be restored (a socket on fd 3)
# is refused, naming the fd; the process and an older image stay as they were.
start withfd /usr/bin/python3 -c 'import os, socket, sys
a, b = socket.socketpair()  # fds 3 and 4; only 3 survives the exec
assert a.fileno() == 3
os.set_inheritable(3, True)
os.execv(sys.argv[1], sys.argv[1:])' "$PROGRAMS/counter" "$WORK/data"
send withfd first
wait_lines withfd 1
expect_refused "ckpt dump of a process holding a socket on fd 3" "$CKPT" dump "$PID_withfd" -o "$WORK/out/good.ckpt" --kill
grep -qw 3 "$WORK/last.stderr" || problem "the refusal of a socket does not name fd 3: $(cat "$WORK/last.stderr")"
cmp -s "$WORK/out/good.ckpt" "$WORK/good.copy" || problem "a refused dump changed the existing image at its output path"
expect_files "$WORK/out" "good.ckpt raw.ckpt "
alive_and_well withfd 2

# --- the image side: restore and verify must both refuse every bad image.
# make_variants IMAGE INSPECT_JSON DIR: writes every damaged copy of IMAGE
# into DIR (1.bad, 2.bad, ...) and prints "FILE<TAB>what was damaged" for
# each: truncations, bytes of each file header field, for each section a byte in the
# middle of its payload and bytes of its header (type, flags, length,
# checksum, reserved), and trailer bytes.
make_variants() {
  /usr/bin/python3 - "$@" <<'PY'
import json, os, struct, sys
img, inspect, out = sys.argv[1:4]
data = open(img, "rb").read()
size = len(data)
n = 0
def emit(what, blob):
    global n
    n += 1
    path = os.path.join(out, "%d.bad" % n)
    open(path, "wb").write(blob)
    print("%s\t%s" % (path, what))
def flip(off, what):
    b = bytearray(data)
    b[off] ^= 0xFF
    emit(what, bytes(b))
for cut in (0, 8, 100, size // 2, size - 1):
    emit("cut to %d of %d bytes" % (cut, size), data[:cut])
# The first byte of every file header field, and the checksum's last.
for i in (0, 7, 8, 12, 16, 20, 24, 32, 40, 44, 48, 56, 63):
    flip(i, "file header byte %d flipped" % i)
sections = json.load(open(inspect))["sections"]
for s in sections:
    t, off, length = s["type"], s["offset"], s["length"]
    if length > 0:
        flip(off + 32 + length // 2, "a byte in the middle of the %s payload flipped" % t)
    for h in (0, 4, 8, 16, 24):
        flip(off + h, "byte %d of the %s section header flipped" % (h, t))
trailer = struct.unpack_from("<Q", data, 24)[0]
for i in (trailer, trailer + 12, trailer + 16 + 8, size - 1):
    flip(i, "trailer byte %d flipped" % (i - trailer))
print("TYPES\t" + " ".join(s["type"] for s in sections))
PY
}

check_image() {  # IMAGE LABEL
  local img=$1 label=$2 dir="$WORK/variants-$2" file what
  run_capture verify-good "$CKPT" verify "$img"
  ((RC == 0)) || fail "ckpt verify rejects the good $label image: $(cat "$WORK/verify-good.stderr")"
  "$CKPT" inspect "$img" --json >"$WORK/inspect-$label.json" 2>"$WORK/inspect.stderr" ||
    fail "ckpt inspect --json of the $label image failed: $(cat "$WORK/inspect.stderr")"
  mkdir "$dir"
  make_variants "$img" "$WORK/inspect-$label.json" "$dir" >"$WORK/variants-$label.list" ||
    fail "ckpt inspect --json of the $label image is not the expected JSON: $(head -c 300 "$WORK/inspect-$label.json")"

  while IFS=$'\t' read -r file what; do
    if [[ $file == TYPES ]]; then
      for type in process mm vmas threads page_index page_data; do
        [[ " $what " == *" $type "* ]] || problem "ckpt inspect --json lists no $type section in the $label image"
      done
      continue
    fi
    expect_refused "restore of the $label image with $what" "$RESTORE" "$file"
    expect_refused "ckpt verify of the $label image with $what" "$CKPT" verify "$file"
  done <"$WORK/variants-$label.list"
  rm -rf "$dir"
}

check_image "$WORK/out/good.ckpt" zstd
check_image "$WORK/out/raw.ckpt" raw

if ((${#problems[@]})); then
  printf '%s: %d problem(s):\n' "$TEST_NAME" "${#problems[@]}" >&2
  printf '  %s\n' "${problems[@]}" >&2
  fail "bad input was not refused cleanly (see the list above)"
fi
log "PASS"
