/* The linked trampoline, embedded in `restore` as read-only bytes. */
        .section .rodata.trampoline, "a"
        .balign 64
        .globl ckpt_trampoline_blob
        .globl ckpt_trampoline_blob_end
ckpt_trampoline_blob:
        .incbin TRAMPOLINE_BIN
ckpt_trampoline_blob_end:
        .section .note.GNU-stack, "", @progbits
