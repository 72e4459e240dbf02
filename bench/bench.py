#!/usr/bin/env python3
"""ckpt benchmarks (issue 7). Run through bench/run.sh, which builds what this needs.

    bench.py --build BUILD_DIR --tools TOOL_DIR --work WORK_DIR [--png PATH] [--quick]

Every baseline is measured in the same run as the thing it is compared with,
and the runs are interleaved (baseline, ckpt, baseline, ckpt, ...) so that a
drift of the machine during the run hits both sides alike. Each figure is the
median of several runs after one discarded warm-up run.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time


def die(msg):
    sys.exit("bench: " + msg)


class Bench:
    def __init__(self, a):
        self.build, self.tools, self.work = a.build, a.tools, a.work
        self.ckpt = os.path.join(self.build, "dumper", "ckpt")
        self.restore = os.path.join(self.build, "restorer", "restore")
        # The restored programs print CLOCK_MONOTONIC timestamps that tlaunch
        # compares with its own: they must read the host's clock, not the
        # time namespace continuing the dump's (docs/architecture.md, "Clocks").
        self.restore_cmd = [self.restore, "--host-clocks"]
        self.quick = a.quick
        self.idle_budget = float(os.environ.get("CKPT_BENCH_IDLE_WAIT", "600"))
        self.busy_groups = []
        # CKPT_BENCH_RT=1: tlaunch runs every timed process SCHED_FIFO (see
        # tlaunch.c), so a busy machine is noted but not waited for.
        self.rt = os.environ.get("CKPT_BENCH_RT", "0") not in ("", "0")
        os.makedirs(self.work, exist_ok=True)

    def tool(self, name):
        return os.path.join(self.tools, name)

    # --- processes -------------------------------------------------------
    def start_hog(self, mib, mode):
        """Starts the hog and waits until its memory is filled; it then waits in read(0)."""
        p = subprocess.Popen([self.tool("hog"), str(mib), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, close_fds=True)
        line = p.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "READY":
            die(f"hog {mib} {mode} did not start")
        return p, line[1]

    @staticmethod
    def stop_hog(p):
        p.stdin.close()  # EOF: the hog exits by itself
        p.wait(timeout=60)

    def dump(self, pid, out, compress):
        if os.path.exists(out):
            os.unlink(out)
        r = subprocess.run([self.ckpt, "dump", str(pid), "-o", out, "--compress", compress],
                           capture_output=True, text=True)
        if r.returncode != 0:
            die(f"ckpt dump failed: {r.stderr.strip()}")
        return out

    @staticmethod
    def page_cache(path):
        """Reads the file once so that it is in the page cache, as the benchmark specifies."""
        with open(path, "rb") as f:
            while f.read(8 << 20):
                pass

    def tlaunch(self, cmd, *flags, expect_sum=None):
        r = subprocess.run([self.tool("tlaunch"), *flags, "--", *cmd], capture_output=True, text=True)
        kv = dict(x.split("=", 1) for x in r.stdout.split())
        if r.returncode != 0 or kv.get("status") != "0" or int(kv.get("lat_ns", -1)) < 0:
            die(f"{' '.join(cmd)} failed: {r.stdout.strip()} {r.stderr.strip()}")
        if expect_sum is not None and kv.get("sum") != expect_sum:
            die(f"{' '.join(cmd)}: restored memory differs (checksum {kv.get('sum')}, expected {expect_sum})")
        kv["ms"] = int(kv["lat_ns"]) / 1e6
        if "sum_ns" in kv:
            kv["sum_ms"] = int(kv["sum_ns"]) / 1e6
        return kv

    def wait_idle(self, label):
        """Waits until the rest of the machine leaves the CPUs alone.

        restore stages on every core, so anything else running steals from it
        far more than from the single-threaded floor; a busy machine makes the
        ratios meaningless. Before each group of runs, CPU use is sampled over
        2 s from /proc/stat and we wait (at most CKPT_BENCH_IDLE_WAIT seconds
        over the whole run, default 600) until it is under 15 %. Groups that
        had to start on a busy machine are counted in the output."""
        def sample():
            v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
            return sum(v), v[3] + v[4]  # total, idle + iowait
        while True:
            t0, i0 = sample()
            time.sleep(2)
            t1, i1 = sample()
            busy = 1 - (i1 - i0) / max(1, t1 - t0)
            if busy < 0.15:
                return
            if self.idle_budget <= 0 or self.rt:
                self.busy_groups.append(f"{label} ({busy:.0%} busy)")
                return
            print(f"  waiting for an idle machine before '{label}': CPUs {busy:.0%} busy", file=sys.stderr)
            time.sleep(8)
            self.idle_budget -= 10

    def interleaved(self, label, runs, cases):
        """cases: name -> function returning a result dict with "ms". One warm-up round is discarded.
        Every run's time goes to stderr, so an outlier (the machine is shared) is visible."""
        self.wait_idle(label)
        res = {k: [] for k in cases}
        for i in range(runs + 1):
            for k, f in cases.items():
                r = f()
                if i:
                    res[k].append(r)
        for k, rs in res.items():
            print(f"  {label} {k}: median {med(rs):.1f} ms; runs " + " ".join(f"{r['ms']:.1f}" for r in rs),
                  file=sys.stderr)
        return res

    # --- benchmarks ------------------------------------------------------
    def restore_sweep(self, sizes):
        """a, d and e: restore latency and restore's extra memory per size, random data; restore --lazy of
        the raw image against fork+exec of a static no-op. The restored hog checksums its whole memory after
        its timestamp, so a lazy restore is checked only once every page has come in."""
        out = {}
        for mib in sizes:
            runs = 3 if mib > 256 else 5
            if self.quick:
                runs = 2
            hog, s = self.start_hog(mib, "random")
            raw = self.dump(hog.pid, os.path.join(self.work, f"r{mib}.raw.ckpt"), "none")
            zst = self.dump(hog.pid, os.path.join(self.work, f"r{mib}.zstd.ckpt"), "zstd:3")
            self.stop_hog(hog)
            self.page_cache(raw)
            self.page_cache(zst)
            res = self.interleaved(f"restore {mib} MiB random", runs, {
                "floor": lambda: self.tlaunch([self.tool("floor"), raw]),
                "raw": lambda: self.tlaunch([*self.restore_cmd, raw], "--hold", expect_sum=s),
                "zstd": lambda: self.tlaunch([*self.restore_cmd, zst], "--hold", expect_sum=s),
                "nop": lambda: self.tlaunch([self.tool("nop")]),
                "lazy": lambda: self.tlaunch([*self.restore_cmd, "--lazy", raw], expect_sum=s),
            })
            out[mib] = res
            out[mib]["runs"] = runs
            out[mib]["files"] = (raw, zst)
        return out

    def compressible(self, mib):
        """Image sizes and zstd restore for compressible (text) data."""
        hog, s = self.start_hog(mib, "text")
        raw = self.dump(hog.pid, os.path.join(self.work, f"t{mib}.raw.ckpt"), "none")
        t0 = time.monotonic_ns()
        zst = self.dump(hog.pid, os.path.join(self.work, f"t{mib}.zstd.ckpt"), "zstd:3")
        zdump_ms = (time.monotonic_ns() - t0) / 1e6
        self.stop_hog(hog)
        self.page_cache(raw)
        self.page_cache(zst)
        res = self.interleaved(f"restore {mib} MiB text", 2 if self.quick else 5, {
            "floor": lambda: self.tlaunch([self.tool("floor"), raw]),
            "zstd": lambda: self.tlaunch([*self.restore_cmd, zst], "--hold", expect_sum=s),
        })
        res["sizes"] = (os.path.getsize(raw), os.path.getsize(zst))
        res["zdump_ms"] = zdump_ms
        return res

    def small(self):
        """b: a dynamically linked 1 MiB process against fork+exec of a static no-op."""
        hog, s = self.start_hog(1, "random")
        zst = self.dump(hog.pid, os.path.join(self.work, "small.zstd.ckpt"), "zstd:3")
        raw = self.dump(hog.pid, os.path.join(self.work, "small.raw.ckpt"), "none")
        self.stop_hog(hog)
        self.page_cache(raw)
        self.page_cache(zst)
        return self.interleaved("small process", 5 if self.quick else 21, {
            "nop": lambda: self.tlaunch([self.tool("nop")]),
            "zstd": lambda: self.tlaunch([*self.restore_cmd, zst], expect_sum=s),
            "raw": lambda: self.tlaunch([*self.restore_cmd, raw], expect_sum=s),
        })

    def tiny(self):
        """i: a tiny static process (bench/tiny.c: statically linked, it has just started and waits in read(0),
        having touched no memory of its own) restored from a raw and a zstd:3 image, against fork+exec of a static
        no-op (issue 18: <= 2x). The restored program checks that it is the process that was saved (its argv,
        environment and a stack marker give the SUM line)."""
        p = subprocess.Popen([self.tool("tiny")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, close_fds=True)
        line = p.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "READY":
            die("tiny did not start")
        s = line[1]
        # It prints READY just before read(0): wait until it sleeps there, so that every image holds the same state.
        deadline = time.monotonic() + 30
        while open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "S":
            if time.monotonic() > deadline:
                die("tiny did not reach its read(0)")
            time.sleep(0.01)
        raw = self.dump(p.pid, os.path.join(self.work, "tiny.raw.ckpt"), "none")
        zst = self.dump(p.pid, os.path.join(self.work, "tiny.zstd.ckpt"), "zstd:3")
        self.stop_hog(p)
        self.page_cache(raw)
        self.page_cache(zst)
        res = self.interleaved("tiny static process", 5 if self.quick else 31, {
            "nop": lambda: self.tlaunch([self.tool("nop")]),
            "raw": lambda: self.tlaunch([*self.restore_cmd, raw], expect_sum=s),
            "zstd": lambda: self.tlaunch([*self.restore_cmd, zst], expect_sum=s),
        })
        res["sizes"] = (os.path.getsize(raw), os.path.getsize(zst))
        return res

    def dumps(self, mib):
        """c: dump of a running hog (left running) against process_vm_readv + write + fsync."""
        hog, _ = self.start_hog(mib, "random")
        ck = os.path.join(self.work, "dump.ckpt")
        vm = os.path.join(self.work, "dump.vmread")
        zs = os.path.join(self.work, "dump.zstd.ckpt")

        def fresh(path):
            # Both sides write a new file: ckpt renames its temporary file over
            # the old image, which would add the freeing of the old blocks.
            if os.path.exists(path):
                os.unlink(path)
            subprocess.run(["sync"])
            return path

        res = self.interleaved(f"dump {mib} MiB random", 2 if self.quick else 5, {
            "vmread": lambda: self.tlaunch([self.tool("vmread"), str(hog.pid), fresh(vm)], "--wall"),
            "raw": lambda: self.tlaunch([self.ckpt, "dump", str(hog.pid), "-o", fresh(ck), "--compress", "none"],
                                        "--wall"),
            "zstd": lambda: self.tlaunch([self.ckpt, "dump", str(hog.pid), "-o", fresh(zs), "--compress", "zstd:3"],
                                         "--wall"),
        })
        alive = hog.poll() is None
        self.stop_hog(hog)
        if not alive:
            die("the dumped process did not keep running")
        res["vm_bytes"] = os.path.getsize(vm)
        res["ck_bytes"] = os.path.getsize(ck)
        return res

    def freeze(self, sizes):
        """freeze (issue 17): how long `ckpt dump` keeps a running hog stopped, as the dump itself reports it
        (frozen_ms of `ckpt dump --json`: from the seize to the release), at each size: --compress zstd:19
        against --compress none of the same process, and a snapshot dump (--snapshot, zstd:3). The hog holds
        sparse data (64 random bytes a page), so that zstd:19 of a gigabyte takes seconds, not minutes; every
        page is saved all the same. ckpt and the hog run SCHED_FIFO under CKPT_BENCH_RT=1, like tlaunch's processes."""
        rt = ["chrt", "-f", "10"] if self.rt else []
        out = {}
        # A name of its own: other benchmarks on a shared machine look for "hog" by name.
        fhog = os.path.join(self.work, "freezehog")
        if not os.path.exists(fhog):
            os.symlink(self.tool("hog"), fhog)
        for mib in sizes:
            # SCHED_FIFO too under CKPT_BENCH_RT=1: a stop and a resume need the target to get a CPU.
            hog = subprocess.Popen([*rt, fhog, str(mib), "sparse"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, close_fds=True)
            if not hog.stdout.readline().startswith(b"READY"):
                die(f"hog {mib} sparse did not start")
            img = os.path.join(self.work, "freeze.ckpt")

            def run(*flags):
                if os.path.exists(img):
                    os.unlink(img)
                r = subprocess.run([*rt, self.ckpt, "dump", str(hog.pid), "-o", img, "--json", *flags],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    die(f"ckpt dump {' '.join(flags)} failed: {r.stderr.strip()}")
                d = json.loads(r.stdout)
                if d["warnings"]:
                    die(f"ckpt dump {' '.join(flags)} warned: {d['warnings']}")
                if ("--snapshot" in flags) != d["snapshot"]:
                    die(f"ckpt dump {' '.join(flags)}: snapshot {d['snapshot']}")
                # prestop_ms: a snapshot's stop before the freeze (making its userfaultfd); absent before it existed.
                return {"ms": d["frozen_ms"], "total_ms": d["seconds"] * 1000, "pages": d["pages_saved"],
                        "prestop_ms": d.get("prestop_ms", 0.0)}

            out[mib] = self.interleaved(f"freeze {mib} MiB", 2 if self.quick else 7, {
                "none": lambda: run("--compress", "none"),
                "zstd19": lambda: run("--compress", "zstd:19"),
                "snapshot": lambda: run("--compress", "zstd:3", "--snapshot"),
            })
            alive = hog.poll() is None
            self.stop_hog(hog)
            if not alive:
                die("the dumped process did not keep running")
        return out

    def verify_scaling(self):
        """g: ckpt verify of a crafted image holding N shared memory objects and their mappings, N more file
        mappings, N eventfds and an epoll fd watching them (tests/tools/image_edit bulk=N), at N = 8192 and 65536
        (the format's limit on objects): the 8x larger image must take less than 16x as long (issue 16:
        every check O(n log n); a pairwise check took 230x)."""
        edit = os.path.join(self.build, "tests", "tools", "image_edit")
        if not os.access(edit, os.X_OK):
            die(f"{edit} is not built")
        hog, _ = self.start_hog(1, "random")
        base = self.dump(hog.pid, os.path.join(self.work, "verify-base.ckpt"), "zstd:3")
        self.stop_hog(hog)
        images = {}
        for n in (8192, 65536):
            images[n] = os.path.join(self.work, f"verify-bulk-{n}.ckpt")
            r = subprocess.run([edit, base, images[n], f"bulk={n}"], capture_output=True, text=True)
            if r.returncode != 0:
                die(f"image_edit bulk={n} failed: {r.stderr.strip()}")
            self.page_cache(images[n])
        res = self.interleaved("verify crafted image", 2 if self.quick else 5, {
            "small": lambda: self.tlaunch([self.ckpt, "verify", images[8192]], "--wall"),
            "big": lambda: self.tlaunch([self.ckpt, "verify", images[65536]], "--wall"),
        })
        res["bytes"] = {n: os.path.getsize(p) for n, p in images.items()}
        return res

    # --- live migration (issue 17) ------------------------------------------
    def moved(self, proc, t0, expect_sum):
        """Reads the restored hog's "T <ns>" and "SUM <hex>": the time it ran again, checked."""
        t = sm = None
        for raw in proc.stdout:
            w = raw.decode().split()
            if len(w) == 2 and w[0] == "T":
                t = int(w[1])
            elif len(w) == 2 and w[0] == "SUM":
                sm = w[1]
                break
        if t is None or sm != expect_sum:
            die(f"the moved hog came back wrong (T {t}, SUM {sm}, expected {expect_sum})")
        proc.stdin.close()
        proc.wait(timeout=60)
        return {"ms": (t - t0) / 1e6}

    def migrate_once(self, mib, compress, token):
        """Downtime of `ckpt migrate` over loopback in a network namespace of its own: from just before
        ckpt starts (the hog is frozen soon after) until the hog runs again on the destination."""
        hog, s = self.start_hog(mib, "random")
        dest = subprocess.Popen(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                                 *self.restore_cmd, "--listen", "127.0.0.1:7100", "--token-file", token],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True)
        dest.stdin.write(b"go\n")
        dest.stdin.flush()
        if b"listening on" not in dest.stderr.readline():
            die("restore --listen did not start")
        t0 = time.monotonic_ns()
        r = subprocess.run(["nsenter", "-t", str(dest.pid), "-n", self.ckpt, "migrate", str(hog.pid),
                            "127.0.0.1:7100", "--token-file", token, "--compress", compress, "--rounds", "0"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            die(f"ckpt migrate failed: {r.stderr.strip()}")
        res = self.moved(dest, t0, s)
        hog.wait(timeout=60)  # killed by the migration
        return res

    def move_by_file(self, mib, compress):
        """The baseline: the same move through an image file on one machine (dump --kill, then restore)."""
        hog, s = self.start_hog(mib, "random")
        img = os.path.join(self.work, f"move{mib}.ckpt")
        if os.path.exists(img):
            os.unlink(img)
        t0 = time.monotonic_ns()
        r = subprocess.run([self.ckpt, "dump", str(hog.pid), "-o", img, "--kill", "--compress", compress],
                           capture_output=True, text=True)
        if r.returncode != 0:
            die(f"ckpt dump --kill failed: {r.stderr.strip()}")
        back = subprocess.Popen([*self.restore_cmd, img], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, close_fds=True)
        back.stdin.write(b"go\n")
        back.stdin.flush()
        res = self.moved(back, t0, s)
        hog.wait(timeout=60)
        return res

    def migration(self, mib):
        token = os.path.join(self.work, "token")
        with open(os.open(token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(os.urandom(24).hex())
        runs = 2 if self.quick else 5
        return self.interleaved(f"migrate {mib} MiB random", runs, {
            "file_raw": lambda: self.move_by_file(mib, "none"),
            "migrate_raw": lambda: self.migrate_once(mib, "none", token),
            "file_zstd": lambda: self.move_by_file(mib, "zstd:3"),
            "migrate_zstd": lambda: self.migrate_once(mib, "zstd:3", token),
        }), runs

    # --- post-copy migration (issue 17, ckpt migrate --lazy) ---------------
    def postcopy_once(self, mib, lazy, compress, token):
        """One `ckpt migrate [--lazy]` of a hog over loopback in a network namespace of its own.
        downtime: from just before ckpt starts until the hog runs again there (its own clock);
        total: until ckpt migrate returns (with --lazy: every page delivered there)."""
        hog, s = self.start_hog(mib, "random")
        dest = subprocess.Popen(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                                 *self.restore_cmd, "--listen", "127.0.0.1:7101", "--token-file", token],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True)
        dest.stdin.write(b"go\n")
        dest.stdin.flush()
        if b"listening on" not in dest.stderr.readline():
            die("restore --listen did not start")
        t0 = time.monotonic_ns()
        r = subprocess.run(["nsenter", "-t", str(dest.pid), "-n", self.ckpt, "migrate", str(hog.pid),
                            "127.0.0.1:7101", "--token-file", token, "--compress", compress,
                            *(["--lazy"] if lazy else ["--rounds", "0"])], capture_output=True, text=True)
        t_end = time.monotonic_ns()
        if r.returncode != 0:
            die(f"ckpt migrate {'--lazy ' if lazy else ''}failed: {r.stderr.strip()}")
        res = self.moved(dest, t0, s)  # the hog's SUM reads all its memory: every page checked there
        res["total_ms"] = (t_end - t0) / 1e6
        hog.wait(timeout=60)
        return res

    def postcopy(self, mib):
        token = os.path.join(self.work, "token")
        with open(os.open(token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(os.urandom(24).hex())
        runs = 2 if self.quick else 5
        return self.interleaved(f"postcopy {mib} MiB random", runs, {
            "full_raw": lambda: self.postcopy_once(mib, False, "none", token),
            "lazy_raw": lambda: self.postcopy_once(mib, True, "none", token),
            "full_zstd": lambda: self.postcopy_once(mib, False, "zstd:3", token),
            "lazy_zstd": lambda: self.postcopy_once(mib, True, "zstd:3", token),
        }), runs

    # --- the process tree (issue 13) ----------------------------------------
    @staticmethod
    def tree_pids(root):
        out, todo = [], [root]
        while todo:
            p = todo.pop()
            out.append(p)
            for t in os.listdir(f"/proc/{p}/task"):
                try:
                    todo += [int(c) for c in open(f"/proc/{p}/task/{t}/children").read().split()]
                except OSError:
                    pass
        return out

    def tree_pss_kb(self, root):
        """The sum of Pss: over the smaps_rollup of root and all its descendants."""
        total = 0
        for p in self.tree_pids(root):
            for line in open(f"/proc/{p}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        return total

    def wait_tree(self, root, members, what):
        """Until root's tree has `members` processes, all sleeping (set up, waiting)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                pids = self.tree_pids(root)
                states = [open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] for p in pids]
                if len(pids) == members and all(st == "S" for st in states):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        die(f"{what}: the tree of pid {root} did not come up with {members} processes")

    def tree(self, mib, n):
        """h: a root that filled MIB MiB and forked N workers sharing it copy-on-write. Restore of the tree
        (raw image) against the root forking N children (its memory already there) and against restore of one
        process holding MIB MiB alone (the hog); the tree's PSS before the dump and after a restore."""
        p = subprocess.Popen([self.tool("treehog"), str(mib), str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, close_fds=True)
        line = p.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "READY":
            die(f"treehog {mib} {n} did not start")
        s = line[1]
        self.wait_tree(p.pid, n + 1, "treehog")
        pss_before = self.tree_pss_kb(p.pid)
        img = os.path.join(self.work, f"tree{mib}.raw.ckpt")
        if os.path.exists(img):
            os.unlink(img)
        t0 = time.monotonic()
        r = subprocess.run([self.ckpt, "dump", str(p.pid), "-o", img, "--compress", "none", "--kill"],
                           capture_output=True, text=True)
        dump_ms = (time.monotonic() - t0) * 1e3
        if r.returncode != 0:
            die(f"ckpt dump of the tree failed: {r.stderr.strip()}")
        shared_note = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        p.wait(timeout=60)
        self.page_cache(img)

        # PSS after: one restore held while the tree is measured, then checked.
        back = subprocess.Popen([*self.restore_cmd, img], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, close_fds=True)
        self.wait_tree(back.pid, n + 1, "restored treehog")
        pss_after = self.tree_pss_kb(back.pid)
        back.stdin.write(b"go\n")
        back.stdin.flush()
        got = [back.stdout.readline().decode().split() for _ in range(2)]
        back.stdin.close()
        back.wait(timeout=60)
        if len(got[1]) != 2 or got[1][0] != "SUM" or got[1][1] != s:
            die(f"restored tree: memory differs ({got}, expected SUM {s})")

        hog, hs = self.start_hog(mib, "random")
        single = self.dump(hog.pid, os.path.join(self.work, f"single{mib}.raw.ckpt"), "none")
        self.stop_hog(hog)
        self.page_cache(single)

        # The baseline times itself; under CKPT_BENCH_RT=1 it runs SCHED_FIFO like tlaunch's processes.
        rt = (lambda: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))) if self.rt else None
        fk = subprocess.Popen([self.tool("treehog"), str(mib), str(n), "fork"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True, preexec_fn=rt)
        if fk.stdout.readline().decode().split()[:1] != ["READY"]:
            die("treehog fork did not start")

        def fork_n():
            fk.stdin.write(b"go\n")
            fk.stdin.flush()
            w = fk.stdout.readline().decode().split()
            if len(w) != 2 or w[0] != "FORK_NS":
                die(f"treehog fork: {w}")
            return {"ms": int(w[1]) / 1e6}

        res = self.interleaved(f"tree {mib} MiB + {n}", 2 if self.quick else 7, {
            "fork": fork_n,
            "tree": lambda: self.tlaunch([*self.restore_cmd, img], "--hold", expect_sum=s),
            "single": lambda: self.tlaunch([*self.restore_cmd, single], "--hold", expect_sum=hs),
        })
        fk.stdin.close()
        fk.wait(timeout=60)
        res.update(pss=(pss_before, pss_after), image=os.path.getsize(img), dump_ms=dump_ms, note=shared_note,
                   runs=len(res["tree"]))
        return res

    # --- restore speed (issue 18) -------------------------------------------
    def restore_speed(self):
        """r: eager restore of 1 GiB (random data, raw image) against the huge-page floor (static, MADV_HUGEPAGE
        + MADV_POPULATE_WRITE, a thread per core) and the one-core floor; then the default image (zstd:3) against
        a raw one of the same process at 1 to 1024 MiB, for compressible (text) data, whose chunks zstd really
        compresses, and at 1 and 1024 MiB for random data, which the zstd image stores raw."""
        out = {}
        hog, s = self.start_hog(1024, "random")
        raw = self.dump(hog.pid, os.path.join(self.work, "s1024.raw.ckpt"), "none")
        zst = self.dump(hog.pid, os.path.join(self.work, "s1024.zstd.ckpt"), "zstd:3")
        self.stop_hog(hog)
        self.page_cache(raw)
        self.page_cache(zst)
        runs = 2 if self.quick else 5
        out["floor"] = self.interleaved("restore 1 GiB random vs floors", runs, {
            "hugefloor": lambda: self.tlaunch([self.tool("hugefloor"), raw]),
            "floor": lambda: self.tlaunch([self.tool("floor"), raw]),
            "raw": lambda: self.tlaunch([*self.restore_cmd, raw], "--hold", expect_sum=s),
            "zstd": lambda: self.tlaunch([*self.restore_cmd, zst], "--hold", expect_sum=s),
        })
        os.unlink(raw)
        os.unlink(zst)
        out["text"] = {}
        sizes = [1, 16, 256] if self.quick else [1, 16, 64, 256, 1024]
        for mib in sizes:
            hog, s = self.start_hog(mib, "text")
            raw = self.dump(hog.pid, os.path.join(self.work, f"s{mib}t.raw.ckpt"), "none")
            zst = self.dump(hog.pid, os.path.join(self.work, f"s{mib}t.zstd.ckpt"), "zstd:3")
            self.stop_hog(hog)
            self.page_cache(raw)
            self.page_cache(zst)
            n = 2 if self.quick else (11 if mib <= 16 else 7 if mib <= 64 else 5)
            res = self.interleaved(f"restore {mib} MiB text, zstd:3 vs raw", n, {
                "raw": lambda: self.tlaunch([*self.restore_cmd, raw], "--hold", expect_sum=s),
                "zstd": lambda: self.tlaunch([*self.restore_cmd, zst], "--hold", expect_sum=s),
            })
            res["sizes"] = (os.path.getsize(raw), os.path.getsize(zst))
            out["text"][mib] = res
            os.unlink(raw)
            os.unlink(zst)
        hog, s = self.start_hog(1, "random")
        raw = self.dump(hog.pid, os.path.join(self.work, "s1r.raw.ckpt"), "none")
        zst = self.dump(hog.pid, os.path.join(self.work, "s1r.zstd.ckpt"), "zstd:3")
        self.stop_hog(hog)
        self.page_cache(raw)
        self.page_cache(zst)
        out["small"] = self.interleaved("restore 1 MiB random, zstd:3 vs raw", 2 if self.quick else 11, {
            "raw": lambda: self.tlaunch([*self.restore_cmd, raw], "--hold", expect_sum=s),
            "zstd": lambda: self.tlaunch([*self.restore_cmd, zst], "--hold", expect_sum=s),
        })
        return out

    def criu(self, work):
        """f: whether CRIU/DMTCP from Debian exist here and run on this kernel."""
        pol = subprocess.run(["apt-cache", "policy", "criu", "dmtcp"], capture_output=True, text=True).stdout
        cand = dict(re.findall(r"^(\S+):\n\s+Installed: .*\n\s+Candidate: (\S+)", pol, re.M))
        lines = []
        for name in ("criu", "dmtcp"):
            c = cand.get(name, "(none)")
            lines.append(f"{name}: Debian candidate {c}")
        if shutil.which("criu"):
            ver = subprocess.run(["criu", "--version"], capture_output=True, text=True).stdout.split()
            ver = ver[1] if len(ver) > 1 else "?"
            chk = subprocess.run(["criu", "check"], capture_output=True, text=True)
            err = [l for l in chk.stderr.splitlines() if "Error" in l]
            hog, _ = self.start_hog(16, "random")
            d = os.path.join(work, "criu")
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            dmp = subprocess.run(["criu", "dump", "-t", str(hog.pid), "-D", d, "--leave-running", "--shell-job",
                                  "-o", "dump.log"], capture_output=True, text=True)
            self.stop_hog(hog)
            log = open(os.path.join(d, "dump.log"), errors="replace").read() if os.path.exists(
                os.path.join(d, "dump.log")) else dmp.stderr
            derr = [l for l in log.splitlines() if "Error" in l]
            if chk.returncode == 0 and dmp.returncode == 0:
                lines.append(f"criu {ver}: check and dump work on this kernel (restore comparison not automated)")
            else:
                # The first errors are only "exited, status=1" from helper
                # children; the cause is in the lines after them.
                errs = [re.sub(r"^\(\s*\d+\.\d+\)\s*", "", l).strip() for l in (derr or err)]
                why = "; ".join([e for e in errs if "exited, status" not in e][:2] or errs[:1] or ["(no message)"])
                lines.append(f"criu {ver}: does not work on this kernel: `criu dump` exits "
                             f"{dmp.returncode}: {why}")
        if not shutil.which("dmtcp_launch"):
            lines.append("dmtcp: not packaged for Debian 12; not compared")
        return lines


def incremental(b, mib=1024, rate=16, runs=5, pause=1.0):
    """Group `incremental` (issue 17): how long a dump freezes a process of `mib` MiB that writes `rate` MiB/s.

    Each run starts a fresh dirtier, then dumps it three times: a full dump (the baseline), a full dump
    with --track, and, `pause` s of writing later, an incremental dump with --parent (which ends the
    tracking). The freeze is what the process itself sees: the longest stall of its 1 ms loop
    (dirtier.c), so it holds for any dumper. All images raw (--compress none): compression
    would only lengthen the full dumps' freeze. With CKPT_BENCH_RT=1, ckpt and the dirtier run
    SCHED_FIFO (chrt), so that the busy machine's other work does not count."""
    chrt = ["chrt", "-f", "10"] if b.rt and shutil.which("chrt") else []
    out = {"full": [], "track": [], "incr": [], "full_ms": [], "incr_ms": [], "incr_bytes": [], "full_bytes": []}
    b.wait_idle("incremental")
    for i in range(runs + 1):
        p = subprocess.Popen(chrt + [b.tool("dirtier"), str(mib), str(rate)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        if p.stdout.readline().decode().strip() != "READY":
            die("dirtier did not start")

        def gap():
            p.stdin.write(b"gap\n")
            p.stdin.flush()
            line = p.stdout.readline().decode().split()
            if len(line) != 2 or line[0] != "GAP":
                die("dirtier did not answer")
            return int(line[1]) / 1000.0

        def dump(out, *args):
            if os.path.exists(out):
                os.unlink(out)
            t0 = time.monotonic()
            r = subprocess.run(chrt + [b.ckpt, "dump", str(p.pid), "-o", out, "--compress", "none", *args],
                               capture_output=True, text=True)
            if r.returncode != 0:
                die(f"ckpt dump {' '.join(args)} failed: {r.stderr.strip()}")
            return (time.monotonic() - t0) * 1000, os.path.getsize(out)

        try:
            time.sleep(0.2)
            gap()
            full_ms, full_bytes = dump(os.path.join(b.work, "full.ckpt"))
            time.sleep(0.2)
            g_full = gap()
            dump(os.path.join(b.work, "base.ckpt"), "--track")
            time.sleep(0.2)
            g_track = gap()
            time.sleep(pause)
            gap()
            incr_ms, incr_bytes = dump(os.path.join(b.work, "incr.ckpt"), "--parent", os.path.join(b.work, "base.ckpt"))
            time.sleep(0.2)
            g_incr = gap()
        finally:
            p.stdin.close()
            p.wait(timeout=60)
        print(f"  incremental run {i}{' (warm-up)' if not i else ''}: freeze full {g_full:.1f} ms, --track "
              f"{g_track:.1f} ms, --parent {g_incr:.1f} ms; dump full {full_ms:.0f} ms, --parent {incr_ms:.0f} ms",
              file=sys.stderr)
        if i:
            for k, v in (("full", g_full), ("track", g_track), ("incr", g_incr), ("full_ms", full_ms),
                         ("incr_ms", incr_ms), ("incr_bytes", incr_bytes), ("full_bytes", full_bytes)):
                out[k].append(v)
    for f in ("full.ckpt", "base.ckpt", "incr.ckpt"):
        if os.path.exists(os.path.join(b.work, f)):
            os.unlink(os.path.join(b.work, f))
    out.update(runs=runs, mib=mib, rate=rate, pause=pause)
    return out


def precopy(b, mib=256, rate=16, runs=5):
    """Group `precopy` (issue 17): the downtime of `ckpt migrate` of a process of `mib` MiB (random data) that
    writes `rate` MiB/s, with pre-copy rounds (the default) against one full dump in one freeze (--rounds 0),
    each with --compress none and zstd:3, interleaved. Over loopback into a network namespace of its own, as
    group m. The downtime is what the process itself sees: the longest stall of its 1 ms loop (dirtier.c)
    from just before ckpt starts until it answers on the destination (restore --host-clocks: one
    CLOCK_MONOTONIC), so the freezes of the rounds count too. ckpt's own report of the final freeze is kept
    beside it. With CKPT_BENCH_RT=1, ckpt and the dirtier run SCHED_FIFO."""
    chrt = ["chrt", "-f", "10"] if b.rt and shutil.which("chrt") else []
    token = os.path.join(b.work, "token")
    with open(os.open(token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(os.urandom(24).hex())
    cases = {"oneshot_none": ("none", ["--rounds", "0"]), "precopy_none": ("none", []),
             "oneshot_zstd": ("zstd:3", ["--rounds", "0"]), "precopy_zstd": ("zstd:3", [])}
    out = {k: [] for k in cases}
    b.wait_idle("precopy")

    def once(compress, flags):
        p = subprocess.Popen(chrt + [b.tool("dirtier"), str(mib), str(rate)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        if p.stdout.readline().decode().strip() != "READY":
            die("dirtier did not start")
        dest = subprocess.Popen(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                                 *b.restore_cmd, "--listen", "127.0.0.1:7101", "--token-file", token],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True)
        try:
            if b"listening on" not in dest.stderr.readline():
                die("restore --listen did not start")
            time.sleep(0.3)
            p.stdin.write(b"gap\n")  # the stalls before the migration do not count
            p.stdin.flush()
            p.stdout.readline()
            t0 = time.monotonic()
            r = subprocess.run(chrt + ["nsenter", "-t", str(dest.pid), "-n", b.ckpt, "migrate", str(p.pid),
                                       "127.0.0.1:7101", "--token-file", token, "--compress", compress, *flags],
                               capture_output=True, text=True)
            total = (time.monotonic() - t0) * 1000
            if r.returncode != 0:
                die(f"ckpt migrate {' '.join(flags)} failed: {r.stderr.strip()}")
            dest.stdin.write(b"gap\n")
            dest.stdin.flush()
            line = dest.stdout.readline().decode().split()
            if len(line) != 2 or line[0] != "GAP":
                die(f"the migrated dirtier did not answer: {line}")
            # ckpt's own split: pre-copy "downtime N ms: frozen F ms reading and sending, then W ms until
            # the destination's OK"; one freeze "frozen N ms until the destination took over (W ms of it ...)".
            said = (re.search(r"downtime (\d+) ms: frozen \d+ ms reading and sending, then (\d+) ms", r.stderr) or
                    re.search(r"frozen (\d+) ms until the destination took over \((\d+) ms", r.stderr))
            if not said:
                die(f"ckpt migrate did not report its downtime: {r.stderr.strip()}")
            rounds = len(re.findall(r"^ckpt: migrate round ", r.stderr, re.M))
            return {"ms": int(line[1]) / 1000.0, "reported_ms": float(said.group(1)), "await_ms": float(said.group(2)),
                    "total_ms": total, "rounds": rounds}
        finally:
            dest.stdin.close()
            dest.wait(timeout=60)
            p.wait(timeout=60)  # killed by the migration

    for i in range(runs + 1):
        for k, (compress, flags) in cases.items():
            res = once(compress, flags)
            print(f"  precopy run {i}{' (warm-up)' if not i else ''} {k}: stall {res['ms']:.1f} ms (ckpt says "
                  f"{res['reported_ms']:.0f} ms, {res['await_ms']:.0f} of it waiting for OK), {res['rounds']} rounds, "
                  f"{res['total_ms']:.0f} ms in all", file=sys.stderr)
            if i:
                out[k].append(res)
    out.update(runs=runs, mib=mib, rate=rate)
    return out


def precopy_rows(r):
    """The p lines: migration downtime with pre-copy rounds against one full dump in one freeze."""
    L = [f"p  live migration of a {r['mib']} MiB process (random data) writing {r['rate']} MiB/s, loopback in a "
         f"network namespace; downtime = the longest stall the process saw (1 ms clock); medians of {r['runs']} runs, ms",
         f"{'':<3}{'benchmark':<46}{'ckpt':>9}{'baseline':>10}  {'ratio':>6}  {'target':<7} verdict"]
    for enc, name in (("none", "none"), ("zstd", "zstd:3")):
        pre, one = r[f"precopy_{enc}"], r[f"oneshot_{enc}"]
        ck, base = med(pre), med(one)
        L.append(f"p  {'downtime, pre-copy, ' + name + ' (vs --rounds 0)':<46}{ck:9.1f}{base:10.1f}  {ck / base:6.3f}  "
                 f"{'':<7} (info)")
        L.append(f"p    ckpt's own downtime {med(pre, 'reported_ms'):.0f} ms vs {med(one, 'reported_ms'):.0f} ms, of which "
                 f"waiting for the destination's OK (its checks and staging) {med(pre, 'await_ms'):.0f} vs "
                 f"{med(one, 'await_ms'):.0f} ms; rounds {statistics.median(x['rounds'] for x in pre):g}; whole "
                 f"migration {med(pre, 'total_ms'):.0f} ms vs {med(one, 'total_ms'):.0f} ms")
    return L


def incremental_rows(r):
    """The j lines: freezes of the incremental group, ckpt / baseline / ratio / target / verdict."""
    f, t, n = med(r["full"]), med(r["track"]), med(r["incr"])
    mi = 2 ** 20
    L = [f"j  incremental: {r['mib']} MiB process writing {r['rate']} MiB/s to random pages; freeze = the longest "
         f"stall the process saw (1 ms clock); raw images; medians of {r['runs']} runs, ms",
         f"{'':<3}{'benchmark':<46}{'ckpt':>9}{'baseline':>10}  {'ratio':>6}  {'target':<7} verdict"]

    def row(name, ck, base, target=None):
        ratio = ck / base if base else float("inf")
        v = ("holds" if ratio <= target else "MISSED") if target else "(info)"
        L.append(f"j  {name:<46}{ck:9.1f}{base:10.1f}  {ratio:6.3f}  {('<= %g' % target) if target else '':<7} {v}")

    row(f"freeze, --parent {r['pause']:g} s after --track (vs full)", n, f, 0.05)
    row("freeze, full dump with --track (vs full)", t, f)
    row("dump time, --parent (vs full)", med(r["incr_ms"]), med(r["full_ms"]))
    L.append(f"j  image sizes: full {med(r['full_bytes']) / mi:.1f} MiB, incremental {med(r['incr_bytes']) / mi:.1f} MiB")
    return L


def tree_rows(t, b):
    """The h lines: restore of the tree against fork and against the single process; PSS before and after."""
    f, tr, sg = med(t["fork"]), med(t["tree"]), med(t["single"])
    before, after = t["pss"]
    mi = 1024
    L = [f"h  tree: root filled 256 MiB, then forked 8 workers (3 pages of their own each); raw image "
         f"{t['image'] / 2**20:.1f} MiB, dumped in {t['dump_ms']:.0f} ms; medians of {t['runs']} runs, ms",
         f"h  {'restore root + 8 workers (vs the root forking 8)':<49}{tr:9.1f}{f:10.1f}  {tr / f:6.2f}  {'':<7} (info)",
         f"h  {'restore root + 8 workers (vs restore of root alone)':<49}{tr:9.1f}{sg:10.1f}  {tr / sg:6.2f}  {'':<7} (info)",
         f"h  tree PSS before the dump {before / mi:.1f} MiB, after the restore {after / mi:.1f} MiB: "
         f"{after / before:.3f} x (target <= 1.1: {'holds' if after <= 1.1 * before else 'MISSED'})"]
    if t["note"]:
        L.append(f"h  dump said: {t['note']}")
    return L


def tiny_rows(t):
    """The i lines: restore of a tiny static process against fork+exec of a static no-op."""
    nop, raw, zst = med(t["nop"]), med(t["raw"]), med(t["zstd"])
    L = [f"i  tiny static process (bench/tiny.c, started and waiting); images: raw {t['sizes'][0] / 1024:.0f} KiB, "
         f"zstd:3 {t['sizes'][1] / 1024:.0f} KiB; medians of {len(t['nop'])} runs, ms"]
    for name, ck in (("raw", raw), ("zstd:3", zst)):
        r = ck / nop
        L.append(f"i  {'restore tiny static, ' + name + ' (vs fork+exec)':<46}{ck:9.2f}{nop:10.2f}  {r:6.2f}  "
                 f"{'<= 2':<7} {'holds' if r <= 2.0 else 'MISSED'}")
    return L


def restore_speed_rows(r):
    """The r lines (issue 18): 1 GiB against the floors, zstd:3 against raw at every size."""
    L = [f"r  restore speed: medians of {len(r['floor']['raw'])} runs at 1 GiB, 5-11 at the smaller sizes, ms",
         f"r  {'benchmark':<49}{'ckpt':>9}{'baseline':>10}  {'ratio':>6}  {'target':<7} verdict"]

    def row(name, ck, base, target=None, info=""):
        ratio = ck / base
        v = ("holds" if ratio <= target else "MISSED") if target else "(info)"
        t = f"<= {target:g}" if target else ""
        L.append(f"r  {name:<49}{ck:9.1f}{base:10.1f}  {ratio:6.2f}  {t:<7} {v}{info}")

    f = r["floor"]
    # The huge-page floor swings 3x with the machine's supply of free huge pages (and whether a virtual
    # machine's host still backs them): a floor is a lower bound, so the target uses its fastest run.
    fastest = min(float(x["ms"]) for x in f["hugefloor"])
    row("restore 1 GiB random raw (vs hugepage floor, min)", med(f["raw"]), fastest, 1.5)
    row("restore 1 GiB random raw (vs hugepage floor, med)", med(f["raw"]), med(f["hugefloor"]))
    row("restore 1 GiB random raw (vs one-core floor)", med(f["raw"]), med(f["floor"]))
    row("restore 1 GiB random, zstd:3 (vs raw)", med(f["zstd"]), med(f["raw"]), 1.15)
    row("restore 1 MiB random, zstd:3 (vs raw)", med(r["small"]["zstd"]), med(r["small"]["raw"]), 1.15)
    mi = 2 ** 20
    for mib, t in sorted(r["text"].items()):
        rs, zs = t["sizes"]
        row(f"restore {mib} MiB text, zstd:3 (vs raw)", med(t["zstd"]), med(t["raw"]), 1.15,
            f" (images {rs / mi:.1f} / {zs / mi:.1f} MiB)")
    return L


def freeze_rows(fr, b):
    """The freeze lines: frozen_ms of zstd:19 against none, and of a snapshot against the 20 ms target."""
    runs = len(next(iter(fr.values()))["none"])
    L = [f"freeze  how long ckpt dump keeps a running hog stopped (frozen_ms of dump --json), sparse data; "
         f"medians of {runs} runs, ms",
         f"{'benchmark':<52}{'ckpt':>9}{'baseline':>10}  {'ratio':>6}  {'target':<7} verdict"]

    def row(name, ck, base, target=None):
        r = ck / base
        v = ("holds" if r <= target else "MISSED") if target else "(info)"
        t = f"<= {target:g}" if target else ""
        L.append(f"{name:<52}{ck:9.1f}{base:10.1f}  {r:6.2f}  {t:<7} {v}")

    for mib, r in sorted(fr.items()):
        size = f"{mib} MiB" if mib < 1024 else f"{mib // 1024} GiB"
        none, z19, snap = med(r["none"]), med(r["zstd19"]), med(r["snapshot"])
        row(f"freeze {size}, zstd:19 (vs --compress none)", z19, none, 1.2)
        row(f"freeze {size}, --snapshot (vs the 20 ms target)", snap, 20.0, 1.0)
        row(f"freeze {size}, --snapshot (vs --compress none)", snap, none)
        # The snapshot's stop before the freeze (Snapshot.h), against the freeze itself: the process stood still twice.
        pre = med(r["snapshot"], "prestop_ms")
        if pre:
            row(f"stop before it {size}, --snapshot (vs its freeze)", pre, snap)
        row(f"whole dump {size}, zstd:19 (vs --compress none)", med(r["zstd19"], "total_ms"), med(r["none"], "total_ms"))
    return L


def migrate_rows(m, mib, runs):
    """The m lines: downtime of a live migration against the same move through an image file."""
    L = [f"m  live migration, {mib} MiB random, loopback in a network namespace; downtime = from ckpt's start "
         f"until the process runs again there; medians of {runs} runs, ms; one full dump (--rounds 0; pre-copy: group precopy)"]
    for enc, name in (("raw", "none"), ("zstd", "zstd:3")):
        ck, base = med(m[f"migrate_{enc}"]), med(m[f"file_{enc}"])
        L.append(f"m  {'migrate --compress ' + name + ' (vs dump --kill + restore)':<49}{ck:9.1f}{base:10.1f}  "
                 f"{ck / base:6.2f}  {'':<7} (info)")
    return L


def postcopy_rows(m, mib, runs):
    """The l lines: downtime of ckpt migrate --lazy against ckpt migrate --rounds 0 (one full dump), same run."""
    L = [f"l  post-copy migration, {mib} MiB random, loopback in a network namespace; downtime = from ckpt's "
         f"start until the process runs again there; total = until ckpt migrate returns; medians of {runs} runs, ms"]
    for enc, name in (("raw", "none"), ("zstd", "zstd:3")):
        lz, full = med(m[f"lazy_{enc}"]), med(m[f"full_{enc}"])
        L.append(f"l  {'downtime, migrate --lazy --compress ' + name + ' (vs one dump)':<49}{lz:9.1f}{full:10.1f}  "
                 f"{lz / full:6.2f}  {'< 1':<7} {'ok' if lz < full else 'MISSED'}")
        lt, ft = med(m[f"lazy_{enc}"], "total_ms"), med(m[f"full_{enc}"], "total_ms")
        L.append(f"l  {'total, migrate --lazy --compress ' + name + ' (vs one dump)':<49}{lt:9.1f}{ft:10.1f}  "
                 f"{lt / ft:6.2f}  {'':<7} (info)")
    return L


def med(rs, key="ms"):
    return statistics.median(float(r[key]) if isinstance(r, dict) else r for r in rs)


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    thp = open("/sys/kernel/mm/transparent_hugepage/enabled").read().strip()
    return (f"{cpu}, {os.cpu_count()} cores, {mem / 2**20:.1f} GiB, Linux {os.uname().release}, "
            f"THP {thp}")


def plot(sweep, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sizes = sorted(sweep)
    fig, ax = plt.subplots(figsize=(9.5, 4.5))
    for key, label, style in (("floor", "floor: one core reads the raw image into fresh memory", "k--o"),
                              ("raw", "ckpt restore, raw image", "b-o"),
                              ("zstd", "ckpt restore, zstd:3 image", "r-s"),
                              ("lazy", "ckpt restore --lazy, raw image", "g-^"),
                              ("nop", "fork+exec of a static no-op", "k:x")):
        ax.plot(sizes, [med(sweep[s][key]) for s in sizes], style, label=label)
    ax.set_xlabel("touched anonymous memory (MiB, random data)")
    ax.set_ylabel("time until the program runs again (ms, median, log scale)")
    ax.set_yscale("log")
    ax.set_title("ckpt restore time against image size")
    ax.set_xticks(sizes)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def warm_start(b, a):
    """Group warm (issue 18): bench/warm.py; its plot beside the restore plot, as benchmarks-warm.png."""
    import warm
    png = os.path.join(os.path.dirname(a.png), "benchmarks-warm.png") if a.png else None
    L = [f"machine: {machine()}"] + warm.run(b, med, png)
    if b.busy_groups:
        L.append("WARNING: started on a busy machine: " + ", ".join(b.busy_groups)
                 + ("; the timed processes ran SCHED_FIFO above them (CKPT_BENCH_RT=1)" if b.rt else ""))
    elif b.rt:
        L.append("timed processes ran SCHED_FIFO (CKPT_BENCH_RT=1)")
    print("\n".join(L))
    if png:
        print(f"plot: {png}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--png")
    ap.add_argument("--quick", action="store_true", help="fewer runs and sizes (for trying the script)")
    ap.add_argument("--only", choices=["tree", "tiny", "restore", "freeze", "migrate", "warm", "incremental", "postcopy", "precopy"],
                    help="run one group alone (its baselines still in the same run)")
    a = ap.parse_args()
    b = Bench(a)
    t_start = time.monotonic()
    load0 = open("/proc/loadavg").read().split()[:3]

    if a.only == "restore":
        L = [f"machine: {machine()}"] + restore_speed_rows(b.restore_speed())
        if b.busy_groups:
            L.append("WARNING: started on a busy machine: " + ", ".join(b.busy_groups)
                     + ("; the timed processes ran SCHED_FIFO above them (CKPT_BENCH_RT=1)" if b.rt else ""))
        print("\n".join(L))
        return

    if a.only == "freeze":
        fr = b.freeze([256] if a.quick else [256, 1024])
        L = [f"machine: {machine()}"] + freeze_rows(fr, b)
        if b.busy_groups:
            L.append("WARNING: started on a busy machine: " + ", ".join(b.busy_groups)
                     + ("; ckpt ran SCHED_FIFO above them (CKPT_BENCH_RT=1)" if b.rt else ""))
        print("\n".join(L))
        return

    if a.only == "migrate":
        mib = 64 if a.quick else 256
        m, runs = b.migration(mib)
        L = [f"machine: {machine()}"] + migrate_rows(m, mib, runs)
        if b.busy_groups:
            L.append("WARNING: started on a busy machine: " + ", ".join(b.busy_groups))
        print("\n".join(L))
        return

    if a.only == "postcopy":
        mib = 64 if a.quick else 256
        m, runs = b.postcopy(mib)
        L = [f"machine: {machine()}"] + postcopy_rows(m, mib, runs)
        if b.busy_groups:
            L.append("WARNING: started on a busy machine: " + ", ".join(b.busy_groups))
        print("\n".join(L))
        return

    if a.only == "warm":
        warm_start(b, a)
        return

    if a.only == "incremental":
        r = incremental(b, runs=3 if a.quick else 5)
        L = [f"machine: {machine()}"] + incremental_rows(r)
        if b.busy_groups:
            L.append("WARNING: started on a busy machine: " + ", ".join(b.busy_groups))
        print("\n".join(L))
        return

    if a.only == "precopy":
        r = precopy(b, mib=64 if a.quick else 256, runs=2 if a.quick else 5)
        L = [f"machine: {machine()}"] + precopy_rows(r)
        if b.busy_groups:
            L.append("WARNING: started on a busy machine: " + ", ".join(b.busy_groups)
                     + ("; the timed processes ran SCHED_FIFO above them (CKPT_BENCH_RT=1)" if b.rt else ""))
        print("\n".join(L))
        return

    if a.only == "tree":
        tree = b.tree(256, 8)
        L = [f"machine: {machine()}"] + tree_rows(tree, b)
        if b.busy_groups:
            L.append("WARNING: started on a busy machine: " + ", ".join(b.busy_groups))
        print("\n".join(L))
        return

    if a.only == "tiny":
        tiny = b.tiny()
        L = [f"machine: {machine()}"] + tiny_rows(tiny)
        if b.busy_groups:
            L.append("WARNING: started on a busy machine: " + ", ".join(b.busy_groups)
                     + ("; the timed processes ran SCHED_FIFO above them (CKPT_BENCH_RT=1)" if b.rt else ""))
        elif b.rt:
            L.append("timed processes ran SCHED_FIFO (CKPT_BENCH_RT=1)")
        print("\n".join(L))
        return

    print("restore size sweep (a, d, e)...", file=sys.stderr)
    sizes = [16, 256] if a.quick else [16, 64, 256, 512]
    sweep = b.restore_sweep(sizes)
    print("compressible data...", file=sys.stderr)
    text = b.compressible(256)
    print("small process (b)...", file=sys.stderr)
    small = b.small()
    print("tiny static process (i)...", file=sys.stderr)
    tiny = b.tiny()
    print("dump (c)...", file=sys.stderr)
    dumps = b.dumps(256)
    print("verify of a crafted image (g)...", file=sys.stderr)
    verify = b.verify_scaling()
    print("process tree (h)...", file=sys.stderr)
    tree = b.tree(256, 8)
    print("restore speed (r)...", file=sys.stderr)
    speed = b.restore_speed()
    print("CRIU/DMTCP (f)...", file=sys.stderr)
    others = b.criu(a.work)

    def verdict(ok):
        return "holds" if ok else "MISSED"

    s256 = sweep[256]
    fl = med(s256["floor"])
    raw, zst = med(s256["raw"]), med(s256["zstd"])
    nop, sz, sr = med(small["nop"]), med(small["zstd"]), med(small["raw"])
    dv, dr, dz = med(dumps["vmread"]), med(dumps["raw"]), med(dumps["zstd"])
    n = s256["runs"]
    L = []
    L.append(f"machine: {machine()}")
    L.append(f"medians of {n} runs (512 MiB: {sweep.get(512, s256)['runs']}, small process: "
             f"{len(small['nop'])}), each after a discarded warm-up; times in ms")
    L.append(f"{'benchmark':<49}{'ckpt':>9}{'baseline':>10}  {'ratio':>6}  {'target':<7} verdict")

    def row(tag, name, ck, base, target=None, info=""):
        r = ck / base
        v = verdict(r <= target) if target else "(info)"
        t = f"<= {target:g}" if target else ""
        L.append(f"{tag:<2} {name:<46}{ck:9.1f}{base:10.1f}  {r:6.2f}  {t:<7} {v}{info}")

    row("a", "restore 256 MiB random, raw (vs floor)", raw, fl, 1.0)
    row("a", "restore 256 MiB random, zstd:3 (vs floor)", zst, fl, 1.3)
    row("a", "restore 256 MiB text, zstd:3 (vs floor)", med(text["zstd"]), med(text["floor"]))
    row("a", "restore --lazy 256 MiB raw (vs fork+exec)", med(s256["lazy"]), med(s256["nop"]), 5.0)
    fs = med(s256["floor"], "sum_ms")
    row("a", "... raw, until all memory read once (vs floor)", med(s256["raw"], "sum_ms"), fs)
    row("a", "... zstd:3, until all memory read once (same)", med(s256["zstd"], "sum_ms"), fs)
    row("a", "... --lazy, until all memory read once (same)", med(s256["lazy"], "sum_ms"), fs)
    row("b", "restore 1 MiB dynamic, zstd:3 (vs fork+exec)", sz, nop, 3.0)
    row("b", "restore 1 MiB dynamic, raw (vs fork+exec)", sr, nop, 3.0)
    row("c", "dump 256 MiB, none (vs vm_readv+write+fsync)", dr, dv, 1.5)
    row("c", "dump 256 MiB, zstd:3 (vs same)", dz, dv)
    mi = 2 ** 20
    rs, zs = os.path.getsize(s256["files"][0]), os.path.getsize(s256["files"][1])
    tr, tz = text["sizes"]
    L.append(f"c  image sizes, 256 MiB: random raw {rs / mi:.1f} MiB, zstd:3 {zs / mi:.1f} MiB ({rs / zs:.2f}x); "
             f"text raw {tr / mi:.1f} MiB, zstd:3 {tz / mi:.1f} MiB ({tr / tz:.2f}x)")

    def extra(rs_):
        return statistics.median((int(r["vmhwm_kb"]) - int(r["vmrss_kb"])) / 1024 for r in rs_)

    ex = {k: [extra(sweep[s][k]) for s in sizes] for k in ("raw", "zstd")}
    grow = max(max(v) - min(v) for v in ex.values())
    L.append(f"d  restore peak beyond the image (VmHWM - VmRSS, MiB) at {'/'.join(map(str, sizes))} MiB: "
             f"raw {'/'.join(f'{x:.1f}' for x in ex['raw'])}; zstd {'/'.join(f'{x:.1f}' for x in ex['zstd'])}"
             f"  -> {verdict(grow < 8)} (constant: grows {grow:.1f} MiB)")
    L.append(f"d  same, 256 MiB text zstd:3: {extra(text['zstd']):.1f} MiB; restored VmRSS at 256 MiB random: "
             f"{med(s256['raw'], 'vmrss_kb') / 1024:.0f} MiB (raw), {med(s256['zstd'], 'vmrss_kb') / 1024:.0f} MiB (zstd)")
    L.append(f"e  {'size MiB':<10}{'floor':>9}{'raw':>9}{'zstd':>9}{'raw/floor':>11}{'zstd/floor':>12}"
             f"{'nop':>8}{'lazy':>8}{'lazy/nop':>10}")
    for s in sizes:
        f_, r_, z_ = med(sweep[s]["floor"]), med(sweep[s]["raw"]), med(sweep[s]["zstd"])
        n_, l_ = med(sweep[s]["nop"]), med(sweep[s]["lazy"])
        L.append(f"e  {s:<10}{f_:9.1f}{r_:9.1f}{z_:9.1f}{r_ / f_:11.2f}{z_ / f_:12.2f}{n_:8.1f}{l_:8.1f}{l_ / n_:10.2f}")
    for o in others:
        L.append(f"f  {o}")
    vb = verify["bytes"]
    row("g", "verify crafted image, bulk=65536 (vs bulk=8192)", med(verify["big"]), med(verify["small"]), 16.0,
        f" ({vb[65536] / mi:.1f} MiB vs {vb[8192] / mi:.1f} MiB)")
    L += tree_rows(tree, b)
    L += tiny_rows(tiny)
    L += restore_speed_rows(speed)
    if b.busy_groups:
        L.append("WARNING: started on a busy machine (other processes using the CPUs): " + ", ".join(b.busy_groups)
                 + ("; the timed processes ran SCHED_FIFO above them (CKPT_BENCH_RT=1)" if b.rt else ""))
    elif b.rt:
        L.append("timed processes ran SCHED_FIFO (CKPT_BENCH_RT=1)")
    load1 = open("/proc/loadavg").read().split()[:3]
    L.append(f"(total benchmark time {time.monotonic() - t_start:.0f} s; load average {' '.join(load0)} "
             f"at the start, {' '.join(load1)} at the end)")
    print("\n".join(L))
    if a.png:
        plot(sweep, a.png)
        print(f"plot: {a.png}")


if __name__ == "__main__":
    main()
