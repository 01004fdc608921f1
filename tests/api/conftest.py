"""The REST API tests' Hypothesis profiles (their own names: the bot's tests register "ci" and
"long" at the top level).

``rest-ci`` (the default) keeps the generated-requests run bounded on both databases; set
``--hypothesis-profile=long`` (or ``RELAIS_REST_PROFILE=rest-long``) for the thousands of cases a
release deserves.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    # The examples are HTTP requests to a real server: the database and network make them slow.
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
    "database": None,
    "print_blob": True,
}
settings.register_profile("rest-ci", max_examples=60, **_COMMON)
settings.register_profile("rest-long", max_examples=2000, **_COMMON)
