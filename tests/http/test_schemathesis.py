"""A bounded Schemathesis run against the portal's own OpenAPI, at a real server: every operation, a few
generated requests each (valid and invalid ones), as a customer and as second line. No answer may be a
server error, and every answer must match what the schema declares for its status."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

EXAMPLES = 4  # per operation, generation mode and role: enough to meet each route's checks, bounded in time
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


@pytest.fixture
def settings(settings):
    # Generated logins fail on purpose: no lockout of the test's address and no slow-down in this run.
    return settings.model_copy(update={"login_max_failures": 100_000, "login_max_failures_per_address": 100_000,
                                       "login_slowdown_after": 100_000})


def _run(schema, base_url: str, login, failures: list[str]) -> int:
    session = requests.Session()
    calls = 0
    headers = {"Authorization": f"Bearer {login()}"}
    def run_one(operation, mode):
        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                             phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def check(case):
            nonlocal calls
            calls += 1
            # A generated header (or body) never replaces the role's token.
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
            try:
                case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
            except Exception as exc:  # noqa: BLE001 — every failure is collected, then reported together
                failures.append(f"{operation.label} [{mode.value}] → {response.status_code}: "
                                f"{str(exc)[:400]}\n  {case.as_curl_command()[:400]}")

        try:
            check()
        except Unsatisfiable:
            pass  # nothing to make invalid: an operation without parameters or body has no negative case

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in MODES:
            run_one(operation, mode)
        if operation.method.upper() == "DELETE":
            headers["Authorization"] = f"Bearer {login()}"  # a generated ID may have been our own token
    return calls


def test_the_api_keeps_to_its_schema(live_server, api, world, published):
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/openapi.json")
    failures: list[str] = []
    calls = 0
    for user in (world.ivanova, world.support):
        def login(user=user):
            r = api.client.post("/api/v1/auth/token", json={"username": user.username,
                                                            "password": "correct-horse-battery"})
            assert r.status_code == 200, r.text
            return r.json()["access_token"]

        calls += _run(schema, live_server.url, login, failures)
    assert calls > 100
    assert failures == [], "\n".join(failures)
