// Hard limits on every count and size an image may declare. The reader
// rejects an image that exceeds any of them before allocating anything, so
// a hostile image cannot make the restorer or the inspector exhaust memory.
// docs/format.md lists the same numbers.
#pragma once

#include <cstdint>

namespace ckpt::format {

inline constexpr uint32_t kMaxMembers = 4096;                 // processes in one tree
inline constexpr uint32_t kMaxSections = 64 + 16 * kMaxMembers;  // a few per member
inline constexpr uint64_t kMaxMetadataSection = 64ull << 20;  // any section but PageData
inline constexpr uint32_t kMaxStringLength = 4096;            // PATH_MAX
inline constexpr uint32_t kMaxAuxvBytes = 4096;
inline constexpr uint32_t kMaxVmas = 1u << 20;                // > vm.max_map_count default 65530
inline constexpr uint32_t kMaxThreads = 4096;                 // a process with more threads is refused at dump
inline constexpr uint32_t kMaxXsaveBytes = 64u << 10;
inline constexpr uint32_t kMaxChunkPages = 256;               // 1 MiB per chunk
inline constexpr uint32_t kMaxChunks = 1u << 26;
inline constexpr uint32_t kMaxPendingSignals = 1u << 16;  // > any RLIMIT_SIGPENDING in practice
inline constexpr uint32_t kMaxLdtEntries = 8192;          // LDT_ENTRIES
inline constexpr uint32_t kMaxFds = 1u << 20;              // > fs.nr_open default
inline constexpr uint32_t kMaxSharedObjects = 1u << 16;
inline constexpr uint32_t kMaxSysvSegments = 4096;       // SHMMNI default
inline constexpr uint32_t kMaxGuardRanges = 1u << 20;      // per VMA; the VMA's page count bounds it further
inline constexpr uint32_t kMaxEpollTargets = 1u << 20;
inline constexpr uint32_t kMaxLocks = 1u << 16;            // per open file description
inline constexpr uint32_t kMaxPosixTimers = 1u << 16;     // each holds a queued signal: RLIMIT_SIGPENDING bounds them
inline constexpr uint32_t kMaxBlobBytes = 48u << 20;       // one fd's or object extent's bytes, inside the 64 MiB section
inline constexpr uint32_t kMaxDeletedFiles = 1u << 16;
inline constexpr uint64_t kMaxDeletedBytes = 48ull << 20;  // all deleted files' saved bytes together (one section)
inline constexpr uint32_t kMaxFileHandleBytes = 128;       // MAX_HANDLE_SZ
inline constexpr uint32_t kMaxInotifyWatches = 1u << 20;   // > fs.inotify.max_user_watches default
inline constexpr int32_t kMaxInotifyWd = 1 << 18;          // restore adds and removes a dummy watch per skipped wd (~5 us each)
inline constexpr uint32_t kMaxUnixSockets = 1u << 20;      // records (fds and queued connections)
inline constexpr uint32_t kMaxUnixName = 108;              // sizeof sun_path
inline constexpr uint32_t kMaxUnixQueue = 1u << 16;        // > net.core.somaxconn default 4096
inline constexpr uint32_t kMaxUnixMessages = 1u << 16;     // per socket; datagram queues hold far fewer
inline constexpr uint32_t kMaxSocketOptions = 256;          // per socket; the option table has about 120
inline constexpr uint32_t kMaxSocketOptionBytes = 64;       // one option's value (the largest is IP_OPTIONS, 40)
inline constexpr uint32_t kMaxInetSockets = 1u << 20;          // like kMaxFds: one fd each
inline constexpr uint32_t kMaxSockaddrBytes = 128;             // sizeof(struct sockaddr_storage)
inline constexpr uint32_t kMaxQueuedDatagrams = 1u << 16;      // per socket
inline constexpr uint32_t kMaxDatagramBytes = 65536;           // one queued datagram (UDP carries at most 65527)
inline constexpr uint32_t kMaxNetlinkGroupBytes = 128;         // a netlink socket's groups bitmap (1024 groups)
inline constexpr uint32_t kMaxMulticastGroups = 4096;          // per socket (igmp_max_memberships is 20 by default)
inline constexpr uint32_t kMaxMulticastSources = 4096;         // per group (igmp_max_msf is 10 by default)
inline constexpr uint32_t kMaxTcpConnections = 1u << 16;
inline constexpr uint32_t kMaxAffinityWords = 128;  // 8192 CPUs (NR_CPUS upper bound)
inline constexpr uint32_t kMaxGroups = 65536;       // NGROUPS_MAX
inline constexpr uint32_t kMaxSeccompFilters = 32768; // MAX_INSNS_PER_PATH / 8: the kernel's bound on a filter chain
inline constexpr uint32_t kMaxPtys = 4096;               // /proc/sys/kernel/pty/max default
// One line discipline's buffer (N_TTY_BUF_SIZE): what a pty holds queued in
// each direction and ckpt carries; more is refused at dump.
inline constexpr uint32_t kMaxPtyQueueBytes = 4096;
inline constexpr uint32_t kPtyCcCount = 19;                // NCCS of the kernel's termios2
inline constexpr uint32_t kMaxWindowDimension = 65535;  // each field of the terminal's struct winsize
// A working-set file (IMAGE.ws, format/WorkingSet.h): runs of pages, and
// pages in all (64 GiB); the restorer also needs every page in a lazy area.
inline constexpr uint32_t kMaxWorkingSetRuns = 1u << 20;
inline constexpr uint64_t kMaxWorkingSetPages = 1ull << 24;
inline constexpr uint32_t kMaxParentRuns = 1u << 22;   // runs of pages an incremental image takes from its parent (16 bytes each)
inline constexpr uint32_t kMaxChainDepth = 1024;          // images in a chain of incremental dumps, the full one included
// Highest user address + 1 with 4-level paging (TASK_SIZE_MAX on x86-64).
inline constexpr uint64_t kUserSpaceEnd = 0x00007ffffffff000ull;
// Post-copy migration (format/LazyWire.h): the image the sender announces,
// and the part of it sent before the process starts (all but page data).
inline constexpr uint64_t kMaxLazyImageBytes = 1ull << 46;      // more than any user address space holds
inline constexpr uint64_t kMaxLazySkeletonBytes = 4ull << 30;  // metadata only: far below this

}  // namespace ckpt::format
