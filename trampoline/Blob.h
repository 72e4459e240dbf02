// The trampoline blob embedded in `restore` (built by trampoline/CMakeLists.txt).
#pragma once

extern "C" const unsigned char ckpt_trampoline_blob[];
extern "C" const unsigned char ckpt_trampoline_blob_end[];
