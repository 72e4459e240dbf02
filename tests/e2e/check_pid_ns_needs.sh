#!/usr/bin/env bash
# restore --pid-ns refuses, before its point of no return, with exit 1 and
# one line naming what is missing, whatever it lacks; and `restore --check
# --pid-ns` refuses the same (it also tries the namespace once for real):
#   - no CAP_SYS_ADMIN: root with the capability dropped from its bounding
#     set, and the unprivileged user nobody;
#   - a saved pid, or a thread's saved id, not below this machine's
#     pid_max (edited images);
#   - a per-process file (named after the pid, as a JVM's hsperfdata) whose
#     name, the saved pid's, is taken: another copy or the original may own
#     it, so it is never replaced in this mode (a plain restore uses its own
#     pid's name and goes on); once the name is free, --pid-ns restores it;
#   - --pid-ns with --install-binfmt or --new-pids: a usage error (exit 2).
source "$(dirname "$0")/lib.sh"

EDIT="$PROGRAMS/../tools/image_edit"
[[ -x $EDIT ]] || fail "image_edit not built at $EDIT"
img=$WORK/ids.ckpt

start orig "$PROGRAMS/pidns_ids"
wait_lines orig 1
dump orig "$img"
"$RESTORE" --check --pid-ns "$img" >"$WORK/ok.out" 2>&1 || fail "restore --check --pid-ns refused a good image: $(cat "$WORK/ok.out")"

# refused NAME REGEX CMD...: CMD must exit 1 with exactly one line on
# stderr, matching REGEX, and nothing on stdout.
refused() {
  local name=$1 want=$2 rc; shift 2
  "$@" </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err"
  rc=$?
  ((rc == 1)) || fail "$name: exit $rc, expected 1: $(cat "$WORK/$name.err")"
  [[ $(wc -l <"$WORK/$name.err") == 1 ]] || fail "$name: expected one line on stderr, got: $(cat "$WORK/$name.err")"
  grep -qE -- "$want" "$WORK/$name.err" || fail "$name: '$(cat "$WORK/$name.err")' does not say '$want'"
  [[ ! -s $WORK/$name.out ]] || fail "$name printed on stdout: $(cat "$WORK/$name.out")"
  log "$name: $(cat "$WORK/$name.err")"
}

no_admin=(setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin)
cap_line="--pid-ns needs CAP_SYS_ADMIN \(to create pid and mount namespaces, mount /proc there and create the process with its saved pid $PID_orig\)"
refused no-cap "$cap_line" "${no_admin[@]}" "$RESTORE" --pid-ns "$img"
refused no-cap-check "$cap_line" "${no_admin[@]}" "$RESTORE" --check --pid-ns "$img"
chmod 755 "$WORK" && chmod 644 "$img" || fail "chmod"
refused nobody "$cap_line" setpriv --reuid=nobody --regid=nogroup --clear-groups "$RESTORE" --pid-ns "$img"

max=$(cat /proc/sys/kernel/pid_max)
"$EDIT" "$img" "$WORK/big.ckpt" "pid=$max" || fail "image_edit pid=$max failed"
refused pid-max "the saved pid $max is not below this machine's pid_max \($max\)" "$RESTORE" --pid-ns "$WORK/big.ckpt"
refused pid-max-check "the saved pid $max is not below this machine's pid_max \($max\)" "$RESTORE" --check --pid-ns "$WORK/big.ckpt"
"$RESTORE" --check "$WORK/big.ckpt" >/dev/null 2>&1 || fail "without --pid-ns the saved pid does not matter, yet --check refused"
"$EDIT" "$img" "$WORK/bigtid.ckpt" "tid1=$max" || fail "image_edit tid1=$max failed"
refused tid-max "the saved thread id $max \(of pid $PID_orig\) is not below this machine's pid_max \($max\)" "$RESTORE" --pid-ns "$WORK/bigtid.ckpt"

"$RESTORE" --pid-ns --install-binfmt >/dev/null 2>"$WORK/usage.err"
rc=$?
((rc == 2)) && grep -q 'take no image' "$WORK/usage.err" || fail "--pid-ns --install-binfmt: exit $rc, $(head -n 1 "$WORK/usage.err")"
"$RESTORE" --pid-ns --new-pids "$img" >/dev/null 2>"$WORK/usage2.err"
rc=$?
((rc == 2)) && grep -q -- '--pid-ns gives every process its saved pid' "$WORK/usage2.err" ||
  fail "--pid-ns --new-pids: exit $rc, $(head -n 1 "$WORK/usage2.err")"

# A per-process file whose name, the saved pid's, is taken.
cd "$WORK" && mkdir perf || fail "mkdir $WORK/perf"
start own "$PROGRAMS/state_own_file"
wait_lines own 1
own_pid=$PID_own
dump own "$WORK/own.ckpt"
[[ -f perf/$own_pid ]] || fail "the original's file perf/$own_pid is missing"
refused own-taken "cannot create $WORK/perf/$own_pid for the per-process file $WORK/perf/$own_pid mapped at 0x[0-9a-f]*: it exists, and with --pid-ns the pid does not tell whether its process still runs" \
  "$RESTORE" --check --pid-ns "$WORK/own.ckpt"
"$RESTORE" --check "$WORK/own.ckpt" >/dev/null 2>&1 || fail "a plain restore --check refused the per-process file"
rm "perf/$own_pid"
RESTORE_FLAGS=--pid-ns restored_must_pass "$WORK/own.ckpt" state_own_file
