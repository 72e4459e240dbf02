// restore --lazy's learned working set, the launcher's side: finding
// IMAGE.ws, checking it against the image, and bringing its pages into the
// staged lazy areas before the point of no return, so that the restored
// program does not fault on them. The page server records the set
// (`restore --lazy --learn`, PageServer.h). docs/architecture.md, "Lazy
// restore that learns"; docs/format.md, "Working-set file".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "format/ImageReader.h"
#include "format/WorkingSet.h"
#include "restorer/AddressPlan.h"

namespace ckpt::restorer {

// Where the working set of the image at `image_path` lives: beside it.
std::string working_set_path(const std::string& image_path);

// IMAGE.ws, if there is one that belongs to this image and whose every
// page lies in one of its lazy areas (`lazy`, per VMA). A working set is a
// hint: an absent one is nothing; a bad, foreign or stale one is ignored,
// with one line on stderr saying which and why (the restore goes on as a
// plain --lazy one).
std::optional<format::WorkingSet> load_working_set(const std::string& image_path, const format::ImageReader& reader,
                                                   const std::vector<bool>& lazy);

// Checks `ws` against the image's lazy areas; throws FormatError naming the
// first run that is not inside one lazy area.
void check_working_set(const format::WorkingSet& ws, const format::Image& image, const std::vector<bool>& lazy);

// restore --lazy (without --learn), after staging: IMAGE.ws's pages, read
// (and checked) from the image, are written into the staged lazy areas in
// one batch; pages the image holds none of are mapped as the zero page, as
// a first read would. Pages of areas saved without PROT_WRITE are left to
// the server. With `verbose`, says how many pages came in.
void bring_in_working_set(const format::ImageReader& reader, const AddressPlan& plan, const std::string& image_path,
                          bool verbose);

// The page server's side of --learn: writes `ws` as NAME (IMAGE.ws's base
// name) in the directory `dir_fd` through a temporary file renamed over it,
// so that a reader never sees half a file. Throws std::runtime_error.
void write_working_set(int dir_fd, const std::string& name, const format::WorkingSet& ws);

}  // namespace ckpt::restorer
