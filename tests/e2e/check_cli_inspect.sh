#!/usr/bin/env bash
# `ckpt inspect --json` holds everything `ckpt inspect` shows: every
# member of a process tree with all of its own records (not only the
# root's), descriptors with their duplicates, outside pipe ends with the
# restore flags each needs, sections with their checksums, mm, task and
# thread details. A python3 holder with a child (a tree of two) keeps fd 45,
# the write end of a pipe whose reader is outside the tree, and fd 47, a
# duplicate of it; the text and the JSON of its image must agree.
source "$(dirname "$0")/lib.sh"

HOLDER='
import os, signal, sys
r, w = os.pipe()
if os.fork() == 0:   # the reader, an orphaned grandchild: outside the dumped tree
    if os.fork() == 0:
        os.close(w)
        os.read(r, 1)   # EOF once every writer (the tree) is gone
        os._exit(0)
    os._exit(0)
os.wait()
os.close(r)
os.dup2(w, 45); os.close(w)
os.dup2(45, 47)
kid = os.fork()
if kid == 0:
    while True:
        signal.pause()
print("ready", kid, flush=True)
sys.stdin.readline()
'
start holder /usr/bin/python3 -u -c "$HOLDER"
wait_lines holder 1
kid=$(awk '$1 == "ready" {print $2}' "$WORK/holder.out")
root=$(pid_of holder)
pid=$(pid_of holder)
disown "$pid"
"$CKPT" dump "$pid" -o "$WORK/tree.ckpt" --kill >"$WORK/dump.out" 2>"$WORK/dump.err" || fail "ckpt dump exited $?"
wait_gone holder
"$CKPT" inspect "$WORK/tree.ckpt" >"$WORK/inspect.txt" || fail "ckpt inspect exited $?"
"$CKPT" inspect --json "$WORK/tree.ckpt" >"$WORK/inspect.json" || fail "ckpt inspect --json exited $?"

python3 - "$WORK/inspect.txt" "$WORK/inspect.json" "$root" "$kid" <<'PY' || fail "ckpt inspect --json lacks what ckpt inspect shows"
import json, re, sys
text = open(sys.argv[1]).read()
j = json.load(open(sys.argv[2]))
root, kid = int(sys.argv[3]), int(sys.argv[4])
def check(cond, what):
    if not cond:
        print("MISSING:", what, file=sys.stderr)
        sys.exit(1)

# The tree: every member, with its own records.
check([m["pid"] for m in j["tree"]] == [root, kid], "tree pids %s" % [m["pid"] for m in j["tree"]])
check(re.search(r"member 1: pid %d, child of pid %d" % (kid, root), text), "the text's tree line")
blocks = re.split(r"^--- member \d+\n", text, flags=re.M)[1:]
check(len(blocks) == 2, "two member blocks in the text")
for m, block in zip(j["tree"], blocks):
    img = m["image"]
    check(img is not None and img["process"]["pid"] == m["pid"], "member %d's image" % m["pid"])
    n = int(re.search(r"^files: (\d+) open files", block, re.M).group(1))
    check(len(img["fds"]) == n, "member %d: %d fds, text says %d" % (m["pid"], len(img["fds"]), n))
    n = int(re.search(r"^memory areas \((\d+)\)", block, re.M).group(1))
    check(len(img["vmas"]) == n, "member %d: vmas" % m["pid"])
    tids = [int(t) for t in re.findall(r"^thread (\d+):", block, re.M)]
    check([t["tid"] for t in img["threads"]] == tids, "member %d: threads" % m["pid"])
    for t in img["threads"]:
        for k in ("orig_rax", "rax", "sigmask", "pending", "altstack_sp", "rseq", "robust_list", "clear_child_tid", "cached_tid_address"):
            check(k in t, "thread field " + k)
    brk = re.search(r"^mm: code .* brk 0x([0-9a-f]+)-0x([0-9a-f]+)", block, re.M)
    check(brk and img["mm"]["brk"] == int(brk.group(2), 16), "member %d: mm brk" % m["pid"])
    handlers = int(re.search(r", (\d+) signal handlers \((\d+) ignored\)", block).group(1))
    check(img["task"]["signal_handlers"] == handlers, "member %d: signal handlers" % m["pid"])
    pages = int(re.search(r"^pages: (\d+) ", block, re.M).group(1))
    check(img["pages"] == pages, "member %d: pages" % m["pid"])

# Descriptors: fd 45 with its duplicate 47, an outside end, and the flags restore needs.
fd45 = [f for f in j["fds"] if f["fd"] == 45]
check(fd45 and fd45[0]["kind"] == "pipe" and fd45[0]["external"] and fd45[0]["dups"] == [47], "fd 45+47: %s" % fd45)
check(re.search(r"\b45\+47 pipe\b", text), "the text's 45+47")
check(j["outside_pipe_ends"] == [45], "outside_pipe_ends")
check(j["outside_ends"] == [{"fd": 45, "kind": "pipe", "restore_flags": ["--inherit-fd 45", "--external-fds=null"]}],
      "outside_ends %s" % j["outside_ends"])
check("outside pipe end: fd 45 (its other end was not in the process): restore needs --inherit-fd 45 or --external-fds=null" in text,
      "the text's outside pipe end")
kid_img = j["tree"][1]["image"]
check([e["fd"] for e in kid_img["outside_ends"]] == [45], "the child's outside ends %s" % kid_img["outside_ends"])

# Sections: the same list, with checksums.
sec = re.findall(r"^  (\S+) +at +(\d+) +(\d+) bytes  xxh3 ([0-9a-f]{16})", text, re.M)
check(len(sec) == len(j["sections"]), "section count")
for (name, off, length, xxh), s in zip(sec, j["sections"]):
    check(s["type"] == name and s["offset"] == int(off) and s["length"] == int(length), "section " + name)
    check(int(s["checksum"], 16) == int(xxh, 16), "section %s checksum" % name)
print("inspect --json: %d members, %d sections, fds %s" % (len(j["tree"]), len(j["sections"]), [f["fd"] for f in j["fds"]]))
PY
log "PASS"
