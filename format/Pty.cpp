// The ptys section (see Pty.h).
#include "format/Pty.h"

#include <fcntl.h>

#include <algorithm>

#include "format/Codec.h"
#include "format/Limits.h"
#include "format/Sections.h"

namespace ckpt::format {

// id, 4 flags, line, cc (length + 19), 2 speeds, 4 window numbers, packet,
// locked, 2 exclusive, input line count, output length, session, foreground.
static constexpr size_t kMinPtyRecord = 8 + 4 * 4 + 4 + 4 + kPtyCcCount + 4 * 2 + 4 * 4 + 4 * 4 + 4 + 4 + 4 + 4;

std::vector<uint8_t> encode_ptys(const std::vector<Pty>& ptys) {
  ByteWriter w;
  w.u32(uint32_t(ptys.size()));
  for (const Pty& p : ptys) {
    w.u64(p.id);
    for (uint32_t v : {p.iflag, p.oflag, p.cflag, p.lflag, p.line}) w.u32(v);
    w.blob(p.cc);
    for (uint32_t v : {p.ispeed, p.ospeed, p.rows, p.cols, p.xpixel, p.ypixel, p.packet, p.locked, p.excl_master,
                       p.excl_slave})
      w.u32(v);
    w.u32(uint32_t(p.input.size()));
    for (const PtyLine& l : p.input) {
      w.blob(l.bytes);
      w.u32(l.end);
    }
    w.blob(p.output);
    w.i32(p.session);
    w.i32(p.foreground);
  }
  return w.bytes();
}

std::vector<Pty> decode_ptys(const uint8_t* data, size_t n, uint64_t base) {
  ByteReader r(data, n, base);
  std::vector<Pty> ptys(r.count("pty count", kMaxPtys, kMinPtyRecord));
  for (Pty& p : ptys) {
    p.id = r.u64("pty id");
    for (uint32_t* v : {&p.iflag, &p.oflag, &p.cflag, &p.lflag, &p.line}) *v = r.u32("pty termios field");
    uint64_t at = r.offset();
    p.cc = r.blob("pty control characters", kPtyCcCount);
    if (p.cc.size() != kPtyCcCount)
      throw FormatError(at, "pty control characters: " + std::to_string(p.cc.size()) + ", not " +
                                std::to_string(kPtyCcCount));
    for (uint32_t* v : {&p.ispeed, &p.ospeed, &p.rows, &p.cols, &p.xpixel, &p.ypixel, &p.packet, &p.locked,
                        &p.excl_master, &p.excl_slave})
      *v = r.u32("pty setting");
    p.input.resize(r.count("pty input line count", kMaxPtyQueueBytes, 8));
    for (PtyLine& l : p.input) {
      l.bytes = r.blob("pty input line", kMaxPtyQueueBytes);
      l.end = r.u32("pty input line end");
    }
    p.output = r.blob("pty output", kMaxPtyQueueBytes);
    p.session = r.i32("pty session");
    p.foreground = r.i32("pty foreground group");
  }
  r.expect_end("ptys section");
  return ptys;
}

const Pty* find_pty(const std::vector<Pty>& ptys, uint64_t id) {
  auto it = std::lower_bound(ptys.begin(), ptys.end(), id, [](const Pty& p, uint64_t x) { return p.id < x; });
  return it != ptys.end() && it->id == id ? &*it : nullptr;
}

void validate_ptys(const Image& image, const std::function<void(const std::string&)>& bad) {
  constexpr uint32_t kIcanon = 0000002;  // ICANON
  constexpr uint32_t kExtproc = 0200000; // EXTPROC
  const std::vector<Pty>& ptys = image.ptys;
  for (size_t i = 0; i < ptys.size(); ++i) {
    const Pty& p = ptys[i];
    const std::string what = "pty " + std::to_string(p.id);
    if (i && p.id <= ptys[i - 1].id) bad("ptys: ids not ascending (" + what + ")");
    if (p.id >= (1u << 20)) bad(what + ": index out of range");
    if (p.line != 0) bad(what + ": line discipline " + std::to_string(p.line) + " is not N_TTY");
    if (p.rows > 0xffff || p.cols > 0xffff || p.xpixel > 0xffff || p.ypixel > 0xffff) bad(what + ": window size out of range");
    if (p.packet > 1 || p.locked > 1 || p.excl_master > 1 || p.excl_slave > 1) bad(what + ": a flag is not 0 or 1");
    const bool canonical = (p.lflag & kIcanon) && !(p.lflag & kExtproc);
    size_t total = 0;
    for (size_t k = 0; k < p.input.size(); ++k) {
      const PtyLine& l = p.input[k];
      total += l.bytes.size();
      if (l.end > kPtyEndEof) bad(what + ": input line " + std::to_string(k) + " has an unknown end");
      if (l.end == kPtyPartial && k + 1 != p.input.size()) bad(what + ": only the last input line may be unfinished");
      if (l.end != kPtyPartial && !canonical) bad(what + ": input lines on a terminal not in canonical mode");
      if (l.end == kPtyEndChar && l.bytes.empty()) bad(what + ": input line " + std::to_string(k) + " has no end character");
      if (l.end == kPtyPartial && l.bytes.empty()) bad(what + ": an empty unfinished input line");
    }
    if (total > kMaxPtyQueueBytes) bad(what + ": more queued input than a line discipline holds");
    if (p.session < 0 || p.foreground < 0 || (p.session == 0) != (p.foreground == 0))
      bad(what + ": session and foreground group must both be set or both 0");
  }

  // Every pty fd names a record, and every record is named by an fd.
  std::vector<uint64_t> named;
  for (const FdEntry& f : image.files.fds) {
    if (f.kind != FdKind::PtyMaster && f.kind != FdKind::PtySlave) continue;
    const std::string what = "fd " + std::to_string(f.fd) + " (" + fd_kind_name(f.kind) + ")";
    if (!find_pty(ptys, f.object)) bad(what + ": pty " + std::to_string(f.object) + " is not in the ptys section");
    if ((f.flags & O_ACCMODE) != O_RDWR && f.kind == FdKind::PtyMaster) bad(what + ": a pty master is open read-write");
    if ((f.flags & O_ACCMODE) == O_ACCMODE) bad(what + ": invalid access mode");
    if (!f.contents.empty() || !f.locks.empty() || f.pos != 0) bad(what + ": fields a pty does not use");
    named.push_back(f.object);
  }
  std::sort(named.begin(), named.end());
  for (const Pty& p : ptys)
    if (!std::binary_search(named.begin(), named.end(), p.id)) bad("pty " + std::to_string(p.id) + ": no fd names it");
}

static bool same_record(const Pty& a, const Pty& b) {
  return encode_ptys({a}) == encode_ptys({b});
}

void validate_pty_set(const std::vector<PtyProcess>& set, const std::function<void(const std::string&)>& bad) {
  // Every record and end of the set, by pty: (id, member, what).
  struct End {
    uint64_t id;
    size_t member;
    const FdEntry* f;  // nullptr: the member's record itself
  };
  std::vector<End> all;
  for (size_t m = 0; m < set.size(); ++m) {
    for (const Pty& p : set[m].image->ptys) all.push_back({p.id, m, nullptr});
    for (const FdEntry& f : set[m].image->files.fds)
      if (f.kind == FdKind::PtyMaster || f.kind == FdKind::PtySlave) all.push_back({f.object, m, &f});
  }
  std::sort(all.begin(), all.end(), [](const End& a, const End& b) {
    return a.id != b.id ? a.id < b.id : a.member != b.member ? a.member < b.member : (a.f != nullptr) < (b.f != nullptr);
  });
  std::vector<std::pair<int32_t, uint64_t>> sessions;  // (session, pty)
  for (size_t i = 0; i < all.size();) {
    const uint64_t id = all[i].id;
    const std::string what = "pty " + std::to_string(id);
    const Pty* record = nullptr;
    std::vector<std::pair<uint64_t, uint64_t>> masters;  // distinct master descriptions: (member, fd) or (-1, description)
    unsigned slaves = 0;
    for (; i < all.size() && all[i].id == id; ++i) {
      const End& e = all[i];
      if (!e.f) {
        const Pty* p = find_pty(set[e.member].image->ptys, id);
        if (record && !same_record(*record, *p)) bad(what + ": its records in two processes differ");
        record = p;
      } else if (e.f->kind == FdKind::PtyMaster) {
        // One description several members hold (FdEntry::description) counts once.
        if (e.f->description) masters.emplace_back(UINT64_MAX, e.f->description);
        else masters.emplace_back(e.member, uint64_t(uint32_t(e.f->fd)));
      } else {
        ++slaves;
      }
    }
    std::sort(masters.begin(), masters.end());
    masters.erase(std::unique(masters.begin(), masters.end()), masters.end());
    if (masters.size() != 1) bad(what + ": " + std::to_string(masters.size()) + " master fds, not 1");
    if (slaves == 0) bad(what + ": no slave fd");
    if (!record || !record->session) continue;
    // A controlling terminal: of a session led by a process of the set, its
    // foreground group one of that session's groups in the set.
    bool leader = false, group = false;
    for (const PtyProcess& m : set) {
      leader |= m.image->process.pid == record->session && m.sid == record->session;
      group |= m.pgid == record->foreground && m.sid == record->session;
    }
    if (!leader || !group)
      bad(what + ": controlling terminal of session " + std::to_string(record->session) + " (foreground group " +
          std::to_string(record->foreground) + "), which " + (leader ? "has no such group" : "no process leads") +
          " in the image");
    sessions.emplace_back(record->session, id);
  }
  std::sort(sessions.begin(), sessions.end());
  for (size_t k = 1; k < sessions.size(); ++k)
    if (sessions[k].first == sessions[k - 1].first)
      bad("ptys " + std::to_string(sessions[k - 1].second) + " and " + std::to_string(sessions[k].second) +
          " are both the controlling terminal of session " + std::to_string(sessions[k].first));
}

}  // namespace ckpt::format
