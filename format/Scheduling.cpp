// The scheduling record (see Scheduling.h).
#include "format/Scheduling.h"

#include "format/Codec.h"
#include "format/FormatError.h"
#include "format/Limits.h"

namespace ckpt::format {

namespace {

const char* policy_name(uint32_t p) {
  switch (p) {
    case 0: return "SCHED_OTHER";
    case 1: return "SCHED_FIFO";
    case 2: return "SCHED_RR";
    case 3: return "SCHED_BATCH";
    case 5: return "SCHED_IDLE";
    default: return nullptr;
  }
}

}  // namespace

std::vector<uint8_t> encode_scheduling(const Scheduling& s) {
  ByteWriter w;
  w.u32(s.policy);
  w.u32(s.flags);
  w.i32(s.nice);
  w.u32(s.rt_priority);
  w.u32(s.ioprio);
  w.u64(s.timer_slack_ns);
  w.u32(uint32_t(s.affinity.size()));
  for (uint64_t word : s.affinity) w.u64(word);
  return w.bytes();
}

Scheduling decode_scheduling(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  Scheduling s;
  s.policy = r.u32("scheduling policy");
  s.flags = r.u32("scheduling flags");
  s.nice = r.i32("nice value");
  s.rt_priority = r.u32("real-time priority");
  s.ioprio = r.u32("I/O priority");
  s.timer_slack_ns = r.u64("timer slack");
  s.affinity.resize(r.count("CPU affinity word count", kMaxAffinityWords, 8));
  for (uint64_t& word : s.affinity) word = r.u64("CPU affinity word");
  r.expect_end("scheduling section");
  return s;
}

void validate_scheduling(const Scheduling& s, const std::function<void(const std::string&)>& bad) {
  if (!policy_name(s.policy)) bad("unknown scheduling policy " + std::to_string(s.policy));
  if (s.flags & ~kSchedResetOnFork) bad("unknown scheduling flags " + std::to_string(s.flags));
  const bool rt = s.policy == 1 || s.policy == 2;
  if (rt ? s.rt_priority < 1 || s.rt_priority > 99 : s.rt_priority != 0)
    bad("real-time priority " + std::to_string(s.rt_priority) + " does not fit policy " + policy_name(s.policy));
  if (s.nice < -20 || s.nice > 19) bad("nice value " + std::to_string(s.nice) + " is outside -20..19");
  const uint32_t cls = s.ioprio >> 13, level = s.ioprio & 0x1fff;
  if (cls > 3 || level > 7)  // (ioprio_set keeps whatever level it was given, the idle class's too)
    bad("I/O priority " + std::to_string(s.ioprio) + " is not a valid class and level");
  bool any = false;
  for (uint64_t word : s.affinity) any |= word != 0;
  if (!any) bad("the CPU affinity names no CPU");
  if (!s.affinity.empty() && s.affinity.back() == 0) bad("the CPU affinity has trailing zero words");
}

std::string cpu_list(const std::vector<uint64_t>& mask) {
  std::string out;
  const size_t bits = mask.size() * 64;
  for (size_t i = 0; i < bits;) {
    if (!(mask[i / 64] >> (i % 64) & 1)) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j + 1 < bits && (mask[(j + 1) / 64] >> ((j + 1) % 64) & 1)) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(i);
    if (j > i) out += "-" + std::to_string(j);
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

std::string scheduling_text(const Scheduling& s) {
  static const char* const kIoClass[] = {"none", "realtime", "best-effort", "idle"};
  const char* p = policy_name(s.policy);
  std::string out = std::string("policy ") + (p ? p : std::to_string(s.policy).c_str());
  if (s.rt_priority) out += " priority " + std::to_string(s.rt_priority);
  if (s.flags & kSchedResetOnFork) out += " (reset on fork)";
  out += ", nice " + std::to_string(s.nice) + ", CPUs " + cpu_list(s.affinity);
  const uint32_t cls = s.ioprio >> 13;
  out += std::string(", I/O ") + (cls <= 3 ? kIoClass[cls] : "?");
  if (cls == 1 || cls == 2) out += " " + std::to_string(s.ioprio & 0x1fff);
  out += ", timer slack " + std::to_string(s.timer_slack_ns) + " ns";
  return out;
}

}  // namespace ckpt::format
