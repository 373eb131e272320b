"""SSE bodies for ``bench_sse.py``, importable by the official SDK's interpreter too.

Kept free of any ``unitysvc`` import so that both interpreters build the very same
bytes.
"""

from __future__ import annotations

import json


def sse_body(events: int) -> bytes:
    """An OpenAI-style ``chat.completion.chunk`` stream: ``events`` frames, then [DONE]."""
    frames = []
    for i in range(events):
        chunk = {
            "id": "chatcmpl-9xYzAbCdEfGhIjKlMnOpQrStUv",
            "object": "chat.completion.chunk",
            "created": 1718000000 + i // 50,
            "model": "gpt-4o-mini-2024-07-18",
            "system_fingerprint": "fp_44709d6fcb",
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": f" tok{i % 1000}"},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
        }
        frames.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")
    frames.append(b"data: [DONE]\n\n")
    return b"".join(frames)


def big_frame_body(size: int) -> bytes:
    """One SSE frame whose JSON data is about ``size`` bytes long."""
    payload = json.dumps({"blob": "x" * (size - 12)}).encode()
    return b"data: " + payload + b"\n\n"


def chunked(body: bytes, size: int) -> list[bytes]:
    """``body`` cut into ``size``-byte chunks, as the network would deliver it."""
    return [body[i : i + size] for i in range(0, len(body), size)]
