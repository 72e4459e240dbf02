// The dump's summary, as a line or as JSON (see DumpSummary.h).
#include "dumper/DumpSummary.h"

#include <cmath>
#include <string>

#include "format/Printable.h"

namespace ckpt::dumper {

void print_dump_summary(const DumpOptions& o, const DumpReport& r, bool json) {
  const long long frozen_ms = std::llround(r.frozen_seconds * 1000);
  if (json) {
    std::printf("{\"pid\": %d, \"output\": %s, \"members\": %zu, \"vmas\": %zu, \"pages_saved\": %llu, "
                "\"zero_pages_skipped\": %llu, \"pages_inherited\": %llu, \"image_bytes\": %llu, "
                "\"seconds\": %.6f, \"frozen_ms\": %.3f, \"snapshot\": %s, \"pages_faulted\": %llu, \"killed\": %s, "
                "\"pages_from_parent\": %llu, \"prestop_ms\": %.3f, \"pages_precopied\": %llu, \"warnings\": [",
                o.pid, format::json_string(o.output).c_str(), r.members, r.vmas, (unsigned long long)r.pages_saved,
                (unsigned long long)r.zero_pages_skipped, (unsigned long long)r.pages_inherited,
                (unsigned long long)r.image_bytes, r.seconds, r.frozen_seconds * 1000, r.snapshot ? "true" : "false",
                (unsigned long long)r.pages_faulted, o.kill ? "true" : "false", (unsigned long long)r.pages_from_parent,
                r.prestop_seconds * 1000, (unsigned long long)r.pages_precopied);
    for (size_t i = 0; i < r.warnings.size(); ++i)
      std::printf("%s%s", i ? ", " : "", format::json_string(r.warnings[i]).c_str());
    std::printf("]}\n");
    std::fflush(stdout);
    return;
  }
  std::string tree = r.members > 1 ? " and " + std::to_string(r.members - 1) + (r.members == 2 ? " descendant" : " descendants") : "";
  if (r.pages_inherited) tree += " (" + std::to_string(r.pages_inherited) + " of their pages shared with their parents)";
  if (!o.parent.empty() || o.parent_ref)
    tree += " (incremental: " + std::to_string(r.pages_from_parent) + " pages left to the parent image)";
  std::fprintf(stderr, "ckpt: dumped pid %d%s to %s: %zu memory areas, %llu pages saved (%llu zero pages skipped), "
                       "%llu bytes, %.3f s, frozen %lld ms%s%s\n",
               o.pid, tree.c_str(), format::printable(o.output).c_str(), r.vmas, (unsigned long long)r.pages_saved,
               (unsigned long long)r.zero_pages_skipped, (unsigned long long)r.image_bytes, r.seconds, frozen_ms,
               r.snapshot ? " (snapshot)" : "", o.kill ? ", process killed" : "");
}

}  // namespace ckpt::dumper
