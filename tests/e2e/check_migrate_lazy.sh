#!/usr/bin/env bash
# Post-copy migration (`ckpt migrate --lazy`) over loopback, inside a
# network namespace of the test's own (unshare -n). The process moved
# (tests/programs/lazy_migrate) holds 48 MiB, unique per page, that it
# checks page by page, last page first, when told.
#  - refused before anything: a wrong token; a process tree;
#  - failures before the destination's point of no return leave the source
#    running untouched: a destination made to fail or to die there, a chunk
#    damaged on its way to a staged area, restore --listen --check (a dry run);
#  - a sender that is not one (cut short, a damaged header) restores nothing;
#  - after the point of no return: a damaged chunk makes the destination's
#    page server kill the process there, and the source resumes; ckpt
#    migrate dying makes the destination kill its process at its next
#    missing page, and the source is left stopped, whole;
#  - peers that break the protocol (tests/e2e/lazy_peer.py): bad requests
#    (the source runs on, or past the point of no return is left stopped);
#    chunks duplicated, cut, renumbered or damaged on their way (refused);
#  - success: the process runs there before all its pages arrived (pages
#    asked for on first touch > 0), its memory is exact, the source is gone.
source "$(dirname "$0")/migrate_lib.sh"
ADDR=127.0.0.1:7002

head -c 24 /dev/urandom | base64 >"$WORK/other"

start orig "$PROGRAMS/lazy_migrate"
wait_lines orig 1
pid=$PID_orig

# migrate [ARGS...]: ckpt migrate --lazy $pid $ADDR ARGS; sets RC, output in migrate.err.
migrate() {
  "$CKPT" migrate --lazy "$pid" "$ADDR" --token-file "$WORK/token" "$@" >"$WORK/migrate.out" 2>"$WORK/migrate.err"
  RC=$?
}
migrate_fails() {  # WHAT PATTERN
  ((RC == 1)) || fail "$1: ckpt migrate --lazy exited $RC, expected 1: $(cat "$WORK/migrate.err")"
  grep -qE "$2" "$WORK/migrate.err" || fail "$1: ckpt migrate --lazy did not say '$2': $(cat "$WORK/migrate.err")"
  untouched "$1"
}
# Waits until the listener NAME has become the restored program.
wait_running_there() {
  local i
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    [[ $(cat "/proc/$(pid_of "$1")/comm" 2>/dev/null) == lazy_migrate ]] && return 0
    sleep 0.05
  done
  fail "$1 did not become the migrated program: $(cat "$WORK/$1.err")"
}

# wait_text FILE REGEX: the page server writes its line just after its kill.
wait_text() {
  local i
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    grep -qE "$2" "$1" && return 0
    sleep 0.05
  done
  return 1
}

# 1. A wrong token: refused before the process is touched.
listen dest
"$CKPT" migrate --lazy "$pid" "$ADDR" --token-file "$WORK/other" >"$WORK/migrate.out" 2>"$WORK/migrate.err"
RC=$?
migrate_fails "a wrong token" 'refused the token; nothing was dumped'

# 2. A process tree: refused (restore --lazy restores no tree), untouched.
start tree bash -c 'sleep 1000 & read -r line'
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  sleeper=$(cat "/proc/$PID_tree/task/$PID_tree/children" 2>/dev/null)
  [[ -n $sleeper ]] && break
  sleep 0.05
done
sleeper=${sleeper%% *}
[[ -n $sleeper ]] || fail "the tree's bash did not start its sleep"
_PIDS[sleeper]=$sleeper
"$CKPT" migrate --lazy "$PID_tree" "$ADDR" --token-file "$WORK/token" >"$WORK/migrate.out" 2>"$WORK/migrate.err"
RC=$?
((RC == 1)) || fail "migrate --lazy of a tree exited $RC: $(cat "$WORK/migrate.err")"
grep -q 'migrate --lazy moves one process.*descendant' "$WORK/migrate.err" ||
  fail "migrate --lazy of a tree said: $(cat "$WORK/migrate.err")"
for p in "$PID_tree" "$sleeper"; do
  [[ $(proc_state "$p") == S ]] || fail "pid $p of the tree is not running after the refusal"
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$p/status") == 0 ]] || fail "pid $p of the tree is still traced"
done
kill "$sleeper" "$PID_tree"
wait_exit dest 1  # its connection ended before an image: nothing restored
[[ ! -s $WORK/dest.out ]] || fail "the destination restored something: $(cat "$WORK/dest.out")"

# 3. Failures before the destination's point of no return.
for how in fail kill; do
  listen "dest_$how" CKPT_FAULT=$how "CKPT_FAULT_AT=restore: before confirming to the sender"
  migrate
  migrate_fails "a destination that ${how}s before its point of no return" \
    'before its point of no return.*goes on running here, untouched'
  wait_exit "dest_$how" any
  ((EXIT_STATUS != 0)) || fail "the destination made to $how exited 0"
  [[ ! -s $WORK/dest_$how.out ]] || fail "the destination made to $how restored something"
done
# The first chunk sent is one the destination stages (asked for before it
# starts the process): damaged, staging refuses it.
listen dest_bad_early
CKPT_TEST_CORRUPT_LAZY_CHUNK=1 migrate
migrate_fails "a chunk damaged before the point of no return" 'failed before its point of no return.*untouched'
wait_exit dest_bad_early 1
grep -q 'checksum' "$WORK/dest_bad_early.err" || fail "the destination did not name the bad chunk: $(cat "$WORK/dest_bad_early.err")"
# restore --listen --check: every chunk fetched and checked, nothing restored.
LISTEN_FLAGS=--check listen dry
migrate
migrate_fails "restore --listen --check" 'failed before its point of no return.*untouched'
wait_exit dry 0
grep -q 'can be restored here' "$WORK/dry.out" || fail "restore --listen --check said: $(cat "$WORK/dry.out" "$WORK/dry.err")"

# 4. A sender that is not one: restore --listen restores nothing, one line.
fake_sender() {  # NAME BYTES(printf format)
  local sock answer len
  listen "$1"
  len=$(tr -d '\n' <"$WORK/token" | wc -c)
  exec {sock}<>/dev/tcp/127.0.0.1/${ADDR##*:} || fail "cannot connect to the listener"
  printf "CKPTMIG1\\x$(printf %02x "$len")\\x00\\x00\\x00%s" "$(tr -d '\n' <"$WORK/token")" >&"$sock"
  read -r -t "$WAIT_SECONDS" answer <&"$sock"
  [[ $answer == ACCEPT ]] || fail "the fake sender was not accepted: '$answer'"
  printf "$2" >&"$sock"
  exec {sock}>&-
  wait_exit "$1" 1
  [[ ! -s $WORK/$1.out ]] || fail "$1: something was restored"
}
fake_sender cut 'CKPTLAZY\x00\x01'
grep -q 'the post-copy stream ended before its header' "$WORK/cut.err" || fail "a cut sender: $(cat "$WORK/cut.err")"
fake_sender damaged 'CKPTLAZY0123456789abcdef0123456789abcdef01234567'
grep -q 'post-copy header is damaged' "$WORK/damaged.err" || fail "a damaged header: $(cat "$WORK/damaged.err")"

# 5. A chunk damaged after the point of no return (pushed in the
#    background): the page server kills the process there; the source resumes.
listen dest_bad_late
CKPT_TEST_CORRUPT_LAZY_CHUNK=40 migrate
migrate_fails "a chunk damaged after the point of no return" \
  "page server killed the process there.*goes on running here"
wait_exit dest_bad_late any
((EXIT_STATUS == 137)) || fail "the process with a damaged chunk there exited $EXIT_STATUS, not by SIGKILL"
wait_text "$WORK/dest_bad_late.err" 'restore --lazy: bad image .*checksum.*was killed' ||
  fail "the destination's page server said: $(cat "$WORK/dest_bad_late.err")"

# 6. ckpt migrate dies after the point of no return: the process there is
#    killed at its first missing page; the source is left stopped, whole.
listen dest_cut CKPT_LAZY_PREFETCH_DELAY_MS=30000
CKPT_FAULT=stop CKPT_FAULT_AT="migrate --lazy: the process runs there" \
  "$CKPT" migrate --lazy "$pid" "$ADDR" --token-file "$WORK/token" >"$WORK/migrate.out" 2>"$WORK/migrate.err" &
mpid=$!
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  [[ $(proc_state "$mpid") == T ]] && break
  sleep 0.05
done
[[ $(proc_state "$mpid") == T ]] || fail "ckpt migrate did not reach the destination's point of no return: $(cat "$WORK/migrate.err")"
wait_running_there dest_cut
kill -KILL "$mpid"
wait "$mpid" 2>/dev/null
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  [[ $(proc_state "$pid") == T ]] && break
  sleep 0.05
done
[[ $(proc_state "$pid") == T ]] || fail "the source is in state $(proc_state "$pid"), not stopped, once ckpt died past the point of no return"
send dest_cut check
wait_exit dest_cut 137
wait_text "$WORK/dest_cut.err" "restore --lazy: bad image .*(the connection ended|cannot ask for a chunk).*was killed" ||
  fail "the destination without its source said: $(cat "$WORK/dest_cut.err")"
grep -q PASS "$WORK/dest_cut.out" && fail "the process there ran on without its pages"
kill -CONT "$pid"
untouched "SIGCONT after the broken migration"

# 7. Peers that break the protocol (tests/e2e/lazy_peer.py).
PEER=$(dirname "$0")/lazy_peer.py
peer() {  # NAME ARGS...: lazy_peer.py ARGS as NAME, waited for until it listens
  local name=$1 i; shift
  _spawn "$name" python3 "$PEER" "$@"
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    grep -q listening "$WORK/$name.out" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "lazy_peer.py $* did not listen: $(cat "$WORK/$name.err")"
}
#    A destination's requests the source must refuse: the source runs on.
for case in "badoffset|asked for a chunk at offset 12345, which the image has not" \
            "notreq|sent 'HELLO', which is not a request" "long|a line longer than 32 bytes"; do
  mode=${case%%|*}
  peer "fake_$mode" dest "${ADDR##*:}" "$mode" "$WORK/token"
  migrate
  migrate_fails "a destination that sends $mode" "${case#*|}.*untouched"
  wait_exit "fake_$mode" any
done
#    The same past the point of no return: the source is left stopped.
peer fake_afterok dest "${ADDR##*:}" afterok "$WORK/token"
migrate
((RC == 1)) || fail "a bad request past the point of no return: ckpt migrate exited $RC: $(cat "$WORK/migrate.err")"
grep -q "asked for a chunk at offset 12345.*left STOPPED here" "$WORK/migrate.err" ||
  fail "a bad request past the point of no return: $(cat "$WORK/migrate.err")"
wait_exit fake_afterok any
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  [[ $(proc_state "$pid") == T ]] && break
  sleep 0.05
done
[[ $(proc_state "$pid") == T ]] || fail "the source is in state $(proc_state "$pid"), not stopped, after a broken post-copy"
kill -CONT "$pid"
untouched "SIGCONT after a bad request past the point of no return"
#    Chunks changed on their way to a real destination: it refuses them.
for case in "dup|the same chunk twice" "cut|the connection ended in the middle of a chunk" \
            "renumber|that the image's page index does not name" "magic|not a chunk message"; do
  mode=${case%%|*}
  listen "dest_$mode"
  peer "proxy_$mode" proxy 7003 "${ADDR##*:}" "$mode"
  "$CKPT" migrate --lazy "$pid" 127.0.0.1:7003 --token-file "$WORK/token" >"$WORK/migrate.out" 2>"$WORK/migrate.err"
  RC=$?
  migrate_fails "a first chunk that is $mode on its way" 'goes on running here'
  wait_exit "proxy_$mode" any
  wait_exit "dest_$mode" any
  ((EXIT_STATUS != 0)) || fail "the destination given a $mode chunk exited 0"
  wait_text "$WORK/dest_$mode.err" "${case#*|}" || fail "the destination given a $mode chunk said: $(cat "$WORK/dest_$mode.err")"
done

# 8. Success: the process runs there before its pages have all arrived
#    (background copying there is held back, so that it touches them first).
listen back CKPT_LAZY_PREFETCH_DELAY_MS=30000
LISTEN_FLAGS=
t0=$(now_ms)
disown "$pid"
"$CKPT" migrate --lazy "$pid" "$ADDR" --token-file "$WORK/token" >"$WORK/migrate.out" 2>"$WORK/migrate.err" &
mpid=$!
wait_running_there back
# The connection and the image's memfd belong to the page server, not to the program.
for f in /proc/"$PID_back"/fd/*; do
  case $(readlink "$f") in
    socket:* | */memfd:ckpt-image*) fail "the migrated process holds fd ${f##*/} -> $(readlink "$f")" ;;
  esac
done
send back check
wait "$mpid"
RC=$?
((RC == 0)) || fail "ckpt migrate --lazy exited $RC: $(cat "$WORK/migrate.err")"
wait_gone orig
wait_exit back 0
grep -q '^PASS 48 MiB checked page by page' "$WORK/back.out" || fail "the migrated process: $(cat "$WORK/back.out")"
line=$(grep "migrated pid $pid to $ADDR (post-copy)" "$WORK/migrate.err") || fail "ckpt migrate --lazy's summary: $(cat "$WORK/migrate.err")"
asked=$(sed -E 's/.* ([0-9]+) asked for on first touch.*/\1/' <<<"$line")
((asked > 0)) || fail "no chunk was asked for on first touch: the process did not run before its pages arrived: $line"
log "$line ($(( $(now_ms) - t0 )) ms in the test)"
