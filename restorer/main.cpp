// `restore IMAGE`: this process becomes the process saved in IMAGE, keeping
// its own pid and its fds 0, 1 and 2 (the shell-job convention); with
// --pid-ns, a child of it does, with the saved pid (restorer/PidNamespace.h).
//
// Phases (docs/architecture.md): 1. read and validate the image and this
// machine, with no side effects; 2. plan addresses; 3. stage memory;
// 4. point of no return; 5. the trampoline finishes and resumes the program.
// Exit status before the point of no return: 1 bad image or unfit machine,
// 2 usage; after it: 120 (trampoline::kExitAfterPointOfNoReturn).
#include <fcntl.h>
#include <sys/auxv.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/Version.h"
#include "format/FormatError.h"
#include "format/ImageChain.h"
#include "format/ImageReader.h"
#include "format/Printable.h"
#include "restorer/AddressPlan.h"
#include "restorer/Binfmt.h"
#include "restorer/CommandLine.h"
#include "restorer/Credentials.h"
#include "restorer/DeletedFiles.h"
#include "restorer/ImageSource.h"
#include "restorer/Descriptors.h"
#include "restorer/LazyPages.h"
#include "restorer/NetworkPages.h"
#include "restorer/WorkingSet.h"
#include "restorer/Launch.h"
#include "restorer/MachineCheck.h"
#include "restorer/RestoreError.h"
#include "restorer/Seccomp.h"
#include "restorer/StageProgress.h"
#include "restorer/Stager.h"
#include "restorer/OwnFiles.h"
#include "restorer/PidNamespace.h"
#include "restorer/SysvShm.h"
#include "restorer/TaskRestore.h"
#include "restorer/Terminal.h"
#include "restorer/TimeNamespace.h"
#include "restorer/Tree.h"
#include "x86/ProcMaps.h"

using namespace ckpt;

// Whether binfmt_misc started this restore for an image (./app.ckpt): the
// kernel then passes the executed file's name as argv[1], the very string
// AT_EXECFN names (run directly, AT_EXECFN names restore itself). That
// argument is then an image path whatever it looks like, so an image named
// --install-binfmt or --page-server never reaches those modes.
static bool started_by_binfmt(int argc, char** argv) {
  const char* execfn = reinterpret_cast<const char*>(getauxval(AT_EXECFN));
  return argc > 1 && execfn && std::strcmp(execfn, argv[1]) == 0;
}

// Whether this is the page server of a restore --lazy: LazyPages executes
// /proc/self/exe with argv[0] "restore" and argv[1] "--page-server".
// Through binfmt_misc argv[0] is always the interpreter's absolute path,
// also when a script's "#!" line names an image called --page-server (then
// argv[1] is that name, not AT_EXECFN's): that never reaches this mode.
static bool is_page_server(int argc, char** argv, bool binfmt) {
  return !binfmt && argc > 1 && std::strcmp(argv[0], "restore") == 0 && std::strcmp(argv[1], "--page-server") == 0;
}

int main(int argc, char** argv) {
  // A write into a pipe or socket that lost its reader (an image's queued
  // data, a sender gone) is then an error, reported in one line, never a
  // death by SIGPIPE. The restored process gets its own saved action: the
  // trampoline installs all 64.
  signal(SIGPIPE, SIG_IGN);
  const bool binfmt = started_by_binfmt(argc, argv);
  // Internal: the page server of a restore --lazy (restorer/LazyPages.h).
  if (is_page_server(argc, argv, binfmt)) return restorer::run_page_server(argc, argv);
  restorer::CommandLine cl;
  try {
    if (binfmt) {
      // The restored program's argv is the saved one: ./IMAGE takes no arguments.
      if (argc > 2) throw restorer::UsageError(std::string("an image run by itself takes no arguments (") + argv[2] + ")");
      cl.image = argv[1];
    } else {
      cl = restorer::parse_command_line(argc, argv);
    }
  } catch (const restorer::UsageError& e) {
    std::fprintf(stderr, "restore: %s\n%s", e.what(), restorer::kUsage);
    return 2;
  }
  if (cl.help) {
    std::fputs(restorer::kUsage, stdout);
    return 0;
  }
  if (cl.version) {
    std::fputs(common::version_text("restore").c_str(), stdout);
    return 0;
  }
  const std::string& image_path = cl.image;
  bool lazy = cl.lazy;
  const bool check_only = cl.check, verbose = cl.verbose, install = cl.install_binfmt, uninstall = cl.uninstall_binfmt;
  const std::vector<int>& inherit_list = cl.inherit_fds;
  if (install || uninstall) {
    try {
      std::fputs((install ? restorer::install_binfmt() : restorer::uninstall_binfmt()).c_str(), stdout);
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "restore: %s\n", e.what());
      return 1;
    }
  }

  const std::set<int> inherit(inherit_list.begin(), inherit_list.end());
  // Checked before restore opens anything, which could take a closed number.
  for (int n : inherit)
    if (n < 3 || fcntl(n, F_GETFD) < 0) {
      std::fprintf(stderr, "restore: --inherit-fd %d: %s\n", n,
                   n < 3 ? "fds 0-2 are always restore's own" : "restore has no such fd open");
      return 1;
    }
  try {
    int fd = restorer::open_image_source(cl);  // a file, standard input or --listen
    lazy = lazy || restorer::network_pages_connection() >= 0;  // ckpt migrate --lazy chose it (NetworkPages.h)
    // The page server starts first: its exec overlaps all that follows.
    std::unique_ptr<restorer::LazyPages> lazy_pages;
    if (lazy && !check_only && !cl.pid_ns) lazy_pages = restorer::start_page_server(fd, image_path, {cl.learn, verbose});
    format::ImageReader reader(fd);
    // An incremental image: its parents are checked and its pages resolved, before anything else.
    if (reader.image().parent) {
      if (lazy) throw std::runtime_error("--lazy cannot restore an incremental image (restore it without --lazy)");
      format::follow_chain(reader, image_path, restorer::received_images());  // a migration's rounds, or files
    }
    const format::Image& image = reader.image();
    if (cl.pid_ns) restorer::check_pid_namespace(reader);
    std::vector<x86::MapsEntry> self = x86::parse_maps(x86::read_proc_file("/proc/self/maps"));
    if (reader.member_count() > 1) {  // a process tree (restorer/Tree.h)
      lazy_pages.reset();
      return restorer::restore_tree(reader, cl, {inherit, cl.external_null}, self);
    }
    // Compressed chunks start decompressing on another core while the
    // checks and the plan below run on this one (restorer/Predecoder.h).
    std::optional<restorer::Predecoder> predecoder;
    if (!check_only && !lazy && !cl.pid_ns && !image.parent && restorer::Predecoder::useful(image))
      predecoder.emplace(reader, image);
    restorer::MachineFit fit = restorer::check_machine(image, self);
    restorer::Terminal terminal = restorer::Terminal::plan(image, cl.pid_ns);
    const restorer::ExternalFds external{inherit, cl.external_null, &terminal};
    restorer::check_files(image, external);
    restorer::check_sysv_shm(image);
    restorer::check_own_files(image, cl.pid_ns);
    const restorer::ClockPlan clocks = restorer::plan_clocks(image, cl.host_clocks);
    // Last: a more specific refusal comes first, and no warning precedes one.
    const std::string credential_warnings = restorer::check_full_credentials(image);
    std::fputs((clocks.warning + credential_warnings).c_str(), stderr);
    if (check_only) {
      // What restore checks later, without staging: the saved resource
      // limits (tried on a child) and all page data.
      trampoline::Rlimit limits[format::kRlimitCount];
      uint32_t limit_mask = 0;
      restorer::plan_rlimits(image, limits, &limit_mask);
      restorer::check_launch_layout(image);
      restorer::check_seccomp(image);
      reader.verify_page_data();
      format::verify_chain_page_data(reader);
      reader.verify_chunks();  // as staging reads them: what it would refuse, --check refuses
      if (lazy) restorer::check_lazy_pages();
      if (cl.pid_ns) restorer::probe_pid_namespace(reader);
      std::printf("%s: can be restored here\n", image_path.c_str());
      return 0;
    }
    if (cl.pid_ns) {
      // Returns only in the restored process, which has its saved pid; this
      // restore stays outside, relays signals and exits as it does.
      restorer::enter_pid_namespace(reader, terminal.leads_own_group());
      terminal.lead_saved_group();
      self = x86::parse_maps(x86::read_proc_file("/proc/self/maps"));
      if (lazy) lazy_pages = restorer::start_page_server(fd, image_path, {cl.learn, verbose});
    }
    restorer::AddressPlan plan = restorer::plan_addresses(image, self, restorer::home_size(image),
                                                          restorer::vdso_scratch_size(image, fit.vdso));
    // Shared memory objects only here: the launcher's own memory. Nothing
    // outside it changes until every page is staged and checked and every
    // check of launch() has passed (prepare_fds below).
    restorer::PreparedFiles files = restorer::prepare_objects(image);
    restorer::LaunchOptions options{verbose};
    options.saved_tids = cl.pid_ns;
    options.terminal = &terminal;
    options.sigwinch = terminal.sigwinch();
    if (lazy_pages) {
      std::vector<bool> chosen = restorer::choose_lazy(image);
      if (std::find(chosen.begin(), chosen.end(), true) == chosen.end()) {
        lazy_pages.reset();  // nothing to serve: the server sees EOF and exits
      } else {
        restorer::commit_lazy_areas(*lazy_pages, image, chosen);
        plan.lazy = std::move(chosen);
        options.uffd = lazy_pages->uffd;
        options.lazy_go_fd = lazy_pages->go_fd;
      }
    }
    restorer::fetch_staged_pages(image, plan.lazy);  // post-copy: what is staged comes first
    {
      restorer::StageProgress progress(image, plan, cl);
      restorer::stage_memory(reader, fit, plan, files, predecoder ? &*predecoder : nullptr);
    }
    if (verbose && predecoder)
      std::fprintf(stderr, "restore: %zu compressed chunks were decompressed before staging began\n", predecoder->taken());
    // A working set is kept beside an image file only (IMAGE.ws; CommandLine.cpp).
    const bool from_file = cl.listen.empty() && cl.image != "-";
    if (lazy_pages && !cl.learn && from_file) restorer::bring_in_working_set(reader, plan, image_path, verbose);
    restorer::check_launch(image, fit, plan);
    if (lazy_pages) restorer::confirm_page_server(*lazy_pages);
    // Single-threaded from here (the stager's threads and the lazy
    // server's middle are gone), as joining a time namespace requires; and
    // before any descriptor is made, so that an absolute timerfd deadline
    // on CLOCK_MONOTONIC or CLOCK_BOOTTIME is read on the process's clock.
    if (clocks.time_namespace) restorer::enter_time_namespace(image);
    // The first changes outside this process: SysV segments and per-process
    // files, removed again if the restore fails before launch.
    restorer::SysvSegments sysv = restorer::create_sysv_shm(image);
    restorer::OwnFiles own = restorer::create_own_files(image, cl.pid_ns);
    restorer::stage_outside(image, plan, sysv, own);
    sysv.mark_removed(image);
    restorer::prepare_fds(image, external, files);
    restorer::fill_pipes(files);
    restorer::seal_memfds(files);
    files.deleted_exe = restorer::finish_deleted_files(image, files.deleted);
    restorer::confirm_image_source();  // a migration's sender kills its process now
    restorer::launch(image, fit, plan, files, options);
  } catch (const format::FormatError& e) {
    std::fprintf(stderr, "restore: %s: bad image %s\n", format::printable(image_path).c_str(),
                 format::printable(e.what()).c_str());
  } catch (const std::exception& e) {
    // Messages name paths the image chose: printed escaped.
    std::fprintf(stderr, "restore: %s: %s\n", format::printable(image_path).c_str(),
                 format::printable(e.what()).c_str());
  }
  return 1;
}
