# Shared helpers for the end-to-end tests; each tests/e2e/*.sh sources this.
#
# Environment (set by CTest, see CMakeLists.txt beside this file):
#   CKPT      absolute path of the ckpt binary
#   RESTORE   absolute path of the restore binary
#   PROGRAMS  directory holding the built test programs (counter, sleeper...)
#   COMPRESS  none | zstd  (what `ckpt dump --compress` gets)
#
# Every test gets a fresh work dir, $WORK, removed on exit together with any
# process it started that is still alive.  A started program is known by a
# short name; its files are $WORK/NAME.{in,out,err} and its pid is $PID_NAME.

set -u -o pipefail

: "${CKPT:?CKPT must name the ckpt binary}"
: "${RESTORE:?RESTORE must name the restore binary}"
: "${PROGRAMS:?PROGRAMS must name the directory of the test programs}"
COMPRESS=${COMPRESS:-zstd}
WAIT_SECONDS=${WAIT_SECONDS:-20}
TEST_NAME=$(basename "$0" .sh)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-e2e-$TEST_NAME.XXXXXX") || exit 1
WORK=$(cd "$WORK" && pwd -P)  # as /proc/PID/fd shows it
declare -A _PIDS=()     # name -> pid of everything started, for cleanup
declare -A _WFD=()      # name -> the test's write end of the program's stdin

_cleanup() {
  local name pid
  for name in "${!_PIDS[@]}"; do
    pid=${_PIDS[$name]}
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  # Never into another file system: a mount a test left under $WORK (a
  # bind mount of /dev, say) keeps its contents, instead of losing them.
  rm -rf --one-file-system "$WORK"
}
trap _cleanup EXIT

log() { printf '%s: %s\n' "$TEST_NAME" "$*"; }

# Shows every file a person needs to see why a test failed: each started
# program's stdout and stderr and every ckpt output.
_show_files() {
  local f
  for f in "$WORK"/*.out "$WORK"/*.err; do
    [[ -f $f ]] || continue
    printf -- '--- %s (%d lines)\n' "${f#"$WORK"/}" "$(wc -l <"$f")"
    head -n 60 "$f"
  done
}

fail() {
  printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
  _show_files >&2
  exit 1
}

pid_of() { local v="PID_$1"; printf '%s' "${!v}"; }

# Prints the one-letter state of PID ("R", "S", "Z", "t"...) or "gone".
proc_state() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo gone; return; }
  stat=${stat##*) }
  echo "${stat%% *}"
}

# start NAME CMD [ARGS...]: runs CMD with stdin a fresh FIFO the test writes
# to (send NAME LINE), stdout $WORK/NAME.out, stderr $WORK/NAME.err, and no
# fd but 0, 1 and 2 (the dumper refuses any other; dump checks that first,
# once the program is idle, since many open files while they start).
# Sets PID_NAME.
start() {
  _spawn "$@"
  _wait_exec "$1"
}

# restore_start NAME IMAGE: starts `restore IMAGE` the same way.  restore
# itself holds the image open for a while, so its fds are not checked here.
# RESTORE_FLAGS: extra restore options for the whole script (e.g. --lazy).
restore_start() { _spawn "$1" "$RESTORE" ${RESTORE_FLAGS:-} "$2"; }

_spawn() {
  local name=$1; shift
  local fifo="$WORK/$name.in" fd
  rm -f "$fifo"
  mkfifo "$fifo" || fail "mkfifo $fifo"
  # Read-write so that neither side blocks in open and a dead reader does
  # not SIGPIPE the test; closing it is what gives the program its EOF.
  exec {fd}<>"$fifo"
  _WFD[$name]=$fd
  (
    for p in /proc/$BASHPID/fd/*; do
      p=${p##*/}
      ((p > 2)) && eval "exec $p>&-"
    done
    exec "$@" <"$fifo" >"$WORK/$name.out" 2>"$WORK/$name.err"
  ) &
  local pid=$! i
  _PIDS[$name]=$pid
  printf -v "PID_$name" '%s' "$pid"
  # Until the child has its read end, closing ours (close_input) would
  # leave the child's open() waiting for a writer forever. Once it runs the
  # command (no longer bash), the open is done: restore --pid-ns closes its
  # own fd 0 soon after, leaving it to the restored process.
  for ((i = 0; i < 500; i++)); do
    [[ $(readlink "/proc/$pid/fd/0" 2>/dev/null) == "$fifo" ]] && return 0
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */bash ]] || return 0
    sleep 0.01
  done
  fail "$name (pid $pid) did not open its stdin $fifo within 5 s"
}

# For a moment after start the pid is still the forking subshell.
_wait_exec() {
  local pid i
  pid=$(pid_of "$1")
  for ((i = 0; i < 200; i++)); do
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */bash ]] || return 0
    sleep 0.01
  done
}

# restored_pid NAME: the pid, as this script sees it, of the process that
# NAME (a restore) brought back: NAME itself, or with RESTORE_FLAGS=--pid-ns
# the restored root inside its pid namespace, the outer restore's
# grandchild (restore's init in between); waits (bounded) until it exists.
restored_pid() {
  local pid i c
  pid=$(pid_of "$1")
  if [[ ${RESTORE_FLAGS:-} != *--pid-ns* ]]; then
    echo "$pid"
    return
  fi
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    c=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null)
    c=${c%% *}
    [[ -n $c ]] && c=$(cat "/proc/$c/task/$c/children" 2>/dev/null) && c=${c%% *}
    [[ -n $c ]] && { echo "$c"; return; }
    sleep 0.05
  done
  fail "$1 (pid $pid): no restored process in its pid namespace after ${WAIT_SECONDS}s"
}

# check_std_fds NAME: NAME must hold fds 0, 1 and 2 and nothing else (for a
# restored process: restore left nothing of its own behind).
check_std_fds() {
  local pid fds
  pid=$(restored_pid "$1")
  fds=$(ls "/proc/$pid/fd" 2>/dev/null | sort -n | tr '\n' ' ')
  [[ -z $fds || $fds == "0 1 2 " ]] || fail "$1 (pid $pid) has fds '$fds', expected only 0 1 2"
}

# send NAME LINE...: writes each LINE, newline-terminated, to NAME's stdin.
send() {
  local name=$1; shift
  local fd=${_WFD[$name]:?"send: $name was not started"} line
  for line in "$@"; do
    printf '%s\n' "$line" >&"$fd" || fail "could not write to $name's stdin"
  done
}

# close_input NAME: EOF on NAME's stdin.
close_input() {
  local fd=${_WFD[$1]:-}
  [[ -n $fd ]] && exec {fd}>&-
  unset "_WFD[$1]"
}

# wait_lines NAME N: waits until NAME.out has at least N complete lines.
wait_lines() {
  local name=$1 want=$2 have=0 i pid
  pid=$(pid_of "$name")
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    have=$(wc -l <"$WORK/$name.out")
    ((have >= want)) && return 0
    sleep 0.05
  done
  fail "$name (pid $pid, state $(proc_state "$pid")) printed $have lines in ${WAIT_SECONDS}s, expected $want"
}

# target_check NAME WHAT: one "check N" round trip with
# tests/programs/dump_target started as NAME (N counts up across the
# test), which must answer "ok N"; else the test fails, saying WHAT.
TARGET_STEP=0
target_check() {
  local i
  TARGET_STEP=$((TARGET_STEP + 1))
  send "$1" "check $TARGET_STEP"
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    grep -qE "^(ok|bad) $TARGET_STEP\$" "$WORK/$1.out" && break
    sleep 0.05
  done
  grep -qx "ok $TARGET_STEP" "$WORK/$1.out" ||
    fail "$2: the target's check $TARGET_STEP did not pass: $(grep -v '^ok ' "$WORK/$1.out" | tail -n 5)"
}

# wait_exit NAME [EXPECTED_STATUS]: waits (bounded) for NAME to end and checks
# its exit status (default 0).  Sets EXIT_STATUS.
wait_exit() {
  local name=$1 want=${2:-0} pid i state
  pid=$(pid_of "$name")
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    state=$(proc_state "$pid")
    [[ $state == gone || $state == Z ]] && break
    sleep 0.05
  done
  [[ $state == gone || $state == Z ]] ||
    fail "$name (pid $pid) still running (state $state) after ${WAIT_SECONDS}s"
  wait "$pid" 2>/dev/null
  EXIT_STATUS=$?
  unset "_PIDS[$name]"
  close_input "$name"
  [[ $want == any || $EXIT_STATUS == "$want" ]] ||
    fail "$name (pid $pid) exited with status $EXIT_STATUS, expected $want"
}

# dump NAME IMAGE [EXTRA ARGS...]: dumps NAME with --kill and checks that
# ckpt succeeded, said nothing alarming, and that the process is gone.
# DUMP_SNAPSHOT=1 (the e2e.snapshot.* tests): a snapshot dump of the running
# tree instead (--snapshot, which --kill would turn off), after which the
# test kills the tree itself.
dump() {
  local name=$1 img=$2; shift 2
  local pid rc
  pid=$(pid_of "$name")
  disown "$pid"
  if [[ -n ${DUMP_SNAPSHOT:-} ]]; then
    _snapshot_dump "$name" "$pid" "$img" "$@"
    return
  fi
  "$CKPT" dump "$pid" -o "$img" --compress "$COMPRESS" --kill "$@" \
    >"$WORK/dump-$name.out" 2>"$WORK/dump-$name.err"
  rc=$?
  ((rc == 0)) || fail "ckpt dump $pid -o $img --compress $COMPRESS --kill exited $rc"
  check_quiet "$WORK/dump-$name.err" "ckpt dump"
  [[ -s $img ]] || fail "ckpt dump exited 0 but $img is missing or empty"
  wait_gone "$name"
}

_tree_of() {  # PID: it and its descendants, parents first
  local c
  echo "$1"
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do _tree_of "$c"; done
}
_snapshot_dump() {
  local name=$1 pid=$2 img=$3 rc members; shift 3
  "$CKPT" dump "$pid" -o "$img" --compress "$COMPRESS" --snapshot "$@" \
    >"$WORK/dump-$name.out" 2>"$WORK/dump-$name.err"
  rc=$?
  ((rc == 0)) || fail "ckpt dump $pid -o $img --compress $COMPRESS --snapshot exited $rc"
  check_quiet "$WORK/dump-$name.err" "ckpt dump --snapshot"
  grep -qE '^ckpt: dumped pid .*, frozen [0-9]+ ms \(snapshot\)$' "$WORK/dump-$name.err" ||
    fail "ckpt dump --snapshot did not make a snapshot: $(cat "$WORK/dump-$name.err")"
  [[ -s $img ]] || fail "ckpt dump exited 0 but $img is missing or empty"
  members=$(_tree_of "$pid")
  kill -9 $members 2>/dev/null
  wait_gone "$name"
  local m i  # every member, before a restore wants their pids
  for m in $members; do
    for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
      [[ -e /proc/$m ]] || break
      sleep 0.05
    done
  done
}

# dump_live NAME IMAGE: dumps without --kill; NAME must go on running, not
# left stopped or traced.
dump_live() {
  local name=$1 img=$2 pid rc state tracer
  pid=$(pid_of "$name")
  "$CKPT" dump "$pid" -o "$img" --compress "$COMPRESS" \
    >"$WORK/dump-$name.out" 2>"$WORK/dump-$name.err"
  rc=$?
  ((rc == 0)) || fail "ckpt dump $pid -o $img --compress $COMPRESS exited $rc"
  check_quiet "$WORK/dump-$name.err" "ckpt dump"
  [[ -s $img ]] || fail "ckpt dump exited 0 but $img is missing or empty"
  state=$(proc_state "$pid")
  [[ $state == S || $state == R ]] || fail "$name (pid $pid) is in state '$state' after a dump without --kill"
  tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status")
  [[ $tracer == 0 ]] || fail "$name (pid $pid) is still traced by $tracer after the dump"
}

# wait_gone NAME: the dumped process must be dead and reaped.  It was
# disowned before the dump, so bash reaps it without a "Killed" notice.
wait_gone() {
  local name=$1 pid i
  pid=$(pid_of "$name")
  for ((i = 0; i < 100; i++)); do
    [[ $(proc_state "$pid") == gone ]] && break
    sleep 0.05
  done
  unset "_PIDS[$name]"
  close_input "$name"
  kill -0 "$pid" 2>/dev/null &&
    fail "$name (pid $pid) is still alive (state $(proc_state "$pid")) 5 s after ckpt dump --kill"
  return 0
}

# check_quiet FILE WHAT: WHAT's stderr may hold notes but no error.  Lines
# "restore: warning: ..." are allowed: restore warns, for example, when it
# lacks CAP_SYS_RESOURCE to put the mm fields back (containers drop it).
check_quiet() {
  if grep -v '^restore: warning: ' "$1" | grep -qiE 'warn|error|fail|abort|refus|cannot|unable'; then
    fail "$2 printed something alarming: $(head -n 5 "$1")"
  fi
}

# verify IMAGE: `ckpt verify` must accept it.
verify() {
  "$CKPT" verify "$1" >"$WORK/verify.out" 2>"$WORK/verify.err" ||
    fail "ckpt verify $1 exited $?: $(cat "$WORK/verify.err")"
}

# expect_same WHAT EXPECTED_FILE ACTUAL_FILE
expect_same() {
  if ! cmp -s "$2" "$3"; then
    printf '%s: %s differs (expected %s, got %s):\n' "$TEST_NAME" "$1" "${2#"$WORK"/}" "${3#"$WORK"/}" >&2
    diff "$2" "$3" | head -n 20 >&2
    fail "$1: output differs from the reference"
  fi
}

# lines FILE FROM TO: lines FROM..TO (1-based, inclusive) of FILE.
lines() { sed -n "$2,$3p" "$1"; }

image_bytes() { stat -c %s "$1"; }

now_ms() { date +%s%3N; }

# lazy_server_of IMAGE: the pid of the page server (comm ckpt-lazy, which it
# takes once set up) of a restore --lazy of IMAGE, or nothing.
lazy_server_of() {
  local p c cmd
  for p in /proc/[0-9]*; do
    read -r c 2>/dev/null <"$p/comm" && [[ $c == ckpt-lazy ]] || continue
    cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)
    [[ $cmd == *"$1"* ]] && { echo "${p#/proc/}"; return; }
  done
}

# wait_lazy_server_gone IMAGE: the page server of IMAGE must end (bounded).
wait_lazy_server_gone() {
  local i pid
  for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
    pid=$(lazy_server_of "$1")
    [[ -z $pid ]] && return 0
    sleep 0.1
  done
  fail "the page server of $1 (pid $pid) is still running after ${WAIT_SECONDS}s"
}

# seccomp_filters IMAGE: the image's carried seccomp filters, a line each
# (`ckpt inspect`: order, flags, instruction count, program checksum).
seccomp_filters() { "$CKPT" inspect "$1" | grep '^seccomp filter' || true; }

# restored_same_filters NAME IMAGE: restores IMAGE as NAME, waits until its
# filters are attached, dumps it again (it runs on) and fails unless that
# image carries the very same filters.
restored_same_filters() {
  local name=$1 img=$2 want pid i
  want=$(seccomp_filters "$img")
  restore_start "$name" "$img"
  pid=$(pid_of "$name")
  for ((i = 0; i < 100; i++)); do
    [[ $(awk '/^Seccomp_filters:/ {print $2}' "/proc/$pid/status" 2>/dev/null) == "$(grep -c . <<<"$want")" ]] && break
    sleep 0.05
  done
  "$CKPT" dump "$pid" -o "$WORK/$name.again.ckpt" >/dev/null 2>"$WORK/$name.again.err" ||
    fail "the dump of the restored $name failed: $(cat "$WORK/$name.again.err")"
  [[ $(seccomp_filters "$WORK/$name.again.ckpt") == "$want" ]] ||
    fail "the restored $name's filters differ: $want / $(seccomp_filters "$WORK/$name.again.ckpt")"
}

# The two halves of the state.sh protocol (see its header), for scripts
# that add steps of their own in between.
# fresh_must_fail PROGRAM [ARGS...]: PROGRAM --fresh must FAIL its check,
# which proves the check can tell.
fresh_must_fail() {
  local prog=$1; shift
  start fresh "$PROGRAMS/$prog" --fresh "$@"
  wait_lines fresh 1
  head -n 1 "$WORK/fresh.out" | grep -q '^ready' || fail "$prog --fresh did not print 'ready' first"
  send fresh check
  close_input fresh
  wait_exit fresh any
  ((EXIT_STATUS != 0)) && grep -q '^FAIL' "$WORK/fresh.out" ||
    fail "$prog --fresh did not FAIL its check (status $EXIT_STATUS): the check cannot tell"
}

# restored_must_pass IMAGE PROGRAM: IMAGE restored as "back" must PASS its
# check, quietly.
restored_must_pass() {
  local img=$1 prog=$2
  restore_start back "$img"
  send back check
  close_input back
  wait_exit back any
  grep -q '^PASS' "$WORK/back.out" && ((EXIT_STATUS == 0)) ||
    fail "restored $prog did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/back.out" | head -n 5)"
  check_quiet "$WORK/back.err" "restored $prog"
  log "$(grep '^PASS' "$WORK/back.out" | head -n 1)"
}
