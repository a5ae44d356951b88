"""Serve the static frontend and the generated ``/config.js`` for the local gateway."""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path

CONFIG_PATH = "/config.js"


@dataclass
class StaticResponse:
    """A ready-to-send static response."""

    status: int
    content_type: str
    body: bytes


class StaticSite:
    """Serve files below ``root``; ``/`` maps to ``index.html``.

    ``/config.js`` is generated from the request's Host header so the frontend
    reaches the API (``/api``) and the websocket (``/ws``) on its own origin,
    whatever host name or port the browser used.
    """

    def __init__(self, root: Path, api_prefix: str, websocket_path: str) -> None:
        self._root = root.resolve()
        self._api_prefix = api_prefix
        self._websocket_path = websocket_path

    def config_js(self, host: str, scheme: str) -> StaticResponse:
        ws_scheme = "wss" if scheme == "https" else "ws"
        config = {
            "apiBaseUrl": f"{scheme}://{host}{self._api_prefix}",
            "websocketUrl": f"{ws_scheme}://{host}{self._websocket_path}",
        }
        body = f"window.TRIAGE_CONFIG = {json.dumps(config)};\n"
        return StaticResponse(200, "application/javascript", body.encode())

    def get(self, path: str, host: str, scheme: str) -> StaticResponse | None:
        """Return the file for ``path``, or None when it does not exist."""
        if path == CONFIG_PATH:
            return self.config_js(host, scheme)
        relative = path.lstrip("/") or "index.html"
        candidate = (self._root / relative).resolve()
        # Reject paths that climb out of the frontend directory (``..``).
        if not candidate.is_relative_to(self._root):
            return None
        if candidate.is_dir():
            candidate = candidate / "index.html"
        if not candidate.is_file():
            return None
        content_type = mimetypes.guess_type(candidate.name)[0]
        return StaticResponse(
            200, content_type or "application/octet-stream", candidate.read_bytes()
        )
