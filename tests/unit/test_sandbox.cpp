// The fuzzer's sandbox (tests/fuzz/Sandbox.h) under the signals libFuzzer
// sends its own process: its -timeout alarm has a handler without
// SA_RESTART, so the parent's reads and writes of the hand-shake pipes
// are interrupted. Once, the parent gave up on such a read and closed the
// pipe under the child's write: "the sandboxed child failed (signal 13)".
#include <signal.h>
#include <sys/time.h>

#include <doctest/doctest.h>
#include "tests/fuzz/Sandbox.h"

namespace {
volatile sig_atomic_t g_ticks = 0;
void on_tick(int) { g_ticks = g_ticks + 1; }
}  // namespace

TEST_CASE("sandbox: the hand-shake survives a storm of interrupting signals") {
  struct sigaction tick = {};
  tick.sa_handler = on_tick;  // no SA_RESTART, as libFuzzer's
  struct sigaction old_action;
  REQUIRE(sigaction(SIGALRM, &tick, &old_action) == 0);
  itimerval every{{0, 50}, {0, 50}}, off{};
  REQUIRE(setitimer(ITIMER_REAL, &every, nullptr) == 0);
  int staged = 0, other = 0, last = 0;
  for (int i = 0; i < 200; ++i) {
    int r = ckpt::tests::run_sandboxed([] { return int(ckpt::tests::kStaged); });
    if (r == ckpt::tests::kNoSandbox && i == 0) break;  // reported below
    (r == ckpt::tests::kStaged ? staged : other)++;
    if (r != ckpt::tests::kStaged) last = r;
  }
  setitimer(ITIMER_REAL, &off, nullptr);
  sigaction(SIGALRM, &old_action, nullptr);
  INFO("interrupting signals: " << g_ticks << ", last unexpected result: " << last);
  REQUIRE_MESSAGE(staged + other > 0, "no sandbox here (user namespaces off?): this test needs one, as fuzz.image does");
  CHECK(g_ticks > 0);
  CHECK(other == 0);
  CHECK(staged == 200);
}
