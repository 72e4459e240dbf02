#!/usr/bin/env bash
# restore --lazy's page server holds no more than it needs and never hits a
# process by its number (docs/security.md §3, docs/architecture.md "Lazy
# restore"). With tests/programs/lazyfork (32 MiB of patterned memory, all
# of it lazy) and background copying held back:
#   1. once set up (comm ckpt-lazy), the server has no capability but
#      CAP_KILL (kept only to kill a restored process that changed its
#      ids), an empty bounding set, no_new_privs, and holds a pidfd of the
#      restored process;
#   2. SIGTERM makes it finish: it copies everything at once and exits,
#      and the program then finds all its memory as saved;
#   3. a raw image with a byte of the area's page data flipped: the program
#      forks, the child touches the area and meets the corrupt chunk. The
#      server kills the child (found through its faulting thread) as well
#      as the parent, says why in one line, and ends; the child never gets
#      past the bad chunk (with the server gone, its pages would read as
#      zeros).
source "$(dirname "$0")/lib.sh"
prog=lazyfork

COMPRESS=none
start orig "$PROGRAMS/$prog"
wait_lines orig 1
dump orig "$WORK/raw.ckpt"

# 1. What the server holds once set up.
CKPT_LAZY_PREFETCH_DELAY_MS=600000 RESTORE_FLAGS=--lazy restore_start held "$WORK/raw.ckpt"
server=
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  server=$(lazy_server_of "$WORK/raw.ckpt")
  [[ -n $server ]] && break
  sleep 0.05
done
[[ -n $server ]] || fail "no page server (ckpt-lazy) runs for the lazy restore"
status_field() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$server/status"; }
caps="CapEff $(status_field CapEff) CapPrm $(status_field CapPrm) CapInh $(status_field CapInh) CapBnd $(status_field CapBnd) CapAmb $(status_field CapAmb) NoNewPrivs $(status_field NoNewPrivs)"
kill_only=0000000000000020  # CAP_KILL (5), if the caller had it
[[ $(status_field CapEff) =~ ^(0000000000000000|$kill_only)$ && $(status_field CapPrm) == $(status_field CapEff) &&
  $(status_field CapInh) == 0000000000000000 && $(status_field CapAmb) == 0000000000000000 &&
  $(status_field NoNewPrivs) == 1 ]] ||
  fail "the page server (pid $server) holds more than it needs: $caps"
if [[ $(id -u) == 0 ]]; then  # with CAP_SETPCAP the bounding set goes too
  [[ $(status_field CapEff) == "$kill_only" && $(status_field CapBnd) == 0000000000000000 ]] ||
    fail "the page server of a root caller: expected CAP_KILL only and an empty bounding set: $caps"
fi
holds_pidfd=no
for f in /proc/"$server"/fdinfo/*; do
  grep -qE "^Pid:[[:space:]]+$PID_held\$" "$f" 2>/dev/null && holds_pidfd=yes
done
[[ $holds_pidfd == yes ]] || fail "the page server holds no pidfd of the restored process $PID_held"
log "page server $server once set up: $caps, a pidfd of $PID_held"

# 2. SIGTERM: finish now, never leave the program's memory incomplete.
kill -TERM "$server"
wait_lazy_server_gone "$WORK/raw.ckpt"
send held check
wait_exit held any
grep -q '^PASS' "$WORK/held.out" && ((EXIT_STATUS == 0)) ||
  fail "after SIGTERM to its page server, the program did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/held.out" | head -n 3)"
log "SIGTERM: the server copied everything and ended; $(grep '^PASS' "$WORK/held.out")"

# 3. A fork meets a corrupt chunk (16 MiB into the page data: inside the
# 32 MiB area, whose chunks are all there is at that depth).
cp "$WORK/raw.ckpt" "$WORK/bad.ckpt"
at=$(($("$CKPT" inspect "$WORK/bad.ckpt" | awk '$1 == "page_data" {print $3}') + 16 * 1048576))
printf '\x5a' | dd of="$WORK/bad.ckpt" bs=1 seek="$at" conv=notrunc status=none
CKPT_LAZY_PREFETCH_DELAY_MS=600000 RESTORE_FLAGS=--lazy restore_start bad "$WORK/bad.ckpt"
send bad fork
wait_exit bad any
((EXIT_STATUS == 137)) || fail "the parent, waiting for its child, exited $EXIT_STATUS, not killed (137)"
child=$(awk '$1 == "child" {print $2}' "$WORK/bad.out")
[[ -n $child ]] || fail "the forked child never said its pid: $(cat "$WORK/bad.out")"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  state=$(proc_state "$child")
  [[ $state == gone || $state == Z ]] && break
  sleep 0.05
done
[[ $state == gone || $state == Z ]] || fail "the forked child $child still runs (state $state) after its parent was killed"
wait_lazy_server_gone "$WORK/bad.ckpt"
grep -q 'survived' "$WORK/bad.out" && fail "the forked child got past the corrupt chunk: $(grep survived "$WORK/bad.out")"
[[ $(wc -l <"$WORK/bad.err") == 1 ]] && grep -q '^restore --lazy: bad image .*checksum mismatch.*was killed$' "$WORK/bad.err" ||
  fail "the page server did not say in one line why it killed: $(head -n 3 "$WORK/bad.err")"
log "a fork meeting a corrupt chunk: child $child and its parent killed: $(cat "$WORK/bad.err")"
log "PASS"
