#!/usr/bin/env bash
# Live migration over loopback, inside a network namespace of the test's
# own (unshare -n): `restore --listen` waits, `ckpt migrate` sends.
#  - a connection without the token (a stranger's bytes, a wrong token, a
#    token file others may read, none at all) is refused: nothing is read
#    past the token, the source is never touched, the listener waits on;
#  - a destination that fails after staging, before its point of no return
#    (made to fail, made to die) leaves the source running untouched, and it
#    still checks; the same for a tree (a bash and its sleep), which then
#    moves whole;
#  - then a migration that succeeds: the source dies only then, and the
#    process on the destination finds its memory exact;
#  (migrate --lazy, post-copy: check_migrate_lazy.sh.)
source "$(dirname "$0")/migrate_lib.sh"
ADDR=127.0.0.1:7001

head -c 24 /dev/urandom | base64 >"$WORK/other"

start orig "$PROGRAMS/stream_target"
wait_lines orig 1
pid=$PID_orig

# migrate [ARGS...]: ckpt migrate $pid $ADDR ARGS; sets RC, output in migrate.err.
migrate() {
  "$CKPT" migrate "$pid" "$ADDR" "$@" >"$WORK/migrate.out" 2>"$WORK/migrate.err"
  RC=$?
}
migrate_fails() {  # WHAT PATTERN
  ((RC == 1)) || fail "$1: ckpt migrate exited $RC, expected 1: $(cat "$WORK/migrate.err")"
  grep -qE "$2" "$WORK/migrate.err" || fail "$1: ckpt migrate did not say '$2': $(cat "$WORK/migrate.err")"
  untouched "$1"
}

# 0. restore --listen's own refusals, before it listens.
listen_refused() {  # PATTERN ARGS...
  local want=$1; shift
  env -u CKPT_TOKEN "$RESTORE" --listen "$@" >"$WORK/lr.out" 2>"$WORK/lr.err" </dev/null && fail "restore --listen $* was accepted"
  grep -q "$want" "$WORK/lr.err" || fail "restore --listen $*: expected '$want', got: $(cat "$WORK/lr.err")"
  grep -q 'listening' "$WORK/lr.err" && fail "restore --listen $* listened before refusing"
  return 0
}
listen_refused 'a token is needed' 7001
listen_refused 'not a numeric IPv4 or IPv6 address' localhost:7001 --token-file "$WORK/token"
listen_refused 'port must be a number from 1 to 65535' 127.0.0.1:70000 --token-file "$WORK/token"
listen_refused 'may be read by others' 7001 --token-file /etc/passwd

# Nobody listening, or not HOST:PORT: refused before the process is touched.
migrate --token-file "$WORK/token"
migrate_fails "no listener" 'cannot connect to 127.0.0.1:7001: Connection refused'
"$CKPT" migrate "$pid" 7001 --token-file "$WORK/token" >"$WORK/migrate.out" 2>"$WORK/migrate.err"
RC=$?
migrate_fails "a destination without a port" 'must be HOST:PORT'

# 1. Refused connections, one listener throughout.
listen dest
listen_refused 'Address already in use' "$ADDR" --token-file "$WORK/token"
migrate --token-file "$WORK/other"
migrate_fails "a wrong token" 'refused the token; nothing was dumped'
CKPT_TOKEN=$(cat "$WORK/token")x migrate
migrate_fails "a wrong token in CKPT_TOKEN" 'refused the token'
env -u CKPT_TOKEN "$CKPT" migrate "$pid" "$ADDR" >"$WORK/migrate.out" 2>"$WORK/migrate.err"
RC=$?
migrate_fails "no token at all" 'a token is needed'
cp "$WORK/token" "$WORK/open-token" && chmod 644 "$WORK/open-token"
migrate --token-file "$WORK/open-token"
migrate_fails "a token file others may read" 'may be read by others'
# A stranger: the listener answers REFUSED to the first 12 bytes that are not a hello.
exec {sock}<>/dev/tcp/127.0.0.1/7001 || fail "cannot connect to the listener"
printf 'GET / HTTP/1.0\r\n\r\n' >&"$sock" 2>/dev/null  # the listener reads 12 bytes of it, no more
read -r -t "$WAIT_SECONDS" answer <&"$sock"
exec {sock}>&-
[[ $answer == REFUSED ]] || fail "a connection without a hello got '$answer', not REFUSED"
n=$(grep -c 'refused a connection from 127.0.0.1' "$WORK/dest.err")
((n == 3)) || fail "the listener reported $n refused connections, expected 3: $(cat "$WORK/dest.err")"
[[ $(proc_state "$PID_dest") == S ]] || fail "the listener did not go on waiting after refusing connections"

# 2b. restore --listen --check: the whole image checked there, nothing
#     restored, and the source goes on (a dry run of the migration).
kill "$PID_dest"; wait_exit dest any
_spawn dry "$RESTORE" --listen "$ADDR" --token-file "$WORK/token" --check
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do grep -q 'listening on' "$WORK/dry.err" && break; sleep 0.05; done
migrate --token-file "$WORK/token"
migrate_fails "restore --listen --check" "answered 'FAIL' before its point of no return"
wait_exit dry 0
grep -q 'can be restored here' "$WORK/dry.out" || fail "restore --listen --check said: $(cat "$WORK/dry.out" "$WORK/dry.err")"

# 3. A destination that fails after receiving and staging the image, just
#    before its point of no return: the source resumes untouched.
for how in fail kill; do
  listen "dest_$how" CKPT_FAULT=$how "CKPT_FAULT_AT=restore: before confirming to the sender"
  migrate --token-file "$WORK/token"
  migrate_fails "a destination that ${how}s before its point of no return" \
    'before its point of no return.*goes on running here, untouched'
  wait_exit "dest_$how" any
  ((EXIT_STATUS != 0)) || fail "the destination made to $how exited 0"
  [[ ! -s $WORK/dest_$how.out ]] || fail "the destination made to $how restored something: $(cat "$WORK/dest_$how.out")"
done

# 4. A process tree (a bash and its background sleep): a destination that
#    fails before the tree's go leaves both running; then it moves whole.
start tree bash -c 'sleep 1000 & read -r line; echo "tree done: $line"'
tree_child() { local c; c=$(cat "/proc/$1/task/$1/children" 2>/dev/null); echo "${c%% *}"; }
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  sleeper=$(tree_child "$PID_tree")
  [[ -n $sleeper ]] && break
  sleep 0.05
done
[[ -n $sleeper ]] || fail "the tree's bash did not start its sleep"
_PIDS[sleeper]=$sleeper  # killed with the test if it fails
# On one machine the source's pids are still taken while the destination
# restores (the source dies only after the go): the members get new ones.
LISTEN_FLAGS=--new-pids
listen dest_tree CKPT_FAULT=fail "CKPT_FAULT_AT=restore: before confirming to the sender"
"$CKPT" migrate "$PID_tree" "$ADDR" --token-file "$WORK/token" >"$WORK/migrate.out" 2>"$WORK/migrate.err"
RC=$?
((RC == 1)) || fail "migrating a tree to a destination that fails before its go exited $RC"
grep -q 'before its point of no return' "$WORK/migrate.err" || fail "the failed tree migration: $(cat "$WORK/migrate.err")"
wait_exit dest_tree 1
grep -q 'injected failure' "$WORK/dest_tree.err" || fail "the tree's destination failed elsewhere: $(cat "$WORK/dest_tree.err")"
for p in "$PID_tree" "$sleeper"; do
  [[ $(proc_state "$p") == S ]] || fail "pid $p of the tree did not go on running after the failed migration"
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$p/status") == 0 ]] || fail "pid $p of the tree is still traced"
done
listen tree_back
disown "$PID_tree"
"$CKPT" migrate "$PID_tree" "$ADDR" --token-file "$WORK/token" >"$WORK/migrate.out" 2>"$WORK/migrate.err"
RC=$?
((RC == 0)) || fail "migrating the tree exited $RC: $(cat "$WORK/migrate.err")"
wait_gone tree
[[ $(proc_state "$sleeper") == gone ]] || fail "the tree's sleep (pid $sleeper) outlived the migration"
moved_child=""
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  moved_child=$(tree_child "$PID_tree_back")
  [[ -n $moved_child ]] && break
  sleep 0.05
done
[[ -n $moved_child ]] && _PIDS[moved_sleep]=$moved_child
[[ $(tr '\0' ' ' <"/proc/$moved_child/cmdline" 2>/dev/null) == "sleep 1000 " ]] ||
  fail "the migrated bash has no sleep child (child '$moved_child')"
send tree_back moved
wait_exit tree_back 0
kill "$moved_child"  # the sleep outlives its bash (it would have before the move too)
grep -q '^tree done: moved' "$WORK/tree_back.out" || fail "the migrated tree's bash said: $(cat "$WORK/tree_back.out")"
LISTEN_FLAGS=

# 5. Success: the source dies only after the destination's word; the memory is exact there.
untouched "the failed migrations"
listen back
t0=$(now_ms)
disown "$pid"  # killed by ckpt migrate: no "Killed" notice from bash
migrate --token-file "$WORK/token"
((RC == 0)) || fail "ckpt migrate exited $RC: $(cat "$WORK/migrate.err")"
grep -q "migrated pid $pid to $ADDR" "$WORK/migrate.err" || fail "ckpt migrate's summary: $(cat "$WORK/migrate.err")"
wait_gone orig
send back check
close_input back
wait_exit back 0
grep -q '^PASS .*read(0) returned 6' "$WORK/back.out" || fail "the migrated process did not PASS: $(cat "$WORK/back.out")"
log "migrated in $(( $(now_ms) - t0 )) ms: $(cat "$WORK/back.out")"
