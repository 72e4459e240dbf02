#!/usr/bin/env bash
# Corruption sweep: damaged copies of a real image, of two kinds, given to
# both `restore` and `ckpt verify`, for a zstd and a raw image of a
# sleeping process.
#
# 1. Structure-aware mutants (tests/tools/image_mutate, MUTANTS per image
#    and seed):
#    a decoded field set to a boundary value and the image encoded again, a
#    value written into a metadata section, a page index record changed, a
#    byte of a chunk's stored bytes changed -- each with every checksum
#    recomputed, so that it reaches the decoders, the semantic rules and the
#    machine checks instead of stopping at a checksum. Each mutant must be
#    either refused (exit 1, one line on stderr, nothing on stdout), or
#    restored: `restore --verbose` says it reached its point of no return,
#    and from then on it is the saved program, changed as the mutant says
#    (it may tick on, exit, or die of a signal: the image is honest about
#    a different program). Never: a crash, a hang, another exit status, or
#    exit 120 (a failure after the point of no return: something that
#    could have been checked before was not). `ckpt verify` must accept or
#    refuse (exit 0, or 1 with one line), and must not refuse what restore
#    restored; `restore --check` (same checks as restore) must accept what
#    restore restored and refuse what restore refused with exit 1.
# 2. Blind damage, which the checksums must catch: one byte flipped at each
#    of FLIPS offsets spread over the whole file (header, every section
#    header and payload, page data, page index, trailer), and the file cut
#    at CUTS lengths. Each must be refused: exit status 1..125 (no signal),
#    one line on stderr, nothing on stdout (restore never became the
#    program: its ticks would show there).
# A run still going after 10 s (before any point of no return) is a hang.
# Not flipped: the 0-7 alignment bytes between sections and the zero padding
# before raw chunks, which no reader uses (docs/format.md §1, §6.2); `ckpt
# verify` covers the padding through the page_data checksum.
# A flip inside a chunk's page data passes phase 1 and is caught by the
# chunk's checksum while staging, before the point of no return (exit 1).
source "$(dirname "$0")/lib.sh"

MUTANTS=${MUTANTS:-200}  # structure-aware mutants per image and seed
FLIPS=${FLIPS:-150}      # flipped bytes per image
CUTS=${CUTS:-60}         # truncations per image
# image_mutate's seeds: the same mutants every run. Each of these found a
# bug: 1 a file mapping's offset past the file's end (SIGBUS) and zstd
# chunks restore --check accepted; 9 a pipe size restore --check accepted.
SEEDS=${SEEDS:-${SEED:-1 9}}
MUTATE="$PROGRAMS/../tools/image_mutate"
# Problems the sweep finds that belong to a bullet of issue 16 another
# helper is fixing: a regex, reported as KNOWN, loudly, not as failures.
# Empty: the one it held (SIGBUS from a file mapping's offset past the
# file's end) is fixed.
KNOWN=''
[[ -x $MUTATE ]] || fail "image_mutate not built at $MUTATE"

sweep() {  # IMAGE LABEL
  local seed
  : >"$WORK/mutants-$2.list"
  for seed in $SEEDS; do
    mkdir -p "$WORK/mutants-$2/$seed"
    "$MUTATE" "$1" "$WORK/mutants-$2/$seed" "$MUTANTS" "$seed" 2>"$WORK/mutate.err" | sed "s|^|$seed/|" \
      >>"$WORK/mutants-$2.list" && [[ ! -s $WORK/mutate.err ]] ||
      fail "image_mutate $1 (seed $seed) failed: $(cat "$WORK/mutate.err")"
  done
  /usr/bin/python3 - "$1" "$2" "$RESTORE" "$CKPT" "$FLIPS" "$CUTS" "$WORK" "$WORK/mutants-$2" "$KNOWN" <<'PY'
import os, re, signal, struct, subprocess, sys, time
img, label, restore, ckpt, nflips, ncuts, work, mutdir, known = sys.argv[1:10]
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

def lines_of(b):
    """The lines of what a program wrote: split at newlines only (a path in
    a message may hold other control characters; they are not line ends)."""
    t = b.decode(errors="replace").strip("\n")
    return t.split("\n") if t else []

path = os.path.join(work, "variant.ckpt")
problems, tried, refused, slowest = [], 0, 0, 0.0
HANG = 10.0

def verify(what, p):
    """ckpt verify: exit 0, or 1 with one line; returns the exit status."""
    try:
        r = subprocess.run([ckpt, "verify", p], stdin=subprocess.DEVNULL, capture_output=True, timeout=HANG)
    except subprocess.TimeoutExpired:
        problems.append("%s: ckpt verify hung (killed after %d s)" % (what, HANG))
        return None
    err = lines_of(r.stderr)
    if r.returncode == 0:
        return 0
    if r.returncode != 1 or r.stdout or len(err) != 1:
        problems.append("%s: ckpt verify exit status %d, %d lines on stderr %s, stdout %r"
                        % (what, r.returncode, len(err), err[:2], r.stdout[:80]))
    return r.returncode

def restore_run(p):
    """Runs restore --verbose on p. Returns (outcome, rc, stderr lines, stdout, seconds);
    outcome: 'exited', 'restored' (reached its point of no return), or 'hung'."""
    t0 = time.monotonic()
    errf = open(os.path.join(work, "restore.err"), "w+b")
    outf = open(os.path.join(work, "restore.out"), "w+b")
    proc = subprocess.Popen([restore, "--verbose", p], stdin=subprocess.DEVNULL, stdout=outf, stderr=errf,
                            cwd=work, start_new_session=True)
    ponr_at = None
    while True:
        rc = proc.poll()
        errf.seek(0)
        err = errf.read()
        if ponr_at is None and b"restore: home at" in err:
            ponr_at = time.monotonic()
        if rc is not None:
            break
        now = time.monotonic()
        outf.seek(0)
        if ponr_at is not None and (outf.read() or now - ponr_at > 3):
            os.killpg(proc.pid, signal.SIGKILL)  # the restored program, running
            proc.wait()
            rc = None
            break
        if ponr_at is None and now - t0 > HANG:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return "hung", None, [], b"", now - t0
        time.sleep(0.002)
    dt = time.monotonic() - t0
    errf.seek(0)
    outf.seek(0)
    err = lines_of(errf.read())
    out = outf.read()
    errf.close()
    outf.close()
    if ponr_at is not None:
        return "restored", rc, err, out, dt
    return "exited", rc, err, out, dt

restored = {"ticking": 0, "exited": 0, "signal": 0}
mutants_refused = 0
def check_only(what, p):
    """restore --check: exit 0, or 1 with one line; returns the exit status."""
    try:
        r = subprocess.run([restore, "--check", p], stdin=subprocess.DEVNULL, capture_output=True, timeout=HANG,
                           cwd=work)
    except subprocess.TimeoutExpired:
        problems.append("%s: restore --check hung (killed after %d s)" % (what, HANG))
        return None
    err = lines_of(r.stderr)
    if r.returncode not in (0, 1) or (r.returncode == 1 and (r.stdout or len(err) != 1)):
        problems.append("%s: restore --check exit status %d, %d lines on stderr %s" % (what, r.returncode, len(err), err[:2]))
    return r.returncode

def mutant(what, p):
    global slowest, mutants_refused
    outcome, rc, err, out, dt = restore_run(p)
    v = verify(what, p)
    c = check_only(what, p)
    # restore --check runs the same checks as restore: it accepts exactly
    # the images restore takes past its point of no return.
    if outcome == "restored" and c == 1:
        problems.append("%s: restore --check refused an image that restore restored" % what)
    elif outcome == "exited" and rc == 1 and c == 0:
        problems.append("%s: restore --check accepted an image that restore refused: %s" % (what, err[:1]))
    if outcome == "hung":
        problems.append("%s: restore hung (killed after %d s, before any point of no return)" % (what, HANG))
    elif outcome == "restored":
        # Only what restore said after its point of no return ("home at"
        # comes last before the jump; --verbose's earlier lines are not errors).
        ponr = next((i for i, l in enumerate(err) if l.startswith("restore: home at")), -1)
        after = [l for l in err[ponr + 1:] if not l.startswith("restore: warning: ")]
        if rc == 120 or any(l.startswith("restore: ") for l in after):
            problems.append("%s: restore failed after its point of no return (exit %s): %s" % (what, rc, err[:3]))
        elif v not in (0, None):
            problems.append("%s: ckpt verify refused an image that restore restored" % what)
        elif rc is None:
            restored["ticking"] += 1
        elif rc < 0:
            restored["signal"] += 1
        else:
            restored["exited"] += 1
    else:
        slowest = max(slowest, dt)
        if rc < 0:
            problems.append("%s: restore died of signal %d before its point of no return %s" % (what, -rc, err[:2]))
        elif rc != 1:
            problems.append("%s: restore exit status %d, expected 1 or a restore: %s" % (what, rc, err[:2]))
        elif out:
            problems.append("%s: restore printed on stdout: %r" % (what, out[:80]))
        elif len(err) != 1:
            problems.append("%s: restore printed %d lines on stderr: %s" % (what, len(err), err[:3]))
        else:
            mutants_refused += 1

def check(what, blob):
    global tried, refused, slowest
    with open(path, "wb") as f:
        f.write(blob)
    tried += 1
    ok = True
    for cmd in ([restore, path], [ckpt, "verify", path]):
        t0 = time.monotonic()
        try:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=HANG)
        except subprocess.TimeoutExpired:
            problems.append("%s: %s hung (killed after %d s)" % (what, os.path.basename(cmd[0]), HANG))
            ok = False
            continue
        dt = time.monotonic() - t0
        slowest = max(slowest, dt)
        err = lines_of(r.stderr)
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
    refused += ok

listing = [l.rstrip("\n").split("\t", 1) for l in open(mutdir + ".list")]
for n, what in listing:
    mutant("mutant %s (%s)" % (n, what), os.path.join(mutdir, n + ".ckpt"))  # n: SEED/NUMBER
for o in offsets:
    b = bytearray(data)
    b[o] ^= 0xFF if o % 2 else 0x01  # the whole byte, or its lowest bit
    check("byte %d (%s) flipped" % (o, region(o)), bytes(b))
for c in cuts:
    check("cut to %d of %d bytes" % (c, size), data[:c])
skipped = size - sum(meaningful)
print("%s image (%d bytes): %d structure-aware mutants: %d refused cleanly, restored %d (ticking on %d, the "
      "changed program exited %d, died of a signal %d); %d blind variants (%d flips, %d truncations), %d refused "
      "cleanly by both restore and verify; slowest refusal %.3f s; %d unused padding bytes not flipped"
      % (label, size, len(listing), mutants_refused, sum(restored.values()), restored["ticking"], restored["exited"],
         restored["signal"], tried, len(offsets), len(cuts), refused, slowest, skipped))
known_problems = [p for p in problems if known and re.search(known, p)]
problems = [p for p in problems if p not in known_problems]
for p in known_problems[:20]:
    print("  KNOWN PROBLEM (issue 16, being fixed by another bullet): " + p)
for p in problems[:60]:
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
