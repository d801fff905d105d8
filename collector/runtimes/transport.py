"""How runtimes are asked, bounded: HTTP over a unix socket, a child process with a
timeout, a size-capped JSON file."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import subprocess
import time
from typing import Any

from .metadata import MAX_RESPONSE, MAX_STATE_FILE

# --- transport -----------------------------------------------------------------


class _BytesSocket:
    """Just enough of a socket for ``http.client.HTTPResponse`` to parse bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> io.BytesIO:
        return io.BytesIO(self._data)


def unix_http_get(socket_path: str, path: str, timeout: float) -> tuple[int, bytes]:
    """``GET path`` over the unix socket ``socket_path``: (status, body).

    The whole exchange, connect to last byte, takes at most ``timeout`` seconds
    (a server that trickles bytes cannot stretch it) and at most
    ``MAX_RESPONSE`` bytes. HTTP/1.0, so the server closes after the response.
    Raises ``OSError`` (``TimeoutError`` included) or ``http.client.HTTPException``.
    """
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(socket_path)
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode("ascii"))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{socket_path}: no complete response in {timeout}s")
            s.settimeout(left)
            b = s.recv(65536)
            if not b:
                break
            size += len(b)
            if size > MAX_RESPONSE:
                raise OSError(f"{socket_path}: response larger than {MAX_RESPONSE} bytes")
            chunks.append(b)
    resp = http.client.HTTPResponse(_BytesSocket(b"".join(chunks)))  # type: ignore[arg-type]
    resp.begin()
    return resp.status, resp.read()


def run_bounded(argv: list[str], timeout: float) -> tuple[int, bytes, bytes]:
    """Run ``argv``: (exit code, stdout, stderr), in at most ``timeout`` seconds.

    The child runs in its own session and on timeout its whole process group is
    killed, so helpers it forked cannot hold the pipes open. Raises
    ``subprocess.TimeoutExpired`` or ``OSError``.
    """
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.communicate()
            raise
        return p.returncode, out, err


def _read_json(path: str) -> Any:
    """The JSON document in file ``path`` (at most ``MAX_STATE_FILE`` bytes).

    Raises ``OSError`` or ``ValueError``.
    """
    with open(path, "rb") as f:
        data = f.read(MAX_STATE_FILE + 1)
    if len(data) > MAX_STATE_FILE:
        raise ValueError(f"{path}: larger than {MAX_STATE_FILE} bytes")
    return json.loads(data)
