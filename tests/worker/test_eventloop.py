"""The loop `imagine worker` runs on is the one uvicorn picks for `imagine serve`: uvloop, when installed."""

from __future__ import annotations

import asyncio
import importlib.util

from imagine_gateway import eventloop


def test_the_gateway_loop_is_uvloop_where_it_is_installed_and_returns_the_result() -> None:
    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    module = eventloop.run(loop_module())

    expected = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    assert module.split(".")[0] == expected
