"""What each request to the Kubernetes API costs the operator beyond the request itself.

httpcore (under httpx, under kr8s) imports `sniffio` on every request to tell asyncio from trio.
Without it installed, that import searched every directory of `sys.path` each time: a tenth of
the operator's CPU while it wrote thousands of statuses during a bulk create (profiled with
py-spy). Installed, the import is a lookup of an already loaded module.
"""

import sys

from httpcore import _synchronization


async def test_the_http_client_tells_its_event_loop_without_searching_for_a_module() -> None:
    assert _synchronization.current_async_library() == "asyncio"
    assert sys.modules.get("sniffio") is not None
