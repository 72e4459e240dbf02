#!/usr/bin/env bash
# Hostile images: well-formed images (made from a real one by
# tests/tools/image_edit, every checksum right) that ask restore for what it
# must not do. Each is refused in phase 1: exit 1, one line on stderr naming
# the reason, nothing on stdout, within 5 s (no hang), and the caller never
# becomes the program.
#   - a mapped file the caller may not read (restore run as nobody);
#   - a setuid or setgid file's mappings (a real setuid binary such as
#     /usr/bin/passwd, and files made setuid/setgid here);
#   - a FIFO or a device in place of a mapped file (opening them would hang
#     or act: they are looked at through O_PATH first);
#   - more saved memory than the machine has (MemAvailable + SwapFree);
#   - more address space than the caller's RLIMIT_AS, while the same huge
#     PROT_NONE reservation (a JVM's heap) is accepted without the limit.
# Covered elsewhere: another user's image and credentials other than the
# caller's (check_credentials.sh, check_machine_fit.sh); another user's
# process (check_dumper_failures.sh). Needs root (to run restore as nobody).
source "$(dirname "$0")/lib.sh"
EDIT="$PROGRAMS/../tools/image_edit"
[[ -x $EDIT ]] || fail "image_edit not built at $EDIT"
((EUID == 0)) || fail "must run as root: it restores as nobody"

chmod 755 "$WORK"
cd "$WORK" || fail "cannot enter $WORK"
cp "$RESTORE" "$WORK/restore" && chmod 755 "$WORK/restore" || fail "cannot copy restore"
seq 100000 | head -c $((8 * 4096 + 100)) >"$WORK/data"
chmod 644 "$WORK/data"
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)

# refused NAME PATTERN [RUNNER...] -- FIELD=VALUE...: edits $BASE into
# NAME.ckpt and restores it (through RUNNER, e.g. setpriv), expecting a
# refusal matching PATTERN.
refused() {
  local name=$1 pattern=$2 rc
  shift 2
  local -a runner=()
  while [[ $1 != -- ]]; do runner+=("$1"); shift; done
  shift
  "$EDIT" "$BASE" "$WORK/$name.ckpt" "$@" || fail "image_edit $* failed"
  chmod 644 "$WORK/$name.ckpt"
  printf 'c\n' | timeout -k 2 5 "${runner[@]}" "$WORK/restore" "$WORK/$name.ckpt" >"$WORK/$name.out" 2>"$WORK/$name.err"
  rc=$?
  ((rc == 124)) && fail "$name: restore hung (killed after 5 s)"
  ((rc == 1)) || fail "$name: restore exited $rc, expected 1: $(cat "$WORK/$name.err")"
  [[ -s $WORK/$name.out ]] && fail "$name: restore printed on stdout (it became the counter)"
  (($(wc -l <"$WORK/$name.err") == 1)) || fail "$name: expected one line on stderr: $(cat "$WORK/$name.err")"
  grep -qE "$pattern" "$WORK/$name.err" || fail "$name: the message does not say why: $(cat "$WORK/$name.err")"
  log "refused $name: $(cat "$WORK/$name.err")"
}

# An image owned by nobody: the counter run as nobody, dumped by nobody
# (as a user does; root without CAP_SYS_RESOURCE, as in many containers,
# cannot read another user's rlimits).
cp "$CKPT" "$WORK/ckpt" && chmod 755 "$WORK/ckpt" || fail "cannot copy ckpt"
mkdir -m 1777 "$WORK/nob"
start nob "${AS_NOBODY[@]}" "$PROGRAMS/counter" "$WORK/data"
send nob a
wait_lines nob 1
"${AS_NOBODY[@]}" "$WORK/ckpt" dump "$PID_nob" -o "$WORK/nob/nobody.ckpt" --kill >/dev/null 2>"$WORK/dump-nob.err" ||
  fail "nobody could not dump its own counter: $(cat "$WORK/dump-nob.err")"
wait_gone nob
chmod 644 "$WORK/nob/nobody.ckpt"
BASE=$WORK/nob/nobody.ckpt
printf 'secret\n' >"$WORK/secret"
chmod 600 "$WORK/secret"
refused unreadable-file "cannot open $WORK/secret.*Permission denied" "${AS_NOBODY[@]}" -- file_path="$WORK/secret"
# The same image, unedited, restores as nobody: the refusal was the file's.
printf 'b\n' | timeout -k 2 10 "${AS_NOBODY[@]}" "$WORK/restore" "$BASE" >"$WORK/nob-back.out" 2>"$WORK/nob-back.err" ||
  fail "the nobody image did not restore as nobody: $(cat "$WORK/nob-back.err")"
grep -q '^step 2 ' "$WORK/nob-back.out" || fail "the nobody image did not carry on: $(cat "$WORK/nob-back.out")"

# Root's image for the rest.
start run "$PROGRAMS/counter" "$WORK/data"
send run a
wait_lines run 1
dump run "$WORK/root.ckpt"
BASE=$WORK/root.ckpt

setuid_bin=
for f in /usr/bin/passwd /usr/bin/su /usr/bin/gpasswd /usr/bin/chfn; do
  [[ -u $f ]] && { setuid_bin=$f; break; }
done
if [[ -n $setuid_bin ]]; then
  refused setuid-binary "$setuid_bin.*setuid or setgid" -- file_path="$setuid_bin"
else
  log "no setuid binary found in /usr/bin; the files made setuid here stand for it"
fi
cp "$WORK/data" "$WORK/suid" && chmod 4755 "$WORK/suid"
cp "$WORK/data" "$WORK/sgid" && chmod 2755 "$WORK/sgid"
refused setuid-file "setuid or setgid" -- file_path="$WORK/suid"
refused setgid-file "setuid or setgid" -- file_path="$WORK/sgid"
mkfifo "$WORK/fifo"
refused fifo "$WORK/fifo.*not a regular file|$WORK/fifo.*no longer a regular file" -- file_path="$WORK/fifo"
refused device "/dev/null.*regular file" -- file_path=/dev/null

# Memory: saved pages (all-zero, so the image stays small: zstd) beyond
# what this machine can give. Placed far from the counter's mappings.
# Sized from MemTotal + SwapTotal, which what restore finds available
# (MemAvailable + SwapFree) never exceeds: sized from what was available
# when the image was made, memory freed meanwhile by whatever else runs
# made it fit, and the restore went on to stage it.
total_kib=$(awk '/^MemTotal:/ {m=$2} /^SwapTotal:/ {s=$2} END {print m + s}' /proc/meminfo)
want=$(((total_kib + 512 * 1024) * 1024))
want=$(((want + (1 << 20) - 1) / (1 << 20) * (1 << 20)))
refused too-much-memory "MiB of saved memory but this machine has [0-9]+ MiB available" -- \
  compress=zstd add_saved=0x200000000000:$want
log "the too-much-memory image holds $((want >> 20)) MiB of pages in $(image_bytes "$WORK/too-much-memory.ckpt") bytes"
rm -f "$WORK/too-much-memory.ckpt"

# Address space: a 64 GiB PROT_NONE reservation is fine (it costs nothing)...
"$EDIT" "$BASE" "$WORK/reserve.ckpt" add_anon=0x300000000000:0x1000000000 || fail "image_edit add_anon failed"
"$WORK/restore" --check "$WORK/reserve.ckpt" >"$WORK/reserve.out" 2>"$WORK/reserve.err" ||
  fail "an image with a 64 GiB PROT_NONE reservation is refused: $(cat "$WORK/reserve.err")"
# ...and restores and carries on...
printf 'b\n' | timeout -k 2 10 "$WORK/restore" "$WORK/reserve.ckpt" >"$WORK/reserve-run.out" 2>"$WORK/reserve-run.err" ||
  fail "the image with a 64 GiB reservation did not restore: $(cat "$WORK/reserve-run.err")"
grep -q '^step 2 ' "$WORK/reserve-run.out" || fail "the image with a 64 GiB reservation did not carry on"
# ...but not under an RLIMIT_AS below it.
refused address-space "RLIMIT_AS" prlimit --as=$((8 << 30)) -- add_anon=0x300000000000:0x1000000000
log "PASS"
