// `restore IMAGE`: this process becomes the process saved in IMAGE, keeping
// its own pid and its fds 0, 1 and 2 (the shell-job convention).
//
// Phases (docs/architecture.md): 1. read and validate the image and this
// machine, with no side effects; 2. plan addresses; 3. stage memory;
// 4. point of no return; 5. the trampoline finishes and resumes the program.
// Exit status before the point of no return: 1 bad image or unfit machine,
// 2 usage; after it: 120 (trampoline::kExitAfterPointOfNoReturn).
#include <fcntl.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <set>
#include <vector>

#include "format/FormatError.h"
#include "format/ImageReader.h"
#include "restorer/AddressPlan.h"
#include "restorer/Binfmt.h"
#include "restorer/Descriptors.h"
#include "restorer/LazyPages.h"
#include "restorer/Launch.h"
#include "restorer/MachineCheck.h"
#include "restorer/RestoreError.h"
#include "restorer/Stager.h"
#include "x86/ProcMaps.h"

namespace po = boost::program_options;
using namespace ckpt;

static const char* kUsage =
    "usage: restore IMAGE [--lazy] [--check] [--verbose] [--inherit-fd N]...\n"
    "       restore --install-binfmt | --uninstall-binfmt\n"
    "  Replaces this process with the one saved in IMAGE (made by `ckpt dump`).\n"
    "  --lazy     bring private anonymous memory in on first touch (and in the background)\n"
    "             instead of before the program runs again: start-up time independent of\n"
    "             memory size; a detached page server (ckpt-lazy) lives until all is in\n"
    "  --check    validate the image against this machine and exit 0, restoring nothing\n"
    "  --verbose  say what is done, on stderr\n"
    "  --inherit-fd N  this fd N stands in for the saved process's fd N, a pipe end\n"
    "                  whose other end was outside the process\n"
    "  --install-binfmt    (root) register this restore with binfmt_misc, so ./IMAGE runs\n"
    "  --uninstall-binfmt  (root) remove that registration\n";

int main(int argc, char** argv) {
  std::string image_path;
  bool check_only = false, verbose = false, install = false, uninstall = false, lazy = false;
  std::vector<int> inherit_list;
  try {
    po::options_description opts;
    opts.add_options()("image", po::value(&image_path))("check", po::bool_switch(&check_only))(
        "verbose", po::bool_switch(&verbose))("lazy", po::bool_switch(&lazy))("install-binfmt", po::bool_switch(&install))(
        "uninstall-binfmt", po::bool_switch(&uninstall))("inherit-fd", po::value(&inherit_list)->composing())(
        "help,h", "");
    po::positional_options_description pos;
    pos.add("image", 1);
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(opts).positional(pos).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (install || uninstall) {
      if (install && uninstall) throw po::error("--install-binfmt and --uninstall-binfmt exclude each other");
      if (!image_path.empty() || check_only || lazy) throw po::error("--install-binfmt and --uninstall-binfmt take no image");
    } else if (image_path.empty()) {
      throw po::error("missing IMAGE");
    }
  } catch (const po::error& e) {
    std::fprintf(stderr, "restore: %s\n%s", e.what(), kUsage);
    return 2;
  }
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
    int fd = ::open(image_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw restorer::RestoreError("cannot open " + image_path + ": " + std::strerror(errno));
    format::ImageReader reader(fd);
    const format::Image& image = reader.image();
    std::vector<x86::MapsEntry> self = x86::parse_maps(x86::read_proc_file("/proc/self/maps"));
    restorer::MachineFit fit = restorer::check_machine(image, self);
    restorer::check_files(image, inherit);
    if (check_only) {
      reader.verify_page_data();
      if (lazy) restorer::check_lazy_pages();
      std::printf("%s: can be restored here\n", image_path.c_str());
      return 0;
    }
    restorer::AddressPlan plan = restorer::plan_addresses(image, self, restorer::home_size(image),
                                                          restorer::vdso_scratch_size(image, fit.vdso));
    restorer::PreparedFiles files = restorer::prepare_files(image, inherit);
    restorer::LaunchOptions options{verbose};
    if (lazy) {
      std::vector<bool> chosen = restorer::choose_lazy(image);
      if (std::find(chosen.begin(), chosen.end(), true) != chosen.end()) {
        restorer::LazyPages pages = restorer::start_lazy_pages(reader, std::move(chosen));
        plan.lazy = std::move(pages.lazy);
        options.uffd = pages.uffd;
        options.lazy_go_fd = pages.go_fd;
      }
    }
    restorer::stage_memory(reader, fit, plan, files);
    restorer::seal_memfds(files);
    restorer::launch(image, fit, plan, files, options);
  } catch (const format::FormatError& e) {
    std::fprintf(stderr, "restore: %s: bad image %s\n", image_path.c_str(), e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "restore: %s: %s\n", image_path.c_str(), e.what());
  }
  return 1;
}
