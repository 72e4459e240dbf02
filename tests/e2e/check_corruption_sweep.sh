#!/usr/bin/env bash
# Corruption sweep: every damaged copy of a real image is refused, cleanly
# and fast, by both `restore` and `ckpt verify`. For a zstd and a raw image
# of a sleeping process, one byte is flipped at each of hundreds of offsets
# spread over the whole file (header, every section header and payload, page
# data, page index, trailer), and the file is cut at a hundred lengths. Each
# variant must get exit status 1..125 (no signal), one line on stderr,
# nothing on stdout (restore never became the program: its ticks would show
# there), within 1 s; a run still going after 5 s is a hang.
# Not flipped: the 0-7 alignment bytes between sections and the zero padding
# before raw chunks, which no reader uses (docs/format.md §1, §6.2); `ckpt
# verify` covers the padding through the page_data checksum.
# A flip inside a chunk's page data passes phase 1 and is caught by the
# chunk's checksum while staging, before the point of no return (exit 1).
source "$(dirname "$0")/lib.sh"

FLIPS=${FLIPS:-300}   # flipped bytes per image
CUTS=${CUTS:-100}     # truncations per image

sweep() {  # IMAGE LABEL
  /usr/bin/python3 - "$1" "$2" "$RESTORE" "$CKPT" "$FLIPS" "$CUTS" "$WORK" <<'PY'
import os, struct, subprocess, sys, time
img, label, restore, ckpt, nflips, ncuts, work = sys.argv[1:8]
nflips, ncuts = int(nflips), int(ncuts)
data = open(img, "rb").read()
size = len(data)

# Bytes that mean something: header, each section (header + payload, minus
# the raw-chunk padding in page data), trailer. From the trailer, so that
# this does not trust the code under test.
trailer = struct.unpack_from("<Q", data, 24)[0]
count = struct.unpack_from("<I", data, trailer + 8)[0]
sections = []
for i in range(count):
    typ, _, off, length, _ = struct.unpack_from("<IIQQQ", data, trailer + 16 + 32 * i)
    sections.append((typ, off, length))
meaningful = bytearray(size)
def mark(a, b):
    meaningful[a:b] = b"\1" * (b - a)
mark(0, 64)
mark(trailer, size)
names = {1: "process", 2: "mm", 3: "vmas", 4: "threads", 5: "page_index", 6: "page_data"}
where = []  # (start, end, name) for reporting
for typ, off, length in sections:
    name = names.get(typ, "section %d" % typ)
    if typ == 6:
        mark(off, off + 32)
    else:
        mark(off, off + 32 + length)
    where.append((off, off + 32 + length, name))
    if typ == 5:  # page index: u32 count, then 40-byte records
        n = struct.unpack_from("<I", data, off + 32)[0]
        for k in range(n):
            vaddr, npages, enc, coff, stored, _ = struct.unpack_from("<QIIQQQ", data, off + 36 + 40 * k)
            mark(coff, coff + stored)
where += [(0, 64, "file header"), (trailer, size, "trailer")]
def region(o):
    for a, b, name in where:
        if a <= o < b:
            return name
    return "gap"

offsets = []
for i in range(nflips):
    o = i * size // nflips
    while o < size and not meaningful[o]:
        o += 1
    if o < size and (not offsets or offsets[-1] != o):
        offsets.append(o)
for a, b, name in where:  # the first and last byte of every part, too
    for o in (a, b - 1):
        if meaningful[o] and o not in offsets:
            offsets.append(o)
cuts = sorted(set([0, 1, 7, 8, 63, 64, 65, size - 8, size - 1] + [i * size // ncuts for i in range(ncuts)]))

path = os.path.join(work, "variant.ckpt")
problems, tried, refused, slowest = [], 0, 0, 0.0
def check(what, blob):
    global tried, refused, slowest
    with open(path, "wb") as f:
        f.write(blob)
    tried += 1
    ok = True
    for cmd in ([restore, path], [ckpt, "verify", path]):
        t0 = time.monotonic()
        try:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=5)
        except subprocess.TimeoutExpired:
            problems.append("%s: %s hung (killed after 5 s)" % (what, os.path.basename(cmd[0])))
            ok = False
            continue
        dt = time.monotonic() - t0
        slowest = max(slowest, dt)
        err = r.stderr.decode(errors="replace").strip().splitlines()
        who = " ".join(os.path.basename(c) for c in cmd[:2] if c != path)
        if not (1 <= r.returncode <= 125):
            problems.append("%s: %s exit status %d %s" % (what, who, r.returncode, err[:2]))
            ok = False
        elif r.stdout:
            problems.append("%s: %s printed on stdout: %r" % (what, who, r.stdout[:80]))
            ok = False
        elif len(err) != 1:
            problems.append("%s: %s printed %d lines on stderr: %s" % (what, who, len(err), err[:3]))
            ok = False
        elif dt > 1.0:
            problems.append("%s: %s took %.2f s" % (what, who, dt))
            ok = False
    refused += ok
for o in offsets:
    b = bytearray(data)
    b[o] ^= 0xFF if o % 2 else 0x01  # the whole byte, or its lowest bit
    check("byte %d (%s) flipped" % (o, region(o)), bytes(b))
for c in cuts:
    check("cut to %d of %d bytes" % (c, size), data[:c])
skipped = size - sum(meaningful)
print("%s image (%d bytes): %d variants tried (%d flips, %d truncations), %d refused cleanly by both restore and "
      "verify; slowest run %.3f s; %d unused padding bytes not flipped"
      % (label, size, tried, len(offsets), len(cuts), refused, slowest, skipped))
for p in problems[:40]:
    print("  PROBLEM: " + p)
sys.exit(1 if problems else 0)
PY
}

start run "$PROGRAMS/sleeper" 1000
sleep 0.3
dump run "$WORK/zstd.ckpt"
COMPRESS=none
start run2 "$PROGRAMS/sleeper" 1000
sleep 0.3
dump run2 "$WORK/raw.ckpt"
verify "$WORK/zstd.ckpt"
verify "$WORK/raw.ckpt"

status=0
sweep "$WORK/zstd.ckpt" zstd | tee "$WORK/sweep-zstd.log" || status=1
sweep "$WORK/raw.ckpt" raw | tee "$WORK/sweep-raw.log" || status=1
((status == 0)) || fail "some corrupted images were not refused cleanly (see above)"
log "PASS"
