"""End to end: the real groq catalog (tests/unitysvc_server/data/catalogs/groq) offline.

Every groq listing declares ``${API_GATEWAY_BASE_URL}/p/groq`` with a routing key
``{"model": ...}``; its channel calls ``https://api.groq.com/openai`` with the customer's
``GROQ_API_KEY``. The upstream map points that origin at the loopback fake.
"""

from __future__ import annotations

from typing import Any

import httpx
from gateway_helpers import FakeUpstream, wait_for

import unitysvc
from unitysvc_server.testing import LocalPlatform

#: Service ids the catalog pins (``listing.override.json``).
LLAMA_8B = "18a68d4c-6a98-4e75-9bba-1a3cc0696b57"
GPT_OSS_20B = "dec73c26-569c-4c6b-b8d8-327dc819d88a"
WHISPER = "fc3dea95-8e20-49c0-8fd0-3e2487750f4f"


def test_each_model_routes_to_its_listing(
    client: unitysvc.Client, fake: FakeUpstream, marker: str
) -> None:
    client.secrets.set("GROQ_API_KEY", f"gsk_{marker}")
    for model, service in (("llama-3.1-8b-instant", LLAMA_8B), ("openai/gpt-oss-20b", GPT_OSS_20B)):
        body = {"model": model, "messages": [{"role": "user", "content": marker}]}
        resolved = client.resolve(path="p/groq/v1/chat/completions", routing_key={"model": model})
        assert resolved.selected is not None
        assert str(resolved.selected.service_id) == service
        response = client.dispatch(f"l/p/groq/v1/chat/completions?m={marker}", json=body)
        assert response.status_code == 200, response.text
        seen = response.json()
        assert seen["path"] == "/openai/v1/chat/completions"
        assert seen["query"] == f"m={marker}"
        assert seen["headers"]["authorization"] == f"Bearer gsk_{marker}"
        # The body, model included, reaches Groq unchanged.
        assert f'"model": "{model}"' in seen["body"] or f'"model":"{model}"' in seen["body"]
    # Logged rows (written asynchronously) name the listing that served each model.
    rows: list[Any] = []

    def logged() -> bool:
        items = client.request_logs.list(limit=200).items
        rows[:] = [r for r in items if marker in r.user_request_path]
        return len(rows) == 2

    wait_for(logged, what="two request-log rows")
    assert {r.service_id for r in rows} == {LLAMA_8B, GPT_OSS_20B}


def test_multipart_upload_routes_by_its_model_field(
    platform: LocalPlatform, key: str, client: unitysvc.Client, marker: str
) -> None:
    client.secrets.set("GROQ_API_KEY", "gsk_audio")
    # What the OpenAI SDK sends for audio: the model is a form field, not JSON.
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}) as http:
        response = http.post(
            f"{platform.gateway_url}/p/groq/v1/audio/transcriptions?m={marker}",
            files={"file": ("a.wav", b"RIFF....WAVE", "audio/wav")},
            data={"model": "whisper-large-v3"},
        )
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["path"] == "/openai/v1/audio/transcriptions"
    assert seen["headers"]["content-type"].startswith("multipart/form-data")
    assert "whisper-large-v3" in seen["body"] and "RIFF....WAVE" in seen["body"]
    resolved = client.resolve(
        path="p/groq/v1/audio/transcriptions", routing_key={"model": "whisper-large-v3"}
    )
    assert resolved.selected is not None and str(resolved.selected.service_id) == WHISPER


def test_unknown_model_lists_the_models_groq_serves(client: unitysvc.Client) -> None:
    response = client.dispatch("p/groq/v1/chat/completions", json={"model": "gpt-5"})
    assert response.status_code == 404
    body = response.json()
    assert "p/groq" in body["detail"] and "gpt-5" in body["detail"]
    tried = " ".join(body["tried"])
    for model in ("llama-3.1-8b-instant", "openai/gpt-oss-20b", "whisper-large-v3"):
        assert model in tried
