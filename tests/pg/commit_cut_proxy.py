"""A TCP proxy on 127.0.0.1 in front of PostgreSQL that loses COMMIT answers.

    commit_cut_proxy.py LISTEN_PORT SERVER_PORT PROBABILITY SEED

Each client connection gets its own server connection; bytes pass both ways
unchanged, except that a client's simple-query COMMIT is, with the given
probability, forwarded to the server and then both connections are cut 30
ms later without forwarding the server's answer: the commit happened, the
client never hears of it (as when a network or a host fails at that
moment). Prints "cut N" for every cut. Used by test_lost_commit.sh.
"""
import asyncio
import random
import sys

LISTEN, SERVER, P = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
random.seed(int(sys.argv[4]))
COMMIT = b"Q\x00\x00\x00\x0bCOMMIT\x00"
cuts = 0


async def relay(client_r, client_w, server_r, server_w):
    muted = False  # once a COMMIT is to be cut, the server's answer is dropped

    async def upstream():
        nonlocal muted
        global cuts
        while data := await client_r.read(65536):
            cut = COMMIT in data and random.random() < P
            muted = muted or cut
            server_w.write(data)
            await server_w.drain()
            if cut:
                await asyncio.sleep(0.03)
                cuts += 1
                print("cut", cuts, flush=True)
                client_w.transport.abort()
                server_w.transport.abort()
                return

    async def downstream():
        while data := await server_r.read(65536):
            if muted:
                continue
            client_w.write(data)
            await client_w.drain()

    try:
        await asyncio.gather(upstream(), downstream())
    except (ConnectionError, OSError):
        pass
    finally:
        client_w.close()
        server_w.close()


async def handle(client_r, client_w):
    server_r, server_w = await asyncio.open_connection("127.0.0.1", SERVER)
    await relay(client_r, client_w, server_r, server_w)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", LISTEN)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
