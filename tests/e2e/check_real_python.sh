#!/usr/bin/env bash
# A real python3 interpreter holding objects (a Counter, a Fraction, a class
# instance), imported modules (json, collections, fractions, os) and two
# files open for reading at an offset - one unbuffered (its position is
# the fd's offset) and one buffered text file 100 lines in (python holds
# part of the file in its buffer, the rest must come from the fd at its
# offset) - is fed through a pipe, dumped with --kill mid-conversation and
# restored with a new stdin.  Reading on from both files, and questions
# about the objects, must answer as an uninterrupted reference run does and
# as worked out here.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
# One statement or expression per line; one answer line each: the repr of
# an expression's value, "ok" for a statement, "error: ..." else.
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

# dump_with_fds NAME IMAGE: lib.sh's dump without its "fds 0-2 only" check,
# since this interpreter holds files open on purpose.
dump_with_fds() {
  local name=$1 img=$2 pid rc
  pid=$(pid_of "$name")
  disown "$pid"
  "$CKPT" dump "$pid" -o "$img" --compress "$COMPRESS" --kill \
    >"$WORK/dump-$name.out" 2>"$WORK/dump-$name.err"
  rc=$?
  ((rc == 0)) || fail "ckpt dump $pid -o $img --compress $COMPRESS --kill exited $rc"
  check_quiet "$WORK/dump-$name.err" "ckpt dump"
  wait_gone "$name"
}

DATA="$WORK/lines.txt"
N=5000
awk -v n=$N 'BEGIN { for (i = 1; i <= n; i++) printf "line %d value %d\n", i, (i * i) % 1009 }' >"$DATA"

setup=(
  'import json, collections, fractions, os'
  "raw = open('$DATA', 'rb', buffering=0)"
  'raw.readline(); raw.readline(); raw.readline()'
  'raw.readline()'
  "txt = open('$DATA')"
  'for _ in range(100): last = txt.readline()'
  'last'
  "words = collections.Counter(w for w in 'the cat and the hat and the bat'.split())"
  'third = fractions.Fraction(1, 3) * 7'
  # A class takes several lines; the REPL takes one, so exec builds it.
  "exec('class Point:\\n def __init__(s, x, y): s.x, s.y = x, y\\n def norm2(s): return s.x * s.x + s.y * s.y'); p = Point(3, 4)"
)
questions=(
  'raw.readline()'
  'raw.tell() == os.lseek(raw.fileno(), 0, os.SEEK_CUR)'
  'txt.readline()'
  'sum(int(l.split()[3]) for l in txt)'
  'txt.readline()'
  "os.readlink('/proc/self/fd/%d' % raw.fileno()) == '$DATA'"
  'words.most_common(2)'
  'third, third * 3'
  'p.norm2()'
  "json.dumps({'w': words['the'], 'p': [p.x, p.y]}, sort_keys=True)"
)
n_setup=${#setup[@]}
n_q=${#questions[@]}

start ref "$PYTHON" -u -c "$REPL"
send ref "${setup[@]}" "${questions[@]}"
wait_lines ref $((n_setup + n_q))
close_input ref
wait_exit ref 0

start run "$PYTHON" -u -c "$REPL"
send run "${setup[@]}"
wait_lines run "$n_setup"
dump_with_fds run "$WORK/python.ckpt"
verify "$WORK/python.ckpt"
log "image bytes $(image_bytes "$WORK/python.ckpt") (compress $COMPRESS)"

restore_start back "$WORK/python.ckpt"
send back "${questions[@]}"
wait_lines back "$n_q"
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restored python3"

lines "$WORK/ref.out" 1 "$n_setup" >"$WORK/expected-before"
lines "$WORK/ref.out" $((n_setup + 1)) $((n_setup + n_q)) >"$WORK/expected-after"
expect_same "interpreter output before the dump" "$WORK/expected-before" "$WORK/run.out"
expect_same "answers after the restore" "$WORK/expected-after" "$WORK/back.out"

rest=$(awk -v n=$N 'BEGIN { for (i = 102; i <= n; i++) s += (i * i) % 1009; print s }')
[[ $(lines "$WORK/back.out" 1 1) == "b'line 5 value 25\\n'" ]] || fail "the unbuffered file did not read on with line 5"
[[ $(lines "$WORK/back.out" 2 2) == True ]] || fail "the unbuffered file's position is not its fd's offset"
[[ $(lines "$WORK/back.out" 3 3) == "'line 101 value $(((101 * 101) % 1009))\\n'" ]] || fail "the text file did not read on with line 101"
[[ $(lines "$WORK/back.out" 4 4) == "$rest" ]] || fail "the rest of the text file does not sum to $rest (wrong fd offset?)"
[[ $(lines "$WORK/back.out" 5 5) == "''" ]] || fail "the text file is not at its end after reading the rest"
[[ $(lines "$WORK/back.out" 6 6) == True ]] || fail "the restored fd does not point to $DATA"
[[ $(lines "$WORK/back.out" 9 9) == 25 ]] || fail "the restored Point instance is wrong"
log "answers after restore: $(tr '\n' ' ' <"$WORK/back.out" | cut -c 1-300)"
log "PASS"
