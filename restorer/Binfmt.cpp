// binfmt_misc registration of `restore` (see Binfmt.h).
#include "restorer/Binfmt.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "format/Image.h"
#include "restorer/RestoreError.h"

namespace ckpt::restorer {

static std::string entry_path() { return std::string(kBinfmtDir) + "/" + kBinfmtName; }

// Why a write into binfmt_misc failed, and what the caller can do about it.
static std::string advice(const std::string& file, int e) {
  if (e == EACCES || e == EPERM)
    return "cannot write " + file + ": " + std::strerror(e) +
           "; changing binfmt_misc handlers takes root: run it again as root (e.g. with sudo)";
  return "cannot write " + file + ": " + std::strerror(e);
}

static void require_mounted() {
  struct stat st;
  std::string reg = std::string(kBinfmtDir) + "/register";
  if (stat(reg.c_str(), &st) != 0)
    throw RestoreError(std::string("binfmt_misc is not mounted (no ") + reg +
                       "); as root, mount it with `mount -t binfmt_misc none " + kBinfmtDir +
                       "` and run this again");
}

static void write_control(const std::string& file, const std::string& text) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw RestoreError(advice(file, errno));
  // The kernel parses each write() on its own: the text must go in one call.
  ssize_t n = ::write(fd, text.data(), text.size());
  int e = errno;
  ::close(fd);
  if (n != ssize_t(text.size())) throw RestoreError(advice(file, n < 0 ? e : EIO));
}

static bool entry_exists() { return access(entry_path().c_str(), F_OK) == 0; }

// The "interpreter ..." line of an existing entry, or "".
static std::string entry_interpreter() {
  FILE* f = std::fopen(entry_path().c_str(), "re");
  if (!f) return "";
  char line[PATH_MAX + 32];
  std::string interp;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "interpreter ", 12) == 0) {
      interp = line + 12;
      if (!interp.empty() && interp.back() == '\n') interp.pop_back();
    }
  std::fclose(f);
  return interp;
}

// The interpreter runs for every user who executes an image, with their
// rights: it must be root's and writable by no one else, and so must every
// folder above it, or another user could change what runs (before the
// kernel opens it at registration, flag F). A sticky folder (/tmp) is
// writable by others but lets them remove or rename only their own files.
static void check_interpreter(const std::string& path) {
  for (std::string p = path;;) {
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) throw RestoreError("cannot check " + p + ": " + std::strerror(errno));
    const bool dir = S_ISDIR(st.st_mode), sticky = dir && (st.st_mode & S_ISVTX);
    const char* what = dir ? "folder " : "";
    if (st.st_uid != 0)
      throw RestoreError("refusing to register " + path + " with binfmt_misc: " + what + p + " is owned by uid " +
                         std::to_string(st.st_uid) + ", not root");
    if (((st.st_mode & S_IWOTH) || ((st.st_mode & S_IWGRP) && st.st_gid != 0)) && !sticky)
      throw RestoreError("refusing to register " + path + " with binfmt_misc: " + what + p +
                         " is writable by users other than root");
    if (p == "/") break;
    size_t slash = p.rfind('/');
    p = slash == 0 ? "/" : p.substr(0, slash);
  }
}

std::string install_binfmt() {
  require_mounted();
  // The kernel keeps the path only as a name (F opens it now); what runs
  // later must be this binary, wherever the caller's PATH leads.
  char self[PATH_MAX];
  if (!realpath("/proc/self/exe", self)) throw RestoreError(std::string("cannot find restore's own path: ") + std::strerror(errno));
  std::string interp = self;
  // ':' separates the fields of a registration, and the kernel caps the
  // interpreter's length (BINPRM_BUF_SIZE).
  if (interp.find(':') != std::string::npos || interp.find('\n') != std::string::npos)
    throw RestoreError("restore's path " + interp + " contains ':' or a newline, which binfmt_misc cannot take; install it elsewhere");
  if (interp.size() >= 256) throw RestoreError("restore's path " + interp + " is too long for binfmt_misc (255 bytes at most)");
  check_interpreter(interp);

  std::string magic;
  for (uint8_t b : format::kMagic) {
    char hex[5];
    std::snprintf(hex, sizeof hex, "\\x%02x", b);
    magic += hex;
  }
  std::string out;
  if (entry_exists()) {
    std::string old = entry_interpreter();
    write_control(entry_path(), "-1");
    out += "restore: removed the existing binfmt_misc entry '" + std::string(kBinfmtName) + "'" +
           (old.empty() ? "" : " (interpreter " + old + ")") + "\n";
  }
  // :name:type:offset:magic:mask:interpreter:flags
  write_control(std::string(kBinfmtDir) + "/register",
                ":" + std::string(kBinfmtName) + ":M:0:" + magic + "::" + interp + ":F");
  out += "restore: registered binfmt_misc entry '" + std::string(kBinfmtName) + "' (" + entry_path() +
         "): files that start with the ckpt magic " + magic + " now run with " + interp +
         " (flag F: the kernel opened it now, so it also works in containers and chroots; register again after "
         "replacing the binary)\n"
         "restore: make an image runnable with `ckpt dump --executable` or `chmod u+x IMAGE`, then run it as ./IMAGE\n";
  return out;
}

std::string uninstall_binfmt() {
  require_mounted();
  if (!entry_exists())
    return "restore: no binfmt_misc entry '" + std::string(kBinfmtName) + "' is registered; nothing removed\n";
  std::string old = entry_interpreter();
  write_control(entry_path(), "-1");
  return "restore: removed the binfmt_misc entry '" + std::string(kBinfmtName) + "'" +
         (old.empty() ? "" : " (interpreter " + old + ")") + "; images no longer run by themselves\n";
}

}  // namespace ckpt::restorer
