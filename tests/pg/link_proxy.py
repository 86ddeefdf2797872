"""link_proxy.py - a TCP proxy on 127.0.0.1 that makes a link slow: a host
one network hop away, or one that sends to the database over a few MB/s.

    python3 link_proxy.py TARGET_PORT [--delay-ms MS] [--up-rate BYTES_PER_S]
                          [--freeze-on TEXT [--armed-by FILE]]

Listens on a free port of 127.0.0.1, prints that port on a line of its own
once it accepts connections, and forwards every connection to
127.0.0.1:TARGET_PORT. With --delay-ms, each chunk read on one side is
written to the other side MS after it arrived, in order, so that a round
trip takes at least 2 * MS more than a direct one. With --up-rate, what the
client sends reaches the server at no more than BYTES_PER_S (the answers
are not limited). With --freeze-on, once a client sends TEXT (while FILE
exists, with --armed-by), nothing more is read or forwarded either way on
that connection, which stays open: a server, or a PgBouncer that PAUSEs,
that took the login and then answers nothing, and whose buffers, once
full, take nothing more either. Runs until it is killed.
"""
import argparse
import asyncio
import os


async def pump(reader, writer, delay, rate, frozen, freeze=None):
    """Copy reader to writer: each chunk delay seconds after it was read,
    and at most rate bytes a second (0: no limit); nothing once the
    connection's event frozen is set, which freeze, (text, file or None),
    sets when found in what is read (see --freeze-on): from then on this
    side is not read either, so that its sender's buffers fill."""
    loop = asyncio.get_running_loop()
    # Bounded, as a socket's buffers are: the reader waits for the link.
    chunks = asyncio.Queue(maxsize=16)

    async def send():
        start, sent = loop.time(), 0
        try:
            while True:
                due, data = await chunks.get()
                if data is None:
                    return
                if rate:
                    sent += len(data)
                    due = max(due, start + sent / rate)
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            # The other side is gone: drop the rest, so the reader never
            # waits for room in the queue.
            while (await chunks.get())[1] is not None:
                pass

    sender = asyncio.ensure_future(send())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if freeze and freeze[0] in data and (not freeze[1] or os.path.exists(freeze[1])):
                frozen.set()
            if frozen.is_set():
                # The link stays open and silent, and reads nothing more.
                await loop.create_future()
            await chunks.put((loop.time() + delay, data))
    except (ConnectionError, OSError):
        pass
    await chunks.put((0, None))
    await sender
    try:
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def serve(target_port, delay, up_rate, freeze):
    async def handle(c_reader, c_writer):
        try:
            s_reader, s_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            c_writer.close()
            return
        frozen = asyncio.Event()
        await asyncio.gather(pump(c_reader, s_writer, delay, up_rate, frozen, freeze),
                             pump(s_reader, c_writer, delay, 0, frozen))
        for w in (c_writer, s_writer):
            w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description="a slow TCP link on 127.0.0.1")
    parser.add_argument("target_port", type=int)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--up-rate", type=float, default=0.0, help="bytes a second, client to server")
    parser.add_argument("--freeze-on", help="text of a client message that freezes the link")
    parser.add_argument("--armed-by", help="with --freeze-on: only while this file exists")
    args = parser.parse_args()
    freeze = (args.freeze_on.encode(), args.armed_by) if args.freeze_on else None
    asyncio.run(serve(args.target_port, args.delay_ms / 1000.0, args.up_rate, freeze))


if __name__ == "__main__":
    main()
