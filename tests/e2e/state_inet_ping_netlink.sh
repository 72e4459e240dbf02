#!/usr/bin/env bash
# state_inet_ping_netlink (see the program): the state.sh protocol in a
# network namespace of the test's own, whose ping_group_range (a setting
# of that namespace alone) lets every group open ping sockets.
source "$(dirname "$0")/netns.sh"
echo "0 2147483647" >/proc/sys/net/ipv4/ping_group_range ||
  { echo "state_inet_ping_netlink: cannot allow ping sockets in the test's namespace"; exit 1; }
exec bash "$(dirname "$0")/state.sh" "$@"
