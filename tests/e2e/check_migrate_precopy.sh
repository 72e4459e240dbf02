#!/usr/bin/env bash
# Live migration with pre-copy rounds (docs/architecture.md, "Live
# migration"), over loopback inside a network namespace of the test's own:
#  - restore --listen refuses bad frames from a sender holding the token (a
#    corrupted round, a round 1 that is not incremental on round 0, an
#    unknown frame tag, a round length out of range, a connection that ends
#    after a round): it answers FAIL, restores nothing, and says why;
#  - a destination that fails, or dies, after pre-copy round 1 leaves the
#    source running and unchanged: not traced, the same maps, no
#    userfaultfd left in it (no fd, no area with the uw flag), the rounds'
#    temporary files gone; the same after all rounds and the final dump
#    when the destination fails just before its point of no return;
#  - restore --listen --lazy refuses the first round (a chain is not for a
#    lazy restore), naming --rounds 0; the source runs on unchanged;
#  - then stamper (threads that write every page of 16 MiB again and
#    again) moves with at least two pre-copy rounds while it runs and a
#    final incremental dump: the rounds and the downtime are reported, the
#    source is gone, and the moved process finds every stamp as it must;
#  - --rounds 0 keeps the one-freeze migration of one full dump.
source "$(dirname "$0")/migrate_lib.sh"
ADDR=127.0.0.1:7001

mkdir "$WORK/tmp"
export TMPDIR=$WORK/tmp  # where ckpt migrate keeps its rounds' images


# 1. A sender with the token but bad frames: each refused before anything is restored.
start idle "$PROGRAMS/sleeper"
wait_lines idle 1
"$CKPT" dump "$PID_idle" -o "$WORK/full.ckpt" --compress none >"$WORK/full.out" 2>"$WORK/full.err" ||
  fail "ckpt dump of the sleeper failed: $(cat "$WORK/full.err")"
# A page of memory damaged: the round's page data checksum no longer holds.
size=$(stat -c %s "$WORK/full.ckpt")
cp "$WORK/full.ckpt" "$WORK/bad.ckpt"
printf '\x5a\x5a\x5a\x5a' | dd of="$WORK/bad.ckpt" bs=1 seek=$((size / 2)) conv=notrunc status=none
# fake CASE: a python sender with the token that sends CASE's frames and
# prints what the listener answered after its last frame.
fake() {
  python3 - "$1" "$WORK/token" "$WORK/full.ckpt" "$WORK/bad.ckpt" >"$WORK/fake.out" 2>"$WORK/fake.err" <<'PY'
import socket, struct, sys
case, token, full, bad = sys.argv[1], open(sys.argv[2], "rb").read().rstrip(b"\n"), open(sys.argv[3], "rb").read(), open(sys.argv[4], "rb").read()
s = socket.create_connection(("127.0.0.1", 7001), timeout=60)
s.sendall(b"CKPTMIG1" + struct.pack("<I", len(token)) + token)
f = s.makefile("rb")
assert f.readline() == b"ACCEPT\n"
def round_(img):
    s.sendall(b"CKPTRND1" + struct.pack("<Q", len(img)) + img)
    return f.readline()
if case == "corrupt":
    s.sendall(b"CKPTRND1" + struct.pack("<Q", len(bad)) + bad)
elif case == "not_incremental":
    assert round_(full) == b"NEXT\n", "round 0 was not taken"
    s.sendall(b"CKPTRND1" + struct.pack("<Q", len(full)) + full)
elif case == "tag":
    s.sendall(b"CKPTXXX1")
elif case == "length":
    s.sendall(b"CKPTRND1" + struct.pack("<Q", 3))
elif case == "eof":
    assert round_(full) == b"NEXT\n", "round 0 was not taken"
    s.shutdown(socket.SHUT_WR)
print(f.read().decode(errors="replace").strip() or "EOF")
PY
}
for c in "corrupt|checksum|bad image" "not_incremental|round 1 from .* is not an incremental image of round 0" \
         "tag|sent 'CKPTXXX1' where a round \(CKPTRND1\) or the final image \(CKPTFIN1\) must begin" \
         "length|announced a round of 3 bytes" "eof|closed the connection before the final image \(after 1 pre-copy round"; do
  what=${c%%|*} want=${c#*|}
  listen "fake_$what"
  fake "$what" || fail "the fake sender ($what) failed: $(cat "$WORK/fake.err")"
  [[ $(cat "$WORK/fake.out") == FAIL ]] || fail "a sender of bad frames ($what) was answered '$(cat "$WORK/fake.out")', not FAIL"
  wait_exit "fake_$what" 1
  grep -qE "$want" "$WORK/fake_$what.err" || fail "restore --listen, bad frames ($what), did not say '$want': $(cat "$WORK/fake_$what.err")"
  [[ ! -s $WORK/fake_$what.out ]] || fail "restore --listen restored something from bad frames ($what)"
done
kill "$PID_idle"; wait_exit idle any

# 2. A destination that fails or dies after pre-copy round 1: the source runs on, unchanged.
start orig "$PROGRAMS/stamper" 16 2
wait_lines orig 1
pid=$PID_orig
maps_before=$(cat "/proc/$pid/maps")
untouched_here() {  # untouched (migrate_lib.sh), and nothing of the tracking or the rounds left
  untouched "$1"
  [[ $(cat "/proc/$pid/maps") == "$maps_before" ]] || fail "the source's maps changed after $1: $(diff <(echo "$maps_before") "/proc/$pid/maps")"
  grep -q '^VmFlags:.* uw' "/proc/$pid/smaps" && fail "an area of the source is still write-protect tracked (uw) after $1"
  grep -q userfaultfd <(ls -l "/proc/$pid/fd") && fail "the source holds a userfaultfd after $1"
  [[ -z $(ls -A "$WORK/tmp") ]] || fail "ckpt migrate left files behind after $1: $(ls -A "$WORK/tmp")"
  return 0
}
for how in fail kill; do
  listen "mid_$how" CKPT_FAULT=$how "CKPT_FAULT_AT=restore: round 1 received"
  "$CKPT" migrate "$pid" "$ADDR" --token-file "$WORK/token" --rounds 4 --precopy-threshold 0 \
    >"$WORK/migrate.out" 2>"$WORK/migrate.err"
  RC=$?
  ((RC == 1)) || fail "migrating to a destination that ${how}s after round 1 exited $RC: $(cat "$WORK/migrate.err")"
  grep -q '^ckpt: migrate round 0: ' "$WORK/migrate.err" || fail "no round 0 before the failure ($how): $(cat "$WORK/migrate.err")"
  grep -qE 'after pre-copy round 1 .*goes on running here, untouched|cannot send' "$WORK/migrate.err" ||
    fail "the failure after round 1 ($how) was not reported: $(cat "$WORK/migrate.err")"
  wait_exit "mid_$how" any
  ((EXIT_STATUS != 0)) || fail "the destination made to $how after round 1 exited 0"
  [[ ! -s $WORK/mid_$how.out ]] || fail "the destination made to $how restored something"
  untouched_here "a destination that ${how}s after round 1"
done

# 2a. A destination that fails after all rounds and the final image, just
#     before its point of no return: the final (frozen) dump is undone too.
listen late_fail CKPT_FAULT=fail "CKPT_FAULT_AT=restore: before confirming to the sender"
"$CKPT" migrate "$pid" "$ADDR" --token-file "$WORK/token" --rounds 3 --precopy-threshold 0 \
  >"$WORK/migrate.out" 2>"$WORK/migrate.err"
RC=$?
((RC == 1)) || fail "migrating to a destination that fails before its point of no return exited $RC: $(cat "$WORK/migrate.err")"
grep -q '^ckpt: migrate round 1: ' "$WORK/migrate.err" || fail "no round 1 before the final: $(cat "$WORK/migrate.err")"
grep -q "answered 'FAIL' before its point of no return.*goes on running here, untouched" "$WORK/migrate.err" ||
  fail "the failure before the point of no return was not reported: $(cat "$WORK/migrate.err")"
wait_exit late_fail 1
grep -q 'round 1: .* received and checked' "$WORK/late_fail.err" || fail "the destination took no rounds: $(cat "$WORK/late_fail.err")"
untouched_here "a destination that fails after the final image"

# 2b. restore --listen --lazy cannot take a chain: refused at the first round, the source runs on.
_spawn lazy_dest "$RESTORE" --listen "$ADDR" --token-file "$WORK/token" --lazy
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do grep -q 'listening on' "$WORK/lazy_dest.err" && break; sleep 0.05; done
"$CKPT" migrate "$pid" "$ADDR" --token-file "$WORK/token" >"$WORK/migrate.out" 2>"$WORK/migrate.err"
RC=$?
((RC == 1)) || fail "migrating with rounds to restore --listen --lazy exited $RC: $(cat "$WORK/migrate.err")"
grep -qE 'round 0.*goes on running here, untouched' "$WORK/migrate.err" ||
  fail "the refusal of rounds by restore --listen --lazy was not reported: $(cat "$WORK/migrate.err")"
wait_exit lazy_dest 1
grep -q 'restore --listen --lazy cannot take .*run ckpt migrate with --rounds 0' "$WORK/lazy_dest.err" ||
  fail "restore --listen --lazy did not say why it refused the rounds: $(cat "$WORK/lazy_dest.err")"
untouched_here "restore --listen --lazy refusing the rounds"

# 3. Success: at least two rounds while stamper writes, then the final freeze.
listen back
disown "$pid"  # killed by ckpt migrate: no "Killed" notice from bash
"$CKPT" migrate "$pid" "$ADDR" --token-file "$WORK/token" --rounds 4 --precopy-threshold 0 \
  >"$WORK/migrate.out" 2>"$WORK/migrate.err"
RC=$?
((RC == 0)) || fail "ckpt migrate with pre-copy exited $RC: $(cat "$WORK/migrate.err")"
for k in 0 1; do
  grep -qE "^ckpt: migrate round $k: [0-9]+ pages, [0-9]+ bytes, [0-9]+ ms" "$WORK/migrate.err" ||
    fail "no line for pre-copy round $k: $(cat "$WORK/migrate.err")"
  grep -qE "^restore: round $k: [0-9]+ bytes received and checked" "$WORK/back.err" ||
    fail "the destination did not check round $k: $(cat "$WORK/back.err")"
done
grep -qE '^ckpt: migrate final: [0-9]+ pages, [0-9]+ bytes \([1-9][0-9]* pages left to the rounds\); downtime [0-9]+ ms' \
  "$WORK/migrate.err" || fail "the final dump's line (incremental, with the downtime) is missing: $(cat "$WORK/migrate.err")"
grep -qE "^ckpt: migrated pid $pid to $ADDR: [2-4] pre-copy round\(s\) and the final" "$WORK/migrate.err" ||
  fail "ckpt migrate's summary: $(cat "$WORK/migrate.err")"
wait_gone orig
[[ -z $(ls -A "$WORK/tmp") ]] || fail "ckpt migrate left files behind: $(ls -A "$WORK/tmp")"
send back check
wait_exit back 0
grep -q '^PASS 2 threads swept 16 MiB, every stamp as expected' "$WORK/back.out" ||
  fail "the migrated stamper did not PASS: $(cat "$WORK/back.out")"
log "$(grep -E '^ckpt: migrate' "$WORK/migrate.err" | tr '\n' ' ')"

# 4. --rounds 0: one full dump in one freeze, no round frames.
start one "$PROGRAMS/stream_target"
wait_lines one 1
listen one_back
disown "$PID_one"
"$CKPT" migrate "$PID_one" "$ADDR" --token-file "$WORK/token" --rounds 0 >"$WORK/migrate.out" 2>"$WORK/migrate.err"
RC=$?
((RC == 0)) || fail "ckpt migrate --rounds 0 exited $RC: $(cat "$WORK/migrate.err")"
grep -q 'round' "$WORK/migrate.err" "$WORK/one_back.err" && fail "--rounds 0 sent rounds: $(cat "$WORK/migrate.err" "$WORK/one_back.err")"
grep -q "migrated pid $PID_one to $ADDR: .* frozen [0-9]* ms until the destination took over" "$WORK/migrate.err" ||
  fail "ckpt migrate --rounds 0's summary: $(cat "$WORK/migrate.err")"
wait_gone one
send one_back check
wait_exit one_back 0
grep -q '^PASS' "$WORK/one_back.out" || fail "the process moved with --rounds 0 did not PASS: $(cat "$WORK/one_back.out")"

# 5. Usage errors, before anything is touched (exit 2, what is wrong and the usage line).
for bad in "--rounds 65|at most 64" "--precopy-threshold 1073741825|at most 1073741824 MiB" \
  "--lazy --rounds 2|--lazy takes no pre-copy rounds" "--lazy --precopy-threshold 4|--lazy takes no pre-copy rounds"; do
  args=${bad%%|*} want=${bad#*|}
  # shellcheck disable=SC2086  # the options are words
  "$CKPT" migrate $$ 127.0.0.1:9 $args >"$WORK/usage.out" 2>"$WORK/usage.err"
  RC=$?
  ((RC == 2)) && grep -q -- "^ckpt: .*$want" "$WORK/usage.err" && grep -q "^usage: ckpt migrate" "$WORK/usage.err" ||
    fail "ckpt migrate $args exited $RC: $(cat "$WORK/usage.err")"
done
log "usage errors refused: --rounds above 64, a threshold too large, --lazy with rounds"
