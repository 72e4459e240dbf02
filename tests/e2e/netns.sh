# Sourced first by a test that needs a network namespace of its own: runs
# the script again inside `unshare -n` (dump and restore then both happen
# in that namespace) with the loopback interface up. Only 127.0.0.1 and ::1
# are ever used. Exits 77 (skipped, saying why) where namespaces cannot be made.
if [[ -z ${CKPT_IN_NETNS:-} ]]; then
  if ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
    echo "$(basename "$0"): SKIP: needs unshare (util-linux) and ip (iproute2)"
    exit 77
  fi
  if ! unshare -n true 2>/dev/null; then
    echo "$(basename "$0"): SKIP: cannot create a network namespace (unshare -n needs CAP_SYS_ADMIN)"
    exit 77
  fi
  CKPT_IN_NETNS=1 exec unshare -n bash "$0" "$@"
fi
ip link set lo up || { echo "$(basename "$0"): cannot bring lo up in the test's network namespace"; exit 1; }
