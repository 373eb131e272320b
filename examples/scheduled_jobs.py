"""A recurrent request: the platform calls a service on a schedule; watch it run twice.

Run it against the demo platform::

    usvc demo --keep          # in another terminal; paste its two export lines here
    python examples/scheduled_jobs.py
"""

from __future__ import annotations

import time

import unitysvc


def main() -> None:
    with unitysvc.Client.from_env() as client:
        small = next(s for s in client.groups.get("llm").services() if s.name == "demo-small")
        job = small.schedule(
            recurrence={"schedule_type": "interval", "interval_seconds": 1},
            path="chat/completions",
            json={"model": "demo-small", "messages": [{"role": "user", "content": "tick"}]},
            name="every second",
        )
        print(f"{job.name}: {job.status}, first run at {(job.state or {}).get('next_run_at')}")
        try:
            deadline = time.monotonic() + 20
            runs = 0
            while runs < 2:
                if time.monotonic() > deadline:
                    raise TimeoutError("the schedule did not run twice in 20 s")
                time.sleep(0.25)
                state = client.recurrent_requests.get(job.id).state or {}
                if state["run_count"] > runs:
                    runs = state["run_count"]
                    print(f"run {runs}: last status {state['last_status_code']}")

            # Pause it, then switch to a weekday-morning cron schedule.
            job = client.recurrent_requests.update(job.id, {"status": "paused"})
            print("now", job.status)
            job = client.recurrent_requests.update(
                job.id,
                {
                    "status": "active",
                    "schedule": {
                        "schedule_type": "cron",
                        "cron_expression": "30 8 * * 1-5",
                        "timezone": "Europe/Berlin",
                    },
                },
            )
            print("next run:", (job.state or {}).get("next_run_at"))
        finally:
            client.recurrent_requests.delete(job.id)
        print("deleted; remaining:", client.recurrent_requests.list().count)


if __name__ == "__main__":
    main()
