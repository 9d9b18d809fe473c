"""A small OpenAI-compatible chat server on this machine (`POST /v1/chat/completions`) that
answers with a text policy or a local model: the tests and the benchmark run the `openai`
backend against it over real HTTP. It is a test fixture, not a production server: one thread
per request, no authentication beyond checking a bearer token when `api_key` is given.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Messages = list[dict[str, str]]


class ChatServer:
    """Serves `answer(messages) -> text` at http://127.0.0.1:<port>/v1 until `close()`."""

    def __init__(
        self,
        answer: Callable[[Messages], str],
        *,
        delay_s: float = 0.0,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.answer, self.delay_s, self.api_key = answer, delay_s, api_key
        self.requests = 0
        self.times: list[float] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                with server.lock:
                    server.requests += 1
                    server.times.append(time.monotonic())
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if server.api_key and self.headers.get("Authorization") != (
                    f"Bearer {server.api_key}"
                ):
                    return self._send(401, {"error": {"message": "bad API key"}})
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length))
                    messages = body["messages"]
                except (ValueError, KeyError):
                    return self._send(400, {"error": {"message": "bad request"}})
                if server.delay_s:
                    time.sleep(server.delay_s)
                text = server.answer(messages)
                prompt = sum(len(m["content"].split()) for m in messages)
                self._send(200, {
                    "id": f"chat-{server.requests}",
                    "object": "chat.completion",
                    "model": body.get("model", ""),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": len(text.split()),
                              "total_tokens": prompt + len(text.split())},
                })  # fmt: skip

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> ChatServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
