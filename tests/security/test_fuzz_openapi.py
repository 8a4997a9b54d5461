"""Fuzz the HTTP API from its own OpenAPI document (schemathesis): no 5xx, no crash.

The app runs for real (uvicorn on a loopback port, lifespan on: Redis, the broker, the
spool) and every operation gets a bounded number of generated requests, valid and
invalid, with an all-scopes key (so that the handlers, not only the auth check, are
exercised). A 503 carrying a machine-readable reason (a dependency this lone API process
does not have, such as the AMI call worker) is a designed answer; any other 5xx fails.
Streaming endpoints (SSE) are left out: they never finish by design.
"""

from __future__ import annotations

import os
import time

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode

from tests.security.conftest import API_KEY, LiveServer

EXAMPLES = int(os.environ.get("LINKGATE_FUZZ_EXAMPLES", "12"))
SKIP = {"/board/events"}  # SSE: an endless stream


def _machine_reason(response: requests.Response) -> bool:
    """A 503 that says which dependency is missing (e.g. `no-call-worker` when no AMI
    process runs next to this API) is the designed answer, not a crash."""
    try:
        detail = response.json().get("detail")
    except ValueError:
        return False
    return isinstance(detail, str) and detail.replace("-", "").isalnum()


def test_openapi_fuzz_no_server_errors(live_server: LiveServer) -> None:
    # the app's own document, fetched from the running server (real sockets: a server
    # error is an HTTP 500 here, not an exception in the test)
    schema = schemathesis.openapi.from_url(live_server.base_url + "/openapi.json")
    failures: list[str] = []
    calls = 0
    started = time.monotonic()
    session = requests.Session()
    session.headers["X-API-Key"] = API_KEY
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 15, "the OpenAPI document lost its operations"
    for operation in operations:
        if operation.path in SKIP:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis.settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                nonlocal calls
                try:
                    response = case.call(
                        base_url=live_server.base_url, session=session, timeout=10
                    )
                except requests.RequestException as exc:
                    failures.append(f"{case.method} {case.formatted_path}: no answer {exc!r}")
                    return
                calls += 1
                designed_503 = response.status_code == 503 and _machine_reason(response)
                if response.status_code >= 500 and not designed_503:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code} "
                        f"{response.text[:200]!r}\n  reproduce: {case.as_curl_command()}"
                    )

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                pass
    elapsed = time.monotonic() - started
    print(f"\nfuzzed {len(operations)} operations, {calls} requests in {elapsed:.1f} s")
    assert calls > len(operations) * 2
    assert failures == [], "\n".join(failures[:20])
