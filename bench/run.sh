#!/usr/bin/env bash
# ckpt benchmarks (issue 7): one command that builds what it needs, runs every
# benchmark with its baseline in the same run, prints a table and writes
# docs/benchmarks-restore.png. Not part of CI; see docs/benchmarks.md.
#
#   bash bench/run.sh [BUILD_DIR] [--quick] [--only=GROUP]
#
# --only=restore runs the restore-speed group alone (r: 1 GiB against the
# huge-page floor, zstd:3 against raw from 1 MiB to 1 GiB; issue 18).
# --only=freeze runs the freeze group alone (how long ckpt dump keeps a running
# process stopped: zstd:19 against --compress none, and --snapshot; issue 17).
# --only=warm runs the warm-start group alone (bench/warm.py: python3+numpy,
# java, node; cold start against restore, until the program answers) and
# writes docs/benchmarks-warm.png.
# --only=incremental runs the incremental-dump group alone (the freeze of a
# dump with --parent of a 1 GiB process writing 16 MiB/s, against a full dump's).
# --only=tree runs the process-tree group alone (h: restore of a root with 8
# children against fork of 8 children and against restore of the root alone;
# PSS before and after), its baselines still measured in the same run.
# --only=tiny runs the tiny static process group alone (i: restore of a
# static program that has just started, raw and zstd:3, against fork+exec of
# a static no-op).
# --only=migrate runs the live-migration group alone (m: downtime of `ckpt
# migrate` over loopback in a network namespace of its own, against the same
# move through an image file: dump --kill, then restore).
# --only=postcopy runs the post-copy group alone (p: downtime and total time
# of `ckpt migrate --lazy` against `ckpt migrate`, one full dump, in one run).
# --only=precopy runs the pre-copy group alone (p: downtime of `ckpt migrate` of a
# 256 MiB process writing 16 MiB/s, pre-copy rounds against --rounds 0).
# BUILD_DIR defaults to build/. If it holds no ckpt/restore, the product is
# configured (Release) and built there. Run as root: `ckpt dump` needs ptrace
# rights over the benchmark's processes, and missing tools are apt-get
# installed. About 6-8 minutes of measuring (4 of them group r) on 2 cores, plus any wait for
# idle CPUs (CKPT_BENCH_IDLE_WAIT seconds at most, default 600). On a shared,
# busy machine, CKPT_BENCH_RT=1 runs the timed processes SCHED_FIFO instead.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$repo/build
quick=()
only=()
for a in "$@"; do
  case $a in
    --quick) quick=(--quick) ;;
    --only=*) only=(--only "${a#--only=}") ;;
    *) build=$(realpath -m "$a") ;;
  esac
done

# Extra dependencies, installed only when missing: matplotlib for the plot;
# CRIU because the issue asks for a comparison wherever Debian packages it
# (DMTCP is not packaged for Debian 12, so there is nothing to install).
# Debian's python3, not whatever python3 comes first in PATH (pyenv, venv):
# apt installs matplotlib for that one.
py=/usr/bin/python3
need=()
[[ -x $py ]] || need+=(python3)
[[ -x $py ]] && "$py" -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
# The warm-start group (--only=warm, issue 18): numpy, a JDK (javac too) and node.
if [[ " ${only[*]} " == *" warm "* ]]; then
  [[ -x $py ]] && "$py" -c 'import numpy' 2>/dev/null || need+=(python3-numpy)
  command -v javac >/dev/null || need+=(default-jdk-headless)
  command -v node >/dev/null || command -v nodejs >/dev/null || need+=(nodejs)
fi
if ! command -v criu >/dev/null && apt-cache policy criu 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  need+=(criu)
fi
if ((${#need[@]})); then
  echo "bench: installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
fi

if [[ ! -x $build/dumper/ckpt || ! -x $build/restorer/restore ]]; then
  echo "bench: building ckpt in $build" >&2
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
  cmake --build "$build" -j"$(nproc)" >&2
fi

# The small programs go to a temporary directory. It lives on disk (/var/tmp),
# not tmpfs, so images are real files: written through fsync by the dump and
# then read from the page cache by the restore, as the benchmarks specify.
tmp=$(mktemp -d /var/tmp/ckpt-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
tools=$tmp/tools
mkdir -p "$tools"
gcc -O2 -o "$tools/hog" "$repo/bench/hog.c"  # dynamically linked: the issue's "small process"
gcc -O2 -static -o "$tools/floor" "$repo/bench/floor.c"
gcc -O2 -static -pthread -o "$tools/hugefloor" "$repo/bench/hugefloor.c"
gcc -O2 -static -o "$tools/nop" "$repo/bench/nop.c"
gcc -O2 -static -o "$tools/tiny" "$repo/bench/tiny.c"  # issue 18's tiny static process
gcc -O2 -o "$tools/tlaunch" "$repo/bench/tlaunch.c"
gcc -O2 -o "$tools/vmread" "$repo/bench/vmread.c"
gcc -O2 -o "$tools/treehog" "$repo/bench/treehog.c"
if [[ " ${only[*]} " == *" warm "* ]]; then
  javac -d "$tools" "$repo/bench/warm_java.java"
fi
gcc -O2 -o "$tools/dirtier" "$repo/bench/dirtier.c"

echo "ckpt $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?'), built in $build"
"$py" "$repo/bench/bench.py" --build "$build" --tools "$tools" --work "$tmp/work" \
  --png "$repo/docs/benchmarks-restore.png" "${quick[@]}" "${only[@]}"
