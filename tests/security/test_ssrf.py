"""Finding 1: the gateway connects only to public addresses, and to exactly the one it checked.

The address policy is an allow-list of globally routable addresses (a pure function,
tested on a table), applied after DNS resolution to every connection the gateway opens:
BYOE channels (the customer chose the URL), catalog channels, tee and failover
secondaries, scheduled runs. The pool connects to the address the policy returned; the
``resolve`` setting (``--resolve HOST=ADDRESS``) is the seam that shows it: a name no DNS
knows is reached at its pinned address when private upstreams are allowed, and refused
before any connection when they are not.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from security_helpers import SECCAT, SECCAT_ORIGIN, CountingUpstream

from unitysvc_server.gateway.ssrf import Destinations, ForbiddenUpstream, is_public_address
from unitysvc_server.testing import LocalPlatform


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("1.1.1.1", True),
        ("2606:4700:4700::1111", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),  # IPv4-mapped: judged by the IPv4 inside
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.100.100.200", False),  # carrier-grade NAT (a metadata address lives here)
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("255.255.255.255", False),
        ("224.0.1.1", False),  # multicast that ``is_global`` accepts
        ("240.0.0.1", False),
        ("198.18.0.1", False),  # benchmarking
        ("192.0.2.1", False),  # documentation
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fec0::1", False),  # site-local: global to Python 3.11
        ("ff0e::1", False),  # multicast
        ("::ffff:127.0.0.1", False),
        ("::ffff:100.100.100.200", False),  # global to Python 3.11
        ("::ffff:169.254.169.254", False),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("64:ff9b::6464:64c8", False),  # NAT64 of 100.100.100.200
        ("64:ff9b:1::a9fe:a9fe", False),  # local-use NAT64
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
        ("::127.0.0.1", False),  # IPv4-compatible
        ("2001:db8::1", False),  # documentation
    ],
)
def test_only_globally_routable_addresses_are_public(address: str, public: bool) -> None:
    assert is_public_address(address) is public


async def test_destinations_vet_every_resolved_address_and_honour_pins() -> None:
    lookups: list[str] = []
    answers = {
        "public.test": ["93.184.216.34"],
        "inside.test": ["10.0.0.5"],
        "mixed.test": ["93.184.216.34", "127.0.0.1"],  # how a rebinding answer looks
    }

    async def resolver(host: str) -> list[str]:
        lookups.append(host)
        return answers[host]

    destinations = Destinations(False, overrides={"Pinned.Test": "8.8.4.4"}, resolver=resolver)
    assert await destinations.addresses("public.test") == ["93.184.216.34"]
    assert await destinations.addresses("pinned.test") == ["8.8.4.4"]
    assert await destinations.addresses("1.1.1.1") == ["1.1.1.1"]
    for host in ("inside.test", "mixed.test", "127.0.0.1", "[::1]".strip("[]")):
        with pytest.raises(ForbiddenUpstream, match="not a public address"):
            await destinations.addresses(host)
    # An operator-named destination, or a server allowing private upstreams: allowed.
    assert await destinations.addresses("inside.test", private_ok=True) == ["10.0.0.5"]
    assert await Destinations(True, resolver=resolver).addresses("mixed.test") == [
        "93.184.216.34",
        "127.0.0.1",
    ]
    assert "pinned.test" not in lookups


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory, upstream: CountingUpstream) -> Path:
    """seccat plus ``internal``: a catalog channel at a name pinned to loopback."""
    root = tmp_path_factory.mktemp("catalog") / "seccat"
    shutil.copytree(SECCAT, root)
    service = root / "services" / "internal"
    shutil.copytree(root / "services" / "guarded", service)
    listing = json.loads((service / "listing.json").read_text())
    listing["name"] = "internal"
    listing["user_access_interfaces"]["canonical"]["base_url"] = (
        "${API_GATEWAY_BASE_URL}/seccat/internal"
    )
    (service / "listing.json").write_text(json.dumps(listing))
    offering = json.loads((service / "offering.json").read_text())
    offering["name"] = "internal"
    offering["upstream_access_config"]["managed"]["base_url"] = (
        f"http://internal.seccat.test:{upstream.port}/inside"
    )
    (service / "offering.json").write_text(json.dumps(offering))
    return root


PINNED = {
    "internal.seccat.test": "127.0.0.1",
    "byoe.seccat.test": "127.0.0.1",
    "cgnat.seccat.test": "100.100.100.200",
}


@pytest.fixture(scope="module")
def guarded_platform(catalog: Path, upstream: CountingUpstream) -> Iterator[LocalPlatform]:
    """Private upstreams refused (the production default)."""
    with LocalPlatform(
        demo=True,
        catalogs=[catalog],
        upstreams={SECCAT_ORIGIN: upstream.url},
        allow_private_upstreams=False,
        resolve=PINNED,
    ) as running:
        yield running


def _service(platform: LocalPlatform, name: str) -> str:
    return str(platform.app.runtime.catalog.service_by_name(name).id)


def _enroll_byoe(platform: LocalPlatform, key: str, base_url: str) -> str:
    with platform.client(key) as client:
        enrollment = client.enrollments.create(
            service_id=_service(platform, "demo-byoe"), parameters={"base_url": base_url}
        ).wait(timeout=20)
    assert enrollment.status == "active", enrollment.record
    return str(enrollment.code)


def _call(platform: LocalPlatform, key: str, path: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as http:
        return http.post(f"/{path}", json={}, headers={"Authorization": f"Bearer {key}"}, **kwargs)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://100.100.100.200/latest",
        "http://[::ffff:100.100.100.200]/latest",
        "http://[fec0::1]/x",
        "http://[64:ff9b::a9fe:a9fe]/x",
        "http://169.254.169.254/latest",
        "http://cgnat.seccat.test/latest",
    ],
)
def test_byoe_upstreams_at_non_public_addresses_are_refused_before_connecting(
    guarded_platform: LocalPlatform, base_url: str
) -> None:
    key = guarded_platform.create_customer(f"ssrf-{uuid.uuid4().hex[:8]}")
    code = _enroll_byoe(guarded_platform, key, base_url)
    started = time.monotonic()
    response = _call(guarded_platform, key, f"e/{code}/probe")
    # Refused by the policy, not by a connect timeout (the gateway's is 10 s).
    assert time.monotonic() - started < 5
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error_type"] == "forbidden_upstream"
    assert "not a public address" in body["detail"]
    assert "--allow-private-upstreams" in body["detail"]


def test_a_name_resolving_to_loopback_is_refused_without_a_connection(
    guarded_platform: LocalPlatform, upstream: CountingUpstream
) -> None:
    key = guarded_platform.create_customer(f"ssrf-{uuid.uuid4().hex[:8]}")
    code = _enroll_byoe(guarded_platform, key, f"http://byoe.seccat.test:{upstream.port}/x")
    accepted = upstream.accepted
    response = _call(guarded_platform, key, f"e/{code}/probe")
    assert response.status_code == 403, response.text
    assert "resolves to 127.0.0.1" in response.json()["detail"]
    assert upstream.accepted == accepted


def test_catalog_channels_tee_copies_and_scheduled_runs_are_vetted_too(
    guarded_platform: LocalPlatform, upstream: CountingUpstream
) -> None:
    key = guarded_platform.create_customer(f"ssrf-{uuid.uuid4().hex[:8]}")
    internal, guarded = (
        _service(guarded_platform, "internal"),
        _service(guarded_platform, "guarded"),
    )
    marker = uuid.uuid4().hex[:12]
    # A catalog channel at a private address the operator did not name: refused.
    direct = _call(guarded_platform, key, f"p/{internal}/{marker}-direct")
    assert direct.status_code == 403, direct.text
    assert direct.json()["error_type"] == "forbidden_upstream"
    # An operator-named destination (the upstream map's target on loopback) still works.
    mapped = _call(guarded_platform, key, f"p/{guarded}/{marker}-mapped")
    assert mapped.status_code == 200, mapped.text
    # A tee copy to the private channel is refused (its own log row says so).
    teed = _call(
        guarded_platform,
        key,
        f"t/p/{guarded}/{marker}-primary",
        params={"_to": f"l/p/{internal}/{marker}-tee"},
    )
    assert teed.status_code == 200, teed.text
    with guarded_platform.client(key) as client:
        deadline = time.monotonic() + 10
        rows: list[Any] = []
        while not rows and time.monotonic() < deadline:
            rows = [
                r
                for r in client.request_logs.list().items
                if f"{marker}-tee" in r.user_request_path
            ]
            time.sleep(0.05)
        assert rows and rows[0].error_type == "forbidden_upstream"
    # A scheduled run (fired now through the trigger) goes through the same pool.
    with guarded_platform.http(key) as api:
        created = api.post(
            "recurrent-requests/",
            json={"request_path": f"p/{internal}/{marker}-scheduled", "http_method": "POST"},
        )
        assert created.status_code == 201, created.text
        fired = api.post(f"recurrent-requests/{created.json()['id']}/trigger")
    assert fired.status_code == 403, fired.text
    assert upstream.targets(marker) == [f"/base/v1/{marker}-mapped", f"/base/v1/{marker}-primary"]


def test_the_gateway_connects_to_exactly_the_address_it_vetted(
    catalog: Path, upstream: CountingUpstream
) -> None:
    # With private upstreams allowed the pinned name is reached: the pool connected to
    # the address the policy returned, not to a second (here: impossible) DNS lookup.
    with LocalPlatform(
        demo=True, catalogs=[catalog], allow_private_upstreams=True, resolve=PINNED
    ) as platform:
        key = platform.create_customer("pinned")
        marker = uuid.uuid4().hex[:12]
        code = _enroll_byoe(platform, key, f"http://byoe.seccat.test:{upstream.port}/{marker}")
        response = _call(platform, key, f"e/{code}/probe")
        internal = _call(platform, key, f"p/{_service(platform, 'internal')}/{marker}")
    assert response.status_code == 200, response.text
    assert internal.status_code == 200, internal.text
    hits = [h for h in upstream.hits if marker in h["target"]]
    assert [h["target"] for h in hits] == [f"/{marker}/probe", f"/inside/{marker}"]
    assert hits[0]["headers"]["host"] == f"byoe.seccat.test:{upstream.port}"
