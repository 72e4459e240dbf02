#!/usr/bin/env python3
"""A misbehaving peer of a post-copy migration, for tests/e2e/check_migrate_lazy.sh.

  lazy_peer.py dest PORT MODE TOKENFILE   a fake `restore --listen`: accepts the hello,
      reads the skeleton (format/LazyWire.h), then sends what MODE says:
        badoffset  "R 12345\\n" (no chunk starts there)
        notreq     "HELLO\\n"
        long       40 bytes without a newline
        afterok    "OK\\n", then "R 12345\\n" (past the point of no return)
      and waits for the sender to close.
  lazy_peer.py proxy PORT TO_PORT MODE    sits between ckpt migrate --lazy and restore
      --listen, passing everything on, except the first chunk message, which MODE changes:
        dup        sent twice
        cut        cut in its middle, then both connections closed
        renumber   its offset moved by 8
        magic      its magic damaged
Prints "listening" once it listens.
"""
import socket
import struct
import sys
import threading


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError(f"EOF after {len(b)} of {n} bytes")
        b += c
    return b


def listen(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    print("listening", flush=True)
    c, _ = ls.accept()
    ls.close()
    return c


def read_skeleton(s, out=None):
    head = recv_exact(s, 48)
    if out:
        out.sendall(head)
    assert head[:8] == b"CKPTLAZY", head[:8]
    size, hs, he = struct.unpack_from("<QQQ", head, 8)
    left = hs + (size - he)
    while left:
        b = s.recv(min(left, 1 << 20))
        if not b:
            raise EOFError("skeleton cut")
        if out:
            out.sendall(b)
        left -= len(b)


def fake_dest(port, mode, token_file):
    token = open(token_file).read().rstrip("\n").encode()
    c = listen(port)
    hello = recv_exact(c, 12)
    (n,) = struct.unpack_from("<I", hello, 8)
    if hello[:8] != b"CKPTMIG1" or recv_exact(c, n) != token:
        c.sendall(b"REFUSED\n")
        return
    c.sendall(b"ACCEPT\n")
    read_skeleton(c)
    c.sendall({"badoffset": b"R 12345\n", "notreq": b"HELLO\n", "long": b"x" * 40,
               "afterok": b"OK\nR 12345\n"}[mode])
    c.shutdown(socket.SHUT_WR)
    try:
        while c.recv(1 << 16):
            pass
    except OSError:
        pass


def proxy(port, to_port, mode):
    src = listen(port)
    dst = socket.create_connection(("127.0.0.1", to_port))

    def back():  # destination -> source, as it comes
        try:
            while True:
                b = dst.recv(1 << 16)
                if not b:
                    break
                src.sendall(b)
        except OSError:
            pass
        try:
            src.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=back, daemon=True).start()
    hello = recv_exact(src, 12)
    (n,) = struct.unpack_from("<I", hello, 8)
    dst.sendall(hello + recv_exact(src, n))
    read_skeleton(src, dst)
    head = recv_exact(src, 32)
    assert head[:8] == b"CKPTPAGE", head[:8]
    (size,) = struct.unpack_from("<Q", head, 16)
    body = recv_exact(src, size)
    if mode == "dup":
        dst.sendall(head + body + head + body)
    elif mode == "cut":
        dst.sendall(head + body[: size // 2])
        dst.close()
        src.close()
        return
    elif mode == "renumber":
        (off,) = struct.unpack_from("<Q", head, 8)
        dst.sendall(head[:8] + struct.pack("<Q", off + 8) + head[16:] + body)
    elif mode == "magic":
        dst.sendall(b"X" + head[1:] + body)
    try:
        while True:
            b = src.recv(1 << 16)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


if __name__ == "__main__":
    if sys.argv[1] == "dest":
        fake_dest(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        proxy(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
