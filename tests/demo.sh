#!/usr/bin/env bash
# The README's demo: a process that prints a tick every 50 ms is dumped to an
# image and killed, then restored from that image; it goes on ticking from
# where it was.   usage: tests/demo.sh [BUILD_DIR]   (default ./build)
set -u -o pipefail

build=$(cd "${1:-./build}" && pwd) || { echo "demo: no build dir ${1:-./build}" >&2; exit 2; }
ckpt="$build/dumper/ckpt"
restore="$build/restorer/restore"
sleeper="$build/tests/programs/sleeper"
for f in "$ckpt" "$restore" "$sleeper"; do
  [[ -x $f ]] || { echo "demo: $f is missing; build first (cmake --build $build)" >&2; exit 2; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-demo.XXXXXX") || exit 1
img="$dir/demo.ckpt"
ticks="$dir/ticks.log"
pid= tee_pid=
cleanup() {
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
  [[ -n $tee_pid ]] && kill "$tee_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
demo_fail() { echo "== demo FAILED: $*" >&2; exit 1; }

# The ticks go to the terminal and, through tee, to a log that is checked at
# the end.  The sleeper gets fds 0-2 only: ckpt refuses any other.
mkfifo "$dir/pipe"
tee -a "$ticks" <"$dir/pipe" &
tee_pid=$!
(
  for p in /proc/$BASHPID/fd/*; do p=${p##*/}; ((p > 2)) && eval "exec $p>&-"; done
  exec "$sleeper" 30 </dev/null >"$dir/pipe"
) &
pid=$!

sleep 1
echo "== dumping pid $pid to $img (and killing it)"
disown "$pid"  # no "Killed" job notice from bash; it still reaps the child
"$ckpt" dump "$pid" -o "$img" --kill || demo_fail "ckpt dump exited $?"
for ((i = 0; i < 40; i++)); do
  [[ -e /proc/$pid ]] || break
  sleep 0.05
done
kill -0 "$pid" 2>/dev/null && demo_fail "pid $pid is still alive after ckpt dump --kill"
wait "$tee_pid"
tee_pid=
dumped=$pid pid=
echo "== image: $(stat -c %s "$img") bytes; pid $dumped is gone (kill -0 $dumped fails)"
before=$(wc -l <"$ticks")

echo "== restoring: restore $img"
"$restore" "$img" </dev/null | tee -a "$ticks"
rc=${PIPESTATUS[0]}
((rc == 0)) || demo_fail "restore exited $rc"

expected=$(seq 1 30 | sed 's/^/tick /')
[[ $(cat "$ticks") == "$expected" ]] ||
  demo_fail "the ticks were not 1..30 exactly once each (dumped after tick $before)"
echo "== demo passed: ticks 1-$before before the dump, $((before + 1))-30 after the restore"
