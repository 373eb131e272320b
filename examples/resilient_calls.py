"""Cache, failover and tee through the gateway, and the request log that records them.

Run it against the demo platform::

    usvc demo --keep          # in another terminal; paste its two export lines here
    python examples/resilient_calls.py
"""

from __future__ import annotations

import time

import unitysvc


def main() -> None:
    with unitysvc.Client.from_env() as client:
        client.request_logs.start()
        services = {s.name: s for s in client.groups.iter_services("all_services")}
        llm = client.groups.get("llm")
        # pause_ms makes the demo model slow, so the cache has something to save.
        chat = {
            "model": "demo-small",
            "messages": [{"role": "user", "content": "Cache me"}],
            "pause_ms": 200,
        }

        cached = llm.cached(ttl="5m")
        for attempt in (1, 2):
            started = time.perf_counter()
            response = cached.dispatch(path="chat/completions", json=chat)
            elapsed_ms = (time.perf_counter() - started) * 1000
            cache = response.headers.get("x-unitysvc-cache")
            print(f"call {attempt}: {response.status_code} cache={cache} {elapsed_ms:.0f} ms")

        # A fresh answer on demand: renew bypasses the entry and overwrites it.
        response = llm.cached(ttl="5m", renew=True).dispatch(path="chat/completions", json=chat)
        print("renewed:", response.headers.get("x-unitysvc-cache"))

        down = services["demo-down"]
        body = {"model": "demo-large", "messages": [{"role": "user", "content": "Still there?"}]}
        print("demo-down alone:", down.dispatch(path="chat/completions", json=body).status_code)
        with_backup = down.with_failover(llm)  # the dispatch's sub-path applies to it too
        response = with_backup.dispatch(path="chat/completions", json=body)
        print(
            f"with failover: {response.status_code} "
            f"(x-unitysvc-failover: {response.headers.get('x-unitysvc-failover')}) "
            f"{response.json()['choices'][0]['message']['content']}"
        )

        # The caller gets the primary's answer; echo receives a copy in the background.
        teed = llm.with_tee(services["echo"])
        print("teed:", teed.path, teed.dispatch(path="chat/completions", json=body).status_code)

        time.sleep(1)  # request-log rows are written off the response path
        print("\nrequest log, oldest first:")
        for row in reversed(client.request_logs.list(limit=20).items):
            print(f"  {row.upstream_response_status_code or '-':>3}  {row.user_request_path}")
        client.request_logs.stop()


if __name__ == "__main__":
    main()
