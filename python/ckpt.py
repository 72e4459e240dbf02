"""ckpt: checkpoint this Python process from inside (ctypes over libckpt).

    import ckpt
    if ckpt.checkpoint("app.ckpt") == ckpt.RESTORED:
        ...   # a copy made by `restore app.ckpt`
    else:
        ...   # the original; the image is on disk

checkpoint() returns twice, like os.fork(): ORIGINAL (0) in the original
once the image is safely on disk, RESTORED (1) in every copy `restore`
makes of it; it raises CkptError (with .code and the message) otherwise,
and the original then runs on. Other Python threads keep running while the
dump is taken (the call releases the GIL) and are in the image.

Every restored copy starts from the same memory: the `random` module,
numpy's generators and any counter give every copy the same sequence
(os.urandom, secrets and uuid.uuid4 draw from the kernel and differ).
Register what must differ:

    ckpt.on_restore(random.seed)        # each copy draws its own numbers

libckpt is found through $CKPT_LIB, else the system's libckpt.so.0; the
dumper through $CKPT_BIN, else the installed ckpt, else PATH.
"""

import ctypes
import ctypes.util
import os

ORIGINAL = 0
RESTORED = 1

IGNORE_FDS = 1
NO_COMPRESS = 2

# error codes, as in ckpt/ckpt.h
E_INVAL = 1
E_NODUMPER = 2
E_SYSTEM = 3
E_DUMP = 4
E_BUSY = 5
E_HOOKS = 6

_hooks = []
_lib = None


class CkptError(RuntimeError):
    """A failed checkpoint: .code (an E_* value) and the one-line message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _library():
    global _lib
    if _lib is None:
        path = os.environ.get("CKPT_LIB") or ctypes.util.find_library("ckpt") or "libckpt.so.0"
        lib = ctypes.CDLL(path)
        lib.ckpt_checkpoint.argtypes = [ctypes.c_char_p, ctypes.c_uint]
        lib.ckpt_checkpoint.restype = ctypes.c_int
        lib.ckpt_error.restype = ctypes.c_int
        lib.ckpt_error_message.restype = ctypes.c_char_p
        lib.ckpt_generation.restype = ctypes.c_uint
        lib.ckpt_copy_id.restype = ctypes.c_uint64
        _lib = lib
    return _lib


def checkpoint(path, ignore_fds=False, compress=True):
    """Writes an image of this process to `path`; ORIGINAL or RESTORED."""
    lib = _library()
    flags = (IGNORE_FDS if ignore_fds else 0) | (0 if compress else NO_COMPRESS)
    r = lib.ckpt_checkpoint(os.fsencode(path), flags)
    if r < 0:
        # The message is thread-local in libckpt: read on the thread that failed.
        raise CkptError(lib.ckpt_error(), lib.ckpt_error_message().decode(errors="replace"))
    if r == RESTORED:
        for fn, args in list(_hooks):
            fn(*args)
    return r


def on_restore(fn, *args):
    """Runs fn(*args) in every restored copy, before checkpoint() returns."""
    _hooks.append((fn, args))


def generation():
    """0 in a process never restored; in a copy, how many restores deep it is."""
    return _library().ckpt_generation()


def copy_id():
    """0 in the original; a random non-zero id of each restored copy's own."""
    return _library().ckpt_copy_id()


def restored():
    """True in a copy made by restore from an image written by checkpoint()."""
    return generation() > 0
