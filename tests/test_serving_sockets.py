"""Several workers share a socket that uvicorn binds as `socket(AF_INET)` (its `proto` is 0), so
asyncio leaves Nagle's algorithm on for the connections they accept, and an answer written in two
parts waited 40 ms for the client's delayed ACK. The bot's HTTP protocol switches it off."""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from uvicorn.server import ServerState

from bot import serving


async def accepted_no_delay(protocol_class: type) -> int:
    """TCP_NODELAY on the server side of one connection accepted the way a worker accepts it."""
    config = uvicorn.Config(app=lambda *args: None, http=protocol_class, log_config=None)
    config.load()
    state, made = ServerState(), []
    listener = socket.socket(family=socket.AF_INET)  # as uvicorn binds it for several workers
    listener.bind(("127.0.0.1", 0))
    assert listener.proto == 0

    def protocol() -> asyncio.Protocol:
        made.append(protocol_class(config=config, server_state=state, app_state={}))
        return made[-1]

    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, sock=listener)
    _, writer = await asyncio.open_connection(*listener.getsockname())
    for _ in range(100):
        if made and getattr(made[0], "transport", None) is not None:
            break
        await asyncio.sleep(0.01)
    accepted = made[0].transport.get_extra_info("socket")
    value = accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    writer.close()
    server.close()
    return value


def test_the_workers_http_protocol_turns_nagle_off_on_each_accepted_connection():
    assert asyncio.run(accepted_no_delay(serving.NoDelayHTTP)) != 0


def test_uvicorns_own_protocol_leaves_it_on_for_such_a_socket():
    """The control: what the workers did before, so the test above is not vacuous."""
    base = serving.NoDelayHTTP.__mro__[1]
    assert asyncio.run(accepted_no_delay(base)) == 0
