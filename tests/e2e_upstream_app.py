"""A tiny ASGI upstream for the end-to-end tests (served by hypercorn): answers `hello <path>` and
logs every request it sees, one line each, to the file named by $E2E_UPSTREAM_LOG."""

import os


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    path = scope["path"]
    log = os.environ.get("E2E_UPSTREAM_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{scope['method']} {path} {scope['http_version']} {len(body)}\n")
    out = b"hello " + path.encode() + (b" " + body if body else b"")
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(out)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": out})
