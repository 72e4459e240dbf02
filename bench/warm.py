"""Warm starts (issue 18), the group `--only=warm` of bench/bench.py.

Three real programs, each until it answers one request: python3 with numpy and five more modules imported
(bench/warm_python.py), a JVM with about 50 MB of heap in use (bench/warm_java.java), node with 20 modules and a
500000-key object (bench/warm_node.js). Each is started once, answers a first request, and is dumped right after
(left running; then ended): a zstd:3 image (the default) and a raw one. Then, interleaved, medians of several runs:

  cold     the program started from scratch, until its answer arrives;
  zstd     restore of the default image, until the restored program's answer arrives;
  raw      restore of the raw image;
  lazy     restore --lazy of the raw image;
  learned  restore --lazy of a copy of the raw image beside which `restore --lazy --learn` (run once before,
           untimed) left its working set (IMAGE.ws).

Every run is checked: the answer's digest must be the one the program gave before the dump (tlaunch's SUM), and
the learned case must say (once, with --verbose) that it brought its working set in. One more untimed --verbose
`restore --lazy` of the raw image, background copying held back, says how many page faults the program takes
until it answers without a working set.
CKPT_BENCH_WARM=python3 (a comma-separated list) runs only those programs.
"""
import os
import select
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# name, command (given tools dir), runs, target for the default image and for --lazy (fractions of cold)
def cases(tools):
    java = subprocess.run(["sh", "-c", "command -v java"], capture_output=True, text=True).stdout.strip()
    node = subprocess.run(["sh", "-c", "command -v node || command -v nodejs"], capture_output=True,
                          text=True).stdout.strip()
    return [
        ("python3", ["/usr/bin/python3", os.path.join(HERE, "warm_python.py")], 7, 0.15, 0.10),
        ("java", [java, "-cp", tools, "WarmJava"], 5, 0.20, None),
        ("node", [node, os.path.join(HERE, "warm_node.js")], 5, 0.20, None),
    ]


def first_answer(b, name, cmd):
    """Starts the program, asks once, returns (process, digest) with the program waiting for its next request."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         close_fds=True)
    p.stdin.write(b"go\n")
    p.stdin.flush()
    t = p.stdout.readline().decode().split()
    s = p.stdout.readline().decode().split()
    if len(t) != 2 or t[0] != "T" or len(s) != 2 or s[0] != "SUM":
        sys.exit(f"bench: warm {name}: no answer from {' '.join(cmd)} ({t} {s})")
    # Until it waits in read(0) again (its answer written, nothing running).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        st = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()[0]
        if st == "S":
            break
        time.sleep(0.01)
    time.sleep(0.2)  # its other threads (JIT, GC) settle too
    return p, s[1]


def learn(b, name, img, expect):
    """restore --lazy --learn once (untimed): the answer must be right and IMAGE.ws must appear."""
    ws = img + ".ws"
    if os.path.exists(ws):
        os.unlink(ws)
    p = subprocess.Popen([*b.restore_cmd, "--lazy", "--learn", "--verbose", img], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True)
    p.stdin.write(b"go\n")
    p.stdin.flush()
    got = [p.stdout.readline().decode().split() for _ in range(2)]
    if got[1] != ["SUM", expect]:
        sys.exit(f"bench: warm {name}: the --learn restore answered {got}, expected SUM {expect}")
    deadline = time.monotonic() + 60
    while not os.path.exists(ws) and time.monotonic() < deadline:
        time.sleep(0.05)
    p.stdin.close()
    p.wait(timeout=60)
    err = p.stderr.read().decode()
    if not os.path.exists(ws):
        sys.exit(f"bench: warm {name}: restore --lazy --learn left no {ws}: {err.strip()}")
    return next((l for l in err.splitlines() if "recorded in" in l), "?")


def uses_working_set(b, name, img, expect):
    """One untimed --verbose restore: it must bring the working set in and answer right."""
    r = subprocess.run([*b.restore_cmd, "--lazy", "--verbose", img], input=b"go\n", capture_output=True,
                       timeout=120)
    out, err = r.stdout.decode().split(), r.stderr.decode()
    if "SUM" not in out or out[out.index("SUM") + 1] != expect:
        sys.exit(f"bench: warm {name}: a --lazy restore with the working set answered {out}, expected SUM {expect}")
    line = next((l for l in err.splitlines() if "pages copied" in l), None)
    if not line:
        sys.exit(f"bench: warm {name}: restore --lazy did not bring the working set in: {err.strip()}")
    return line


def plain_lazy_faults(b, name, img, expect):
    """One untimed `restore --lazy --verbose` without a working set and with background copying held back 2 s
    (CKPT_LAZY_PREFETCH_DELAY_MS): how many page-server round trips the program needs until it answers, whatever
    the race between it and background copying (said when the server is done: the program waits for its next
    request meanwhile, and its stdin stays open until then, so that no exit path adds faults)."""
    p = subprocess.Popen([*b.restore_cmd, "--lazy", "--verbose", img], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, close_fds=True,
                         env={**os.environ, "CKPT_LAZY_PREFETCH_DELAY_MS": "2000"})
    p.stdin.write(b"go\n")
    p.stdin.flush()
    got = [p.stdout.readline().decode().split() for _ in range(2)]
    if got[1] != ["SUM", expect]:
        sys.exit(f"bench: warm {name}: a plain --lazy restore answered {got}, expected SUM {expect}")
    line, buf = None, b""
    deadline = time.monotonic() + 60
    while line is None and time.monotonic() < deadline:
        if not select.select([p.stderr], [], [], 1)[0]:
            continue
        chunk = os.read(p.stderr.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        line = next((l for l in buf.decode(errors="replace").splitlines() if "page faults of the restored" in l), None)
    p.stdin.close()
    p.wait(timeout=60)
    if line is None:
        sys.exit(f"bench: warm {name}: restore --lazy --verbose did not say how many faults it served")
    return line.replace("restore --lazy: ", "restore --lazy (no working set, background copying held 2 s): ")


def run_case(b, name, cmd, runs):
    if b.quick:
        runs = 2
    # Each image from a program of its own, right after its first answer: a dump stops every thread for a
    # moment (a JVM's or node's threads then have work to catch up on), so a second dump of the same process
    # would catch it in a state no first dump sees.
    images = {}
    for kind, compress in (("zstd", "zstd:3"), ("raw", "none")):
        p, s1 = first_answer(b, name, cmd)
        images[kind] = b.dump(p.pid, os.path.join(b.work, f"warm-{name}.{kind}.ckpt"), compress)
        p.stdin.close()
        p.wait(timeout=60)
        if kind == "raw" and s1 != s:
            sys.exit(f"bench: warm {name}: two starts answered differently ({s} and {s1})")
        s = s1
    zst, raw = images["zstd"], images["raw"]
    learned = os.path.join(b.work, f"warm-{name}.learned.ckpt")
    if os.path.exists(learned):
        os.unlink(learned)
    os.link(raw, learned)  # the same image under another name: the plain lazy case has no working set beside it
    for f in (zst, raw):
        b.page_cache(f)
    learned_line = learn(b, name, learned, s)
    used_line = uses_working_set(b, name, learned, s)
    plain_line = plain_lazy_faults(b, name, raw, s)

    def answered(kv):
        kv["ms"] = kv["sum_ms"]  # until the answer arrived, not only until the program ran
        return kv

    res = b.interleaved(f"warm {name}", runs, {
        "cold": lambda: answered(b.tlaunch(cmd, expect_sum=s)),
        "zstd": lambda: answered(b.tlaunch([*b.restore_cmd, zst], expect_sum=s)),
        "raw": lambda: answered(b.tlaunch([*b.restore_cmd, raw], expect_sum=s)),
        "lazy": lambda: answered(b.tlaunch([*b.restore_cmd, "--lazy", raw], expect_sum=s)),
        "learned": lambda: answered(b.tlaunch([*b.restore_cmd, "--lazy", learned], expect_sum=s)),
    })
    res["sizes"] = (os.path.getsize(zst), os.path.getsize(raw))
    res["notes"] = (plain_line, learned_line, used_line)
    res["runs"] = runs
    return res


def rows(b, results, med):
    L = []
    L.append(f"{'benchmark':<49}{'ckpt':>9}{'baseline':>10}  {'ratio':>6}  {'target':<7} verdict")

    def row(tag, label, ck, base, target=None):
        r = ck / base
        v = ("holds" if r <= target else "MISSED") if target else "(info)"
        t = f"<= {target:g}" if target else ""
        L.append(f"{tag:<2} {label:<46}{ck:9.1f}{base:10.1f}  {r:6.2f}  {t:<7} {v}")

    for name, res, zt, lt in results:
        cold = med(res["cold"])
        zs, rs = res["sizes"]
        L.append(f"w  {name}: images zstd:3 {zs / 2**20:.1f} MiB, raw {rs / 2**20:.1f} MiB; medians of "
                 f"{res['runs']} runs, ms until the answer arrived")
        row("w", f"{name} restore zstd:3 (vs cold start)", med(res["zstd"]), cold, zt)
        row("w", f"{name} restore raw (vs cold start)", med(res["raw"]), cold)
        row("w", f"{name} restore --lazy raw (vs cold start)", med(res["lazy"]), cold, lt)
        row("w", f"{name} --lazy, learned working set (vs cold)", med(res["learned"]), cold, lt)
        row("w", f"{name} --lazy, learned (vs plain --lazy)", med(res["learned"]), med(res["lazy"]), 0.7)
        for note in res["notes"]:
            L.append(f"w    {note}")
    return L


def plot(results, med, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = [("cold", "cold start", "0.5"), ("zstd", "restore, zstd:3 image", "tab:red"),
            ("raw", "restore, raw image", "tab:blue"), ("lazy", "restore --lazy, raw", "tab:green"),
            ("learned", "restore --lazy, learned working set", "tab:olive")]
    fig, ax = plt.subplots(figsize=(9.5, 4.5))
    width = 0.16
    for k, (key, label, color) in enumerate(keys):
        xs = [i + (k - 2) * width for i in range(len(results))]
        ys = [med(res[key]) for _, res, _, _ in results]
        bars = ax.bar(xs, ys, width, label=label, color=color)
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=1)
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels([name for name, _, _, _ in results])
    ax.set_ylabel("ms until the program answers (median, log scale)")
    ax.set_yscale("log")
    ax.set_title("Warm starts: cold start against restore of an image taken right after the first answer")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def run(b, med, png=None):
    """The group: returns the table's lines (and writes the plot to png, if given)."""
    results = []
    # CKPT_BENCH_WARM=python3,node: only those programs (while working on one; a full run measures all three).
    only = [p for p in os.environ.get("CKPT_BENCH_WARM", "").split(",") if p]
    for name, cmd, runs, zt, lt in cases(b.tools):
        if only and name not in only:
            continue
        print(f"warm start: {name}...", file=sys.stderr)
        results.append((name, run_case(b, name, cmd, runs), zt, lt))
    if png:
        plot(results, med, png)
    return rows(b, results, med)
