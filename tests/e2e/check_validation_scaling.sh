#!/usr/bin/env bash
# Validation is O(n log n) in the image's size (issue 16): a crafted image
# with N anonymous shared objects and their mappings, N more mappings of
# one file, N eventfds and an epoll fd watching them all (image_edit
# bulk=N) is verified by `ckpt verify`, and (without the fds, which would
# need more than the caller's RLIMIT_NOFILE) checked by `restore --check`,
# and the image 8 times larger must take less than 16 times as long. (A
# check comparing records pairwise took 480 times as long: 710 s for a
# crafted 62.7 MB image.)
#
# Time is CPU time (user + system) of the command, not wall time, so that
# a loaded machine does not change it much: each figure is the mean over
# enough runs to add up to 0.3 s, and the least of three such figures.
# Both sizes are measured in this one test, so the ratio does not depend
# on the machine's speed. A run that takes more than 60 s is a failure.
source "$(dirname "$0")/lib.sh"
EDIT="$PROGRAMS/../tools/image_edit"
[[ -x $EDIT ]] || fail "image_edit not built at $EDIT"
cd "$WORK" || fail "cannot enter $WORK"
seq 100000 | head -c $((8 * 4096 + 100)) >"$WORK/data"

start run "$PROGRAMS/counter" "$WORK/data"
send run a
wait_lines run 1
dump run "$WORK/base.ckpt"

SMALL=4096 BIG=$((8 * 4096))
for n in $SMALL $BIG; do
  "$EDIT" "$WORK/base.ckpt" "$WORK/fds-$n.ckpt" bulk=$n || fail "image_edit bulk=$n failed"
  "$EDIT" "$WORK/base.ckpt" "$WORK/maps-$n.ckpt" bulk_maps=$n || fail "image_edit bulk_maps=$n failed"
done
log "images: $(stat -c '%n %s bytes' "$WORK"/fds-*.ckpt "$WORK"/maps-*.ckpt | sed "s|$WORK/||" | tr '\n' ' ')"

python3 - "$SMALL" "$BIG" "$CKPT" "$RESTORE" "$WORK" >"$WORK/scaling.out" 2>"$WORK/scaling.err" <<'EOF'
import resource, subprocess, sys
small, big, ckpt, restore, work = sys.argv[1:]

def cpu_seconds(cmd):
    """Least of three means, each over enough runs to add up to 0.3 s of CPU."""
    best = None
    for _ in range(3):
        start = resource.getrusage(resource.RUSAGE_CHILDREN)
        runs = 0
        while True:
            try:
                r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
            except subprocess.TimeoutExpired:
                sys.exit(f"{' '.join(cmd)} took more than 60 s")
            if r.returncode != 0:
                sys.exit(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.decode().strip()}")
            runs += 1
            now = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent = (now.ru_utime - start.ru_utime) + (now.ru_stime - start.ru_stime)
            if spent >= 0.3 or runs >= 500:
                break
        mean = spent / runs
        best = mean if best is None else min(best, mean)
    return best

failed = False
for what, kind, cmd in (("ckpt verify", "fds", [ckpt, "verify"]), ("restore --check", "maps", [restore, "--check"])):
    t_small = cpu_seconds(cmd + [f"{work}/{kind}-{small}.ckpt"])
    t_big = cpu_seconds(cmd + [f"{work}/{kind}-{big}.ckpt"])
    ratio = t_big / max(t_small, 1e-6)
    print(f"{what}: {t_small * 1000:.1f} ms for bulk={small}, {t_big * 1000:.1f} ms for bulk={big}: {ratio:.1f} times as long")
    if ratio >= 16:
        failed = True
sys.exit(1 if failed else 0)
EOF
rc=$?
cat "$WORK/scaling.out"
((rc == 0)) || fail "validation does not scale as O(n log n): $(cat "$WORK/scaling.out" "$WORK/scaling.err" | tr '\n' ' ')"
log "PASS"
