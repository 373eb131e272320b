"""Use a service with your own upstream key: a secret, an enrollment, a call through it.

``demo-byok`` forwards your customer secret ``DEMO_API_KEY`` to its upstream, which
accepts ``sk-demo-byok-0123456789``. Run it against the demo platform::

    usvc demo --keep          # in another terminal; paste its two export lines here
    python examples/bring_your_own_key.py
"""

from __future__ import annotations

import unitysvc

DEMO_UPSTREAM_KEY = "sk-demo-byok-0123456789"


def main() -> None:
    with unitysvc.Client.from_env() as client:
        # Write-only: the value is encrypted at rest and never returned.
        secret = client.secrets.set(
            "DEMO_API_KEY", DEMO_UPSTREAM_KEY, description="Key of the demo-byok upstream"
        )
        print(f"secret {secret.name} stored (sensitive: {secret.sensitive})")

        byok = next(s for s in client.groups.iter_services("all_services") if s.name == "demo-byok")
        # One active enrollment per service: reuse it if there is one (usvc demo makes one).
        for existing in client.enrollments.list():
            if existing.service_id == byok.id and existing.status == "active":
                active = existing
                print(f"enrollment {active.id}: already {active.status}")
                break
        else:
            enrollment = byok.enroll()
            print(f"enrollment {enrollment.id}: {enrollment.status}")
            active = enrollment.wait(timeout=30)
        print(f"enrollment {active.id}: {active.status} at {active.path}")

        chat = {"model": "demo-byok", "messages": [{"role": "user", "content": "It is my key"}]}
        response = byok.dispatch(path="chat/completions", json=chat)
        response.raise_for_status()
        print("reply:", response.json()["choices"][0]["message"]["content"])

        # The enrollment's own gateway path works too, e.g. from another HTTP client.
        response = client.dispatch(f"{active.path}/chat/completions", json=chat)
        print(f"via {active.path}: {response.status_code}")

        # Without the secret the upstream turns the call down.
        client.secrets.delete("DEMO_API_KEY")
        response = byok.dispatch(path="chat/completions", json=chat)
        print(f"without the secret: {response.status_code}")
        client.secrets.set("DEMO_API_KEY", DEMO_UPSTREAM_KEY)  # put it back


if __name__ == "__main__":
    main()
