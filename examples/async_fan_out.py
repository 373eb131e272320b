"""Ask every model of a group at once with ``AsyncClient``, then stream one reply.

Run it against the demo platform::

    usvc demo --keep          # in another terminal; paste its two export lines here
    python examples/async_fan_out.py
"""

from __future__ import annotations

import asyncio

import unitysvc

PROMPT = "Name one thing you are good at"


async def main() -> None:
    async with unitysvc.AsyncClient.from_env() as client:
        llm = await client.groups.get("llm")

        async def ask(model: str) -> str:
            """One model's answer (the group routes on the ``model`` field)."""
            body = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
            response = await llm.dispatch(path="chat/completions", json=body)
            response.raise_for_status()
            return str(response.json()["choices"][0]["message"]["content"])

        models = [service.name for service in (await llm.services()).data]
        answers = await asyncio.gather(*(ask(model) for model in models))
        for model, answer in zip(models, answers, strict=True):
            print(f"{model:<12} {answer}")

        body = {"model": models[0], "messages": [{"role": "user", "content": PROMPT}]}
        print("streamed:    ", end="")
        async with llm.stream(path="chat/completions", json={**body, "stream": True}) as stream:
            async for event in stream.aiter_events():
                if event.kind == "done":
                    break
                print(event.parsed["choices"][0]["delta"].get("content", ""), end="", flush=True)
        print()


if __name__ == "__main__":
    asyncio.run(main())
