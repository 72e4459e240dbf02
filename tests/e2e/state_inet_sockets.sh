#!/usr/bin/env bash
# state_inet_sockets (see the program): the state.sh protocol, run in a
# network namespace of the test's own.
source "$(dirname "$0")/netns.sh"
exec bash "$(dirname "$0")/state.sh" "$@"
