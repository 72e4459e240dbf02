#!/usr/bin/env bash
# `script` (util-linux) running an interactive bash: script holds the pty's
# master and relays between its own stdin/stdout and the pty; bash leads a
# session on the slave. The whole tree is dumped with --kill and restored:
# a command typed into the restored script's stdin reaches the restored
# bash through the new pty, which answers with the variable it had set
# before the dump.
source "$(dirname "$0")/lib.sh"

command -v script >/dev/null || fail "script (util-linux) is not installed"
export PS1='$ '
start sess script -qfec "bash --norc --noprofile -i" /dev/null
send sess 'X=41; echo ready-$((X+1))'
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  grep -q 'ready-42' "$WORK/sess.out" && break
  sleep 0.05
done
grep -q 'ready-42' "$WORK/sess.out" || fail "the shell under script did not answer: $(cat "$WORK/sess.out" "$WORK/sess.err")"
dump sess "$WORK/sess.ckpt"
restore_start back "$WORK/sess.ckpt"
send back 'echo after-$((X+1))'
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  grep -aq 'after-42' "$WORK/back.out" && break
  sleep 0.05
done
grep -aq 'after-42' "$WORK/back.out" || fail "the restored shell did not answer: $(cat -v "$WORK/back.out" "$WORK/back.err" | tail -n 5)"
send back 'exit 7'
wait_exit back 7
log "PASS: $(grep -ao 'after-42' "$WORK/back.out" | tr -d '\r')"
