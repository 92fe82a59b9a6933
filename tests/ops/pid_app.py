"""A bare ASGI app that answers every request with its process id, so that a test can see
which of the web server's processes served a connection (tests/ops/test_webserver.py).
`?block=S` first holds the whole process for S seconds, as a long stretch of Python does."""

import os
import time
from urllib.parse import parse_qs


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            if (await receive())["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    block = parse_qs(scope["query_string"].decode()).get("block")
    if block:
        time.sleep(float(block[0]))  # on purpose: the event loop, so the process, does nothing else meanwhile
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
