#!/usr/bin/env bash
# A real bash reading commands from a pipe, holding variables, an indexed
# and an associative array (500 entries) and functions, is dumped with
# --kill mid-conversation and restored with a new stdin; calling its
# functions on its arrays must answer exactly as an uninterrupted reference
# run does and as worked out here.  $BASHPID must then be the pid of
# `restore` while $$ (fixed at start) is still the original's.
source "$(dirname "$0")/lib.sh"

BASH_BIN=/bin/bash
N=500
# Every line prints exactly one line.  bash reads a pipe one byte at a
# time and echo is unbuffered, so answers come as soon as a line is read.
setup=(
  'greeting="hello from before"; count=0; echo set'
  'declare -A ages=(); for ((i = 1; i <= '$N'; i++)); do ages[user$i]=$(( (i * 31) % 97 )); done; echo ${#ages[@]}'
  'primes=(2 3 5 7 11 13 17 19 23 29); echo ${#primes[@]}'
  'total() { local -n arr=$1; local k s=0; for k in "${!arr[@]}"; do s=$((s + arr[$k])); done; echo $s; }; echo defined'
  'older() { local k n=0; for k in "${!ages[@]}"; do ((ages[$k] > $1)) && n=$((n + 1)); done; echo $n; }; echo defined'
  'bump() { count=$((count + $1)); echo $count; }; bump 5'
  'echo $$'
)
questions=(
  'total ages'
  'total primes'
  'older 90'
  'echo "${ages[user42]} ${ages[user500]} ${greeting^^}"'
  'bump 10'
  'ages[extra]=1000; total ages'
  'echo $$'
)

# lib.sh's start waits (up to 200 polls, seconds here) for the program to
# stop being bash, which this one never does; _spawn is start without that
# wait, and bash reads the FIFO whenever it gets there.
_spawn ref "$BASH_BIN"
send ref "${setup[@]}" "${questions[@]}"
wait_lines ref $((${#setup[@]} + ${#questions[@]}))
close_input ref
wait_exit ref 0

_spawn run "$BASH_BIN"
send run "${setup[@]}"
wait_lines run ${#setup[@]}
dump run "$WORK/bash.ckpt"
verify "$WORK/bash.ckpt"
log "image bytes $(image_bytes "$WORK/bash.ckpt") (compress $COMPRESS)"

restore_start back "$WORK/bash.ckpt"
send back "${questions[@]}" 'echo $BASHPID'
wait_lines back $((${#questions[@]} + 1))
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restored bash"

n_setup=${#setup[@]}
n_q=${#questions[@]}
# $$ differs between the reference and this run; compare the rest.
lines "$WORK/ref.out" 1 $((n_setup - 1)) >"$WORK/expected-before"
lines "$WORK/run.out" 1 $((n_setup - 1)) >"$WORK/got-before"
expect_same "bash output before the dump" "$WORK/expected-before" "$WORK/got-before"
lines "$WORK/ref.out" $((n_setup + 1)) $((n_setup + n_q - 1)) >"$WORK/expected-after"
lines "$WORK/back.out" 1 $((n_q - 1)) >"$WORK/answers"
expect_same "bash answers after the restore" "$WORK/expected-after" "$WORK/answers"

sum=0; older=0
for ((i = 1; i <= N; i++)); do
  a=$(((i * 31) % 97)); sum=$((sum + a)); ((a > 90)) && older=$((older + 1))
done
[[ $(lines "$WORK/answers" 1 1) == "$sum" ]] || fail "total ages after restore is not $sum"
[[ $(lines "$WORK/answers" 2 2) == 129 ]] || fail "total primes after restore is not 129"
[[ $(lines "$WORK/answers" 3 3) == "$older" ]] || fail "older 90 after restore is not $older"
[[ $(lines "$WORK/answers" 4 4) == "$(((42 * 31) % 97)) $(((500 * 31) % 97)) HELLO FROM BEFORE" ]] ||
  fail "array lookups / variable after restore are wrong"
[[ $(lines "$WORK/answers" 5 5) == 15 ]] || fail "the counter did not go on from 5"
[[ $(lines "$WORK/answers" 6 6) == $((sum + 1000)) ]] || fail "the restored associative array did not take a new key"
[[ $(lines "$WORK/back.out" $n_q $n_q) == "$PID_run" ]] || fail "\$\$ after restore is not the original's $PID_run"
[[ $(lines "$WORK/back.out" $((n_q + 1)) $((n_q + 1))) == "$PID_back" ]] ||
  fail "\$BASHPID after restore is not restore's pid $PID_back"
log "answers after restore: $(tr '\n' ' ' <"$WORK/back.out")"
log "PASS"
