#!/usr/bin/env bash
# `ckpt inspect` never prints the image's strings raw: comm, paths and the
# working directory are whatever bytes the process had, and an escape
# sequence among them would act on the reader's terminal. A python3 holder
# names itself (comm) "e ESC[31m X NEWLINE y", works in a folder whose name
# holds ESC [2J and a newline, and holds open a file whose name holds
# ESC ]0; ... BEL, a newline, U+009B (the one-character CSI) and the byte
# 0xff (not UTF-8). After a dump (the process goes on):
#   - the text output holds no control character but its line ends (no C0,
#     DEL, C1, no byte that is not UTF-8); the comm stays on its one
#     "process:" line, shown as e\x1b[31mX\ny; the path and folder show
#     their escapes (\x1b, \n, \x07, \u{009b}, \xff);
#   - the JSON output is one line of valid JSON with no raw control
#     character; the strings decode to the exact bytes (a byte that is not
#     UTF-8 as the lone surrogate U+DC00+byte: os.fsencode gives it back).
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
HOLDER='
import ctypes, os, sys
ctypes.CDLL(None).prctl(15, b"e\x1b[31mX\ny", 0, 0, 0)  # PR_SET_NAME
d = os.path.join(sys.argv[1].encode(), b"d\x1b[2J\n")
os.mkdir(d)
os.chdir(d)
f = os.open(b"f\x1b]0;pwned\x07\nz\xc2\x9b\xff.txt", os.O_RDWR | os.O_CREAT, 0o600)
print("ready", flush=True)
sys.stdin.readline()
'
start h "$PYTHON" -u -c "$HOLDER" "$WORK"
wait_lines h 1
dump_live h "$WORK/esc.ckpt"
send h done
close_input h
wait_exit h 0

"$CKPT" inspect "$WORK/esc.ckpt" >"$WORK/inspect.txt" || fail "ckpt inspect exited $?"
"$CKPT" inspect --json "$WORK/esc.ckpt" >"$WORK/inspect.json" || fail "ckpt inspect --json exited $?"
"$PYTHON" - "$WORK/inspect.txt" "$WORK/inspect.json" "$WORK" <<'PY' || fail "ckpt inspect printed raw control characters or lost bytes"
import json, os, re, sys
text, js, work = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), sys.argv[3].encode()
bad = []
def raw_controls(b, allowed):
    s = b.decode("utf-8", errors="replace")
    if "\ufffd" in s:
        bad.append("bytes that are not UTF-8")
    return [hex(ord(c)) for c in s if (ord(c) < 0x20 and c not in allowed) or 0x7f <= ord(c) < 0xa0]
if raw_controls(text, "\n"):
    bad.append("text: raw control characters %s" % raw_controls(text, "\n"))
proc = [l for l in text.split(b"\n") if l.startswith(b"process:")]
if len(proc) != 1 or b"(e\\x1b[31mX\\ny)" not in proc[0]:
    bad.append("text: the comm is not shown escaped on its line: %r" % proc)
name = b"f\\x1b]0;pwned\\x07\\nz\\u{009b}\\xff.txt"
if name not in text:
    bad.append("text: the file name is not shown escaped")
if b"d\\x1b[2J\\n" not in text:
    bad.append("text: the working directory is not shown escaped")
if raw_controls(js.rstrip(b"\n"), ""):
    bad.append("json: raw control characters %s" % raw_controls(js.rstrip(b"\n"), ""))
j = json.loads(js)
if j["process"]["comm"] != "e\x1b[31mX\ny":
    bad.append("json: comm is %r" % j["process"]["comm"])
want = os.path.join(work, b"d\x1b[2J\n", b"f\x1b]0;pwned\x07\nz\xc2\x9b\xff.txt")
if os.fsencode(j["task"]["cwd"]) != os.path.join(work, b"d\x1b[2J\n"):
    bad.append("json: cwd is %r" % j["task"]["cwd"])
if [os.fsencode(f["path"]) for f in j["fds"] if f["kind"] == "file"] != [want]:
    bad.append("json: the file's path is %r" % [f["path"] for f in j["fds"]])
for b in bad:
    print("FAIL", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
# restore's refusals name paths from the image: escaped too (the folder is gone).
rm -rf "$WORK/d"$'\e'"[2J"$'\n'
[[ -e $WORK/d$'\e'[2J$'\n' ]] && fail "cannot remove the holder's folder"
"$RESTORE" --check "$WORK/esc.ckpt" >"$WORK/check.out" 2>"$WORK/check.err"
rc=$?
((rc == 1)) || fail "restore --check with the working directory gone exited $rc, expected 1"
[[ $(wc -l <"$WORK/check.err") == 1 ]] || fail "restore's refusal took more than one line: $(cat "$WORK/check.err")"
grep -q $'\e' "$WORK/check.err" && fail "restore's refusal printed a raw ESC"
grep -qF 'd\x1b[2J\n' "$WORK/check.err" || fail "restore's refusal does not show the folder escaped: $(cat "$WORK/check.err")"
log "$(grep '^process:' "$WORK/inspect.txt")"
log "restore: $(cat "$WORK/check.err")"
log "PASS"
