"""Both sides of a conversation for tests/e2e/check_real_asyncio.sh.

  asyncio_conversation.py server PORT   an asyncio server: each line a
      client sends is a number; it answers with the running sum and count
      of that connection (state in the coroutine's frame)
  asyncio_conversation.py client PORT   ONE connection: three numbers,
      then half a line ("12", no newline yet) the server has buffered,
      "ready", a line on stdin (the server was dumped and restored
      meanwhile), then the rest of the line and one more number: the
      answers must go on from the same sum. Prints "PASS ..." or "FAIL ..."."""
import asyncio
import socket
import sys

mode, port = sys.argv[1], int(sys.argv[2])

if mode == "server":
    async def conversation(reader, writer):
        total = count = 0
        while line := await reader.readline():
            total += int(line)
            count += 1
            writer.write(b"sum %d after %d lines\n" % (total, count))
            await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(conversation, "127.0.0.1", port)
        print("listening", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())
    sys.exit(0)

sock = socket.create_connection(("127.0.0.1", port))
replies = sock.makefile("rb")


def say(text, want):
    sock.sendall(text)
    got = replies.readline().decode().strip()
    if got != want:
        print("FAIL sent %r, got %r, expected %r" % (text, got, want), flush=True)
        sys.exit(1)


say(b"5\n", "sum 5 after 1 lines")
say(b"10\n", "sum 15 after 2 lines")
say(b"100\n", "sum 115 after 3 lines")
sock.sendall(b"12")  # half a line: in the server's stream buffer at the dump
print("ready", flush=True)
sys.stdin.readline()
say(b"3\n", "sum 238 after 4 lines")
say(b"1000\n", "sum 1238 after 5 lines")
print("PASS the same connection went on: sum 1238 after 5 lines, the half line kept", flush=True)
