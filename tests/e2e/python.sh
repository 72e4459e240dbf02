#!/usr/bin/env bash
# A real python3 interpreter holding state (numbers, strings, a class
# instance, a dict, a suspended generator, a seeded random generator,
# imported json and hashlib) is dumped with --kill and restored with a new
# stdin; it must answer questions only that state can answer, exactly as an
# uninterrupted interpreter does, and report the pid of `restore`.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
# One statement or expression per line; exactly one answer line each: the
# repr of an expression's value, "ok" for a statement, "error: ..." else.
REPL='
import sys
env = {"__name__": "__repl__"}
while True:
    line = sys.stdin.readline()
    if not line:
        break
    src = line.rstrip("\n")
    try:
        try:
            code = compile(src, "<repl>", "eval")
        except SyntaxError:
            exec(compile(src, "<repl>", "exec"), env)
            print("ok")
        else:
            print(repr(eval(code, env)))
    except Exception as e:
        print("error:", type(e).__name__, e)
'

setup=(
  'import json, hashlib, random'
  'total = 0'
  "acc = ''"
  'class Box: pass'
  "box = Box(); box.name = 'ckpt'; box.items = []"
  'table = {}'
  'gen = (i * i for i in range(100)); next(gen); next(gen)'
  'rng = random.Random(2024); rng.random()'
)
for i in $(seq 1 20); do
  setup+=("total += $i * $i; acc += '$i,'; box.items.append($i); table['k$i'] = $i % 7")
done
questions=(
  'total'
  'hashlib.sha256(acc.encode()).hexdigest()'
  '(box.name, len(box.items), sum(box.items))'
  'json.dumps(table, sort_keys=True)'
  'next(gen)'
  'rng.random()'
  'total += 1000'
  'total'
  '[k for k in dir(box) if not k.startswith("_")]'
)
n_setup=${#setup[@]}
n_questions=${#questions[@]}

start ref "$PYTHON" -u -c "$REPL"
send ref "${setup[@]}" "${questions[@]}"
wait_lines ref $((n_setup + n_questions))
close_input ref
wait_exit ref 0

start run "$PYTHON" -u -c "$REPL"
send run "${setup[@]}"
wait_lines run "$n_setup"
dump run "$WORK/python.ckpt"
verify "$WORK/python.ckpt"
log "image bytes $(image_bytes "$WORK/python.ckpt") (compress $COMPRESS)"

restore_start back "$WORK/python.ckpt"
send back "${questions[@]}" 'import os; pid = os.getpid()' 'pid'
wait_lines back $((n_questions + 2))
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restored python3"

lines "$WORK/ref.out" 1 "$n_setup" >"$WORK/expected-before"
lines "$WORK/ref.out" $((n_setup + 1)) $((n_setup + n_questions)) >"$WORK/expected-after"
lines "$WORK/back.out" 1 "$n_questions" >"$WORK/answers"
expect_same "interpreter output before the dump" "$WORK/expected-before" "$WORK/run.out"
expect_same "answers after the restore" "$WORK/expected-after" "$WORK/answers"

# Answers worked out here too, so a broken reference run cannot hide a bug.
sum=0; acc=''
for i in $(seq 1 20); do sum=$((sum + i * i)); acc+="$i,"; done
digest=$(printf '%s' "$acc" | sha256sum | cut -d' ' -f1)
[[ $(sed -n 1p "$WORK/answers") == "$sum" ]] || fail "restored total is not $sum"
[[ $(sed -n 2p "$WORK/answers") == "'$digest'" ]] || fail "restored sha256 is not $digest"
[[ $(sed -n 3p "$WORK/answers") == "('ckpt', 20, 210)" ]] || fail "restored Box instance is wrong"
[[ $(sed -n 5p "$WORK/answers") == 4 ]] || fail "restored generator did not resume at 2*2"
[[ $(sed -n 8p "$WORK/answers") == $((sum + 1000)) ]] || fail "restored interpreter cannot update state"
pid=$(sed -n "$((n_questions + 2))p" "$WORK/back.out")
[[ $pid == "$PID_back" ]] || fail "restored python3 reports pid $pid, restore was pid $PID_back"
log "PASS"
