"""throttle_proxy.py - a TCP proxy on 127.0.0.1 whose client-to-server side
is slow: a host that sends to the database over a link of a few MB/s.

    python3 throttle_proxy.py TARGET_PORT BYTES_PER_S

Listens on a free port of 127.0.0.1, prints that port on a line of its own
once it accepts connections, and forwards every connection to
127.0.0.1:TARGET_PORT: what the client sends reaches the server at no more
than BYTES_PER_S, what the server answers comes back at once. Runs until
it is killed.
"""
import asyncio
import sys


async def pump(reader, writer, rate):
    """Copy reader to writer, at most rate bytes a second (None: no limit)."""
    loop = asyncio.get_running_loop()
    start, sent = loop.time(), 0
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if rate:
                sent += len(data)
                ahead = start + sent / rate - loop.time()
                if ahead > 0:
                    await asyncio.sleep(ahead)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def serve(target_port, rate):
    async def handle(c_reader, c_writer):
        try:
            s_reader, s_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            c_writer.close()
            return
        await asyncio.gather(pump(c_reader, s_writer, rate), pump(s_reader, c_writer, None))
        for w in (c_writer, s_writer):
            w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: throttle_proxy.py TARGET_PORT BYTES_PER_S")
    asyncio.run(serve(int(sys.argv[1]), float(sys.argv[2])))


if __name__ == "__main__":
    main()
