"""The OpenAI SDK, unchanged, against the gateway's group interface (``g/llm/v1``)."""

from __future__ import annotations

from unitysvc_server.testing import LocalPlatform


def test_openai_client_chat_and_stream(platform: LocalPlatform, key: str) -> None:
    import openai  # here, not at collection: every pytest-xdist worker collects this module

    with openai.OpenAI(base_url=f"{platform.gateway_url}/g/llm/v1", api_key=key) as client:
        reply = client.chat.completions.create(
            model="demo-medium", messages=[{"role": "user", "content": "through the gateway"}]
        )
        assert reply.model == "demo-medium"
        assert "through the gateway" in (reply.choices[0].message.content or "")
        stream = client.chat.completions.create(
            model="demo-small",
            messages=[{"role": "user", "content": "word by word"}],
            stream=True,
        )
        pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert len(pieces) >= 3
    assert "word by word" in "".join(pieces)
