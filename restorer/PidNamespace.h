// restore --pid-ns: the restored process gets its saved pid in a fresh pid
// namespace, so that one image can be restored any number of times side
// by side, each copy with the pid it had.
//
// Three processes (docs/architecture.md, "The pid namespace mode"):
//   - the *outer* restore: the caller's child, in the caller's namespaces.
//     It creates the pid namespace, relays the signals it is sent to the
//     restored process, and ends as the restored process ends: the same
//     exit code, or death by the same signal;
//   - the namespace's *init* (pid 1): a new mount namespace with /proc
//     mounted for the new pid namespace, the restored process created with
//     its saved pid (clone3 with set_tid), then nothing but reaping every
//     child, passing the relayed signals on, and reporting the restored
//     process's wait status to the outer restore;
//   - the *root*: the restored process, which goes on with the restore
//     (plan, stage, point of no return) exactly as restore does without the
//     option; a tree's root creates the other members there with their
//     saved pids, as it would outside (restorer/Tree.h). A saved pid of 1 (the process was a namespace's init) makes
//     the root the namespace's init itself, with no init of ours.
#pragma once

#include <sys/types.h>

#include "format/ImageReader.h"

namespace ckpt::restorer {

// Phase 1, no side effects: what --pid-ns needs from this caller and this
// kernel (CAP_SYS_ADMIN, clone3, every member's saved pid and every saved
// thread id within pid_max). Throws RestoreError naming what is missing.
void check_pid_namespace(const format::ImageReader& reader);

// restore --check --pid-ns: does it all once in a throwaway child (the pid
// and mount namespaces, /proc mounted there, ns_last_pid set, a process
// created with the saved pid, which exits at once). Nothing of it outlives the call. Throws
// RestoreError saying which step failed and why.
void probe_pid_namespace(const format::ImageReader& reader);

// Creates the namespace, its init and the root. Returns only in the root,
// whose getpid() is the saved pid (and where the kernel hands out pids
// above every saved pid and thread id, so that each later member and
// thread can have its own: LaunchOptions::saved_tids), inside a mount namespace whose /proc is
// its pid namespace's, with the signal mask and actions the caller had.
// The calling process never returns: it relays signals until the root
// ends, then exits with the root's status (re-raising its signal). A
// failure before the root exists throws RestoreError in the caller; one in
// init is printed there and makes the caller exit 1.
// `own_group`: the root is to lead a process group of its own (a
// job-control shell, Terminal::lead_saved_group); init then leads one too,
// so that a signal sent to the caller's process group reaches only the
// caller and comes to the root once, relayed.
void enter_pid_namespace(const format::ImageReader& reader, bool own_group = false);

}  // namespace ckpt::restorer
