// How the kernel schedules a process (SectionType::Scheduling, one per
// member; docs/format.md, "Scheduling"): its policy and priority, nice
// value, CPU affinity, I/O priority and timer slack. Every thread had the
// same at the dump (the dumper refuses otherwise); restore sets them on its
// launcher just before the trampoline, whose threads inherit them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ckpt::format {

struct Image;

struct Scheduling {
  uint32_t policy = 0;        // SCHED_OTHER 0, FIFO 1, RR 2, BATCH 3, IDLE 5 (DEADLINE is refused at dump)
  uint32_t flags = 0;         // sched_attr.sched_flags as carried: only SCHED_FLAG_RESET_ON_FORK (1)
  int32_t nice = 0;           // getpriority(PRIO_PROCESS): -20..19 (kept for real-time policies too)
  uint32_t rt_priority = 0;   // 1..99 for FIFO and RR, else 0
  uint32_t ioprio = 0;        // ioprio_get(IOPRIO_WHO_PROCESS): class << 13 | data
  uint64_t timer_slack_ns = 0;  // /proc/TID/timerslack_ns
  std::vector<uint64_t> affinity;  // sched_getaffinity: bit n of word n/64 = CPU n; trailing zero words dropped
};
inline constexpr uint32_t kSchedResetOnFork = 1;

std::vector<uint8_t> encode_scheduling(const Scheduling& s);
Scheduling decode_scheduling(const uint8_t* data, size_t n, uint64_t base);

// Known policy and flags, priorities and nice in range for the policy, a
// valid I/O priority class, an affinity with at least one CPU.
void validate_scheduling(const Scheduling& s, const std::function<void(const std::string&)>& bad);

// "policy SCHED_FIFO priority 10, nice 5, CPUs 0-1,4, I/O best-effort 7,
// timer slack 50000 ns", for messages and inspect.
std::string scheduling_text(const Scheduling& s);
std::string cpu_list(const std::vector<uint64_t>& mask);  // "0-1,4"

}  // namespace ckpt::format
