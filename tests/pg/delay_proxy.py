"""delay_proxy.py - a TCP proxy on 127.0.0.1 that delays each direction.

    python3 delay_proxy.py TARGET_PORT DELAY_MS

Listens on a free port of 127.0.0.1, prints that port on a line of its own
once it accepts connections, and forwards every connection to
127.0.0.1:TARGET_PORT. Each chunk read on one side is written to the other
side DELAY_MS after it arrived, in order, so that a round trip through the
proxy takes at least 2 * DELAY_MS more than a direct one: a host one
network hop away. Runs until it is killed.
"""
import asyncio
import sys


async def pump(reader, writer, delay):
    """Copy reader to writer, each chunk delay seconds after it was read."""
    loop = asyncio.get_running_loop()
    chunks = asyncio.Queue()

    async def send():
        while True:
            due, data = await chunks.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.ensure_future(send())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            chunks.put_nowait((loop.time() + delay, data))
    except (ConnectionError, OSError):
        pass
    chunks.put_nowait((0, None))
    try:
        await sender
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def serve(target_port, delay):
    async def handle(c_reader, c_writer):
        try:
            s_reader, s_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            c_writer.close()
            return
        await asyncio.gather(pump(c_reader, s_writer, delay), pump(s_reader, c_writer, delay))
        for w in (c_writer, s_writer):
            w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: delay_proxy.py TARGET_PORT DELAY_MS")
    asyncio.run(serve(int(sys.argv[1]), float(sys.argv[2]) / 1000.0))


if __name__ == "__main__":
    main()
