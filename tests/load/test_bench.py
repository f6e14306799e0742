"""The benchmark's HTTP client (load/bench.py): whatever the server answers, or does not, a
request ends with a status code, 0 for an error, and the run goes on."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from load.bench import _request

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


async def _ask(answer: Answer, timeout: float = 5.0) -> int:
    """One request by the benchmark's client to a server on loopback that answers so."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await answer(reader, writer)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        return await _request(server.sockets[0].getsockname()[1], REQUEST, timeout=timeout)


def writes(data: bytes) -> Answer:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()

    return answer


async def says_nothing_for_a_while(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(1)


def test_a_whole_answer_gives_its_status_code():
    code = asyncio.run(_ask(writes(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")))

    assert code == 201


@pytest.mark.parametrize(
    "answer",
    [
        writes(b""),  # closed without answering (read as an IndexError before)
        writes(b"garbage\r\n\r\n"),
        writes(b"HTTP/1.1 ok\r\n\r\n"),
        writes(b"HTTP/1.1 201 Created\r\nContent-Length: 20\r\n\r\n{}"),  # shorter than it says
        writes(b"HTTP/1.1 201 Created\r\nContent-Length: lots\r\n\r\n{}"),
    ],
    ids=["empty", "not HTTP", "no code", "short body", "bad length"],
)
def test_a_missing_or_broken_answer_is_an_error_not_a_crash(answer):
    code = asyncio.run(_ask(answer))

    assert code == 0


def test_no_answer_within_the_timeout_is_an_error():
    code = asyncio.run(_ask(says_nothing_for_a_while, timeout=0.2))

    assert code == 0


def test_a_refused_connection_is_an_error():
    async def refused() -> int:
        server = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        return await _request(port, REQUEST)

    assert asyncio.run(refused()) == 0
