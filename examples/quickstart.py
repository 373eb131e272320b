"""Browse the catalog, call a model through a group, and stream a reply.

Run it against the demo platform::

    usvc demo --keep          # in another terminal; paste its two export lines here
    python examples/quickstart.py
"""

from __future__ import annotations

import unitysvc


def main() -> None:
    with unitysvc.Client.from_env() as client:
        print("Groups:")
        for group in client.groups.list():
            print(f"  {group.name:<14} {group.member_count} services")

        llm = client.groups.get("llm")
        print(f"\nServices of {llm.name}:")
        for service in llm.services():
            print(f"  {service.name:<12} {service.id}")

        chat = {
            "model": "demo-medium",
            "messages": [{"role": "user", "content": "What does a gateway do?"}],
        }
        response = llm.dispatch(path="chat/completions", json=chat)
        response.raise_for_status()
        answer = response.json()["choices"][0]["message"]["content"]
        print(f"\nReply ({response.status_code}): {answer}")

        print("Streamed: ", end="")
        with llm.stream(path="chat/completions", json={**chat, "stream": True}) as stream:
            for event in stream.iter_events():
                if event.kind == "done":
                    break
                delta = event.parsed["choices"][0]["delta"].get("content", "")
                print(delta, end="", flush=True)
        print()


if __name__ == "__main__":
    main()
