"""The generic partner API connector: ``POST {api_url}/documents``, as ``docs/partner-api.md``
describes, with each answer turned into an outcome.

Outside demo mode the client connects only where the outbound-address policy allows
(:mod:`connectors.addresses`), and never follows a redirect: the secret goes to the address the
firm typed or nowhere. Whatever keeps Relais from reaching the application (the policy, DNS, a
refused connection, TLS, a connect timeout) is one passing fault with one text,
:data:`~connectors.addresses.UNREACHABLE`.
"""

from __future__ import annotations

import email.utils
import json
import logging
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors import outcomes
from connectors.addresses import UNREACHABLE, AddressPolicy, VettedTransport
from connectors.outcomes import Fault, Outcome, Refused, Sent
from connectors.parcel import Parcel

log = logging.getLogger(__name__)

# The contract's error codes, whatever HTTP status carries them.
ERROR_CODES = {
    "file_too_large": outcomes.TOO_LARGE,
    "format_refused": outcomes.FORMAT_REFUSED,
    "dossier_unknown": outcomes.DOSSIER_UNKNOWN,
    "dossier_inactive": outcomes.DOSSIER_INACTIVE,
    "credentials_refused": outcomes.CREDENTIALS_REFUSED,
}
# What a status alone means when the body carries no code we know.
STATUS_REASONS = {
    401: outcomes.CREDENTIALS_REFUSED,
    403: outcomes.CREDENTIALS_REFUSED,
    404: outcomes.DOSSIER_UNKNOWN,
    413: outcomes.TOO_LARGE,
    415: outcomes.FORMAT_REFUSED,
}
PASSING_STATUSES = {408, 425, 429}
DETAIL_LIMIT = 2000


def default_timeout() -> httpx.Timeout:
    return httpx.Timeout(30.0, connect=10.0)


def new_client(
    concurrency: int = 16,
    timeout: httpx.Timeout | None = None,
    *,
    outbound: AddressPolicy | None = None,
) -> httpx.AsyncClient:
    """One client per worker: its pool keeps connections to each application warm. Under an
    ``outbound`` policy every connection is vetted (:class:`VettedTransport`)."""
    limits = httpx.Limits(
        max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2
    )
    return httpx.AsyncClient(
        timeout=timeout or default_timeout(),
        limits=limits,
        transport=VettedTransport(outbound, limits=limits) if outbound is not None else None,
        headers={"User-Agent": "Relais"},
        follow_redirects=False,
    )


class PartnerApiConnector:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, parcel: Parcel) -> Outcome:
        target = parcel.target
        if not target.api_url:
            return Refused(outcomes.NOT_CONFIGURED, "no API URL for this application")
        headers = {"Idempotency-Key": parcel.idempotency_key}
        if target.api_key_id:
            headers["X-Api-Key-Id"] = target.api_key_id
        if target.secret:
            headers["Authorization"] = f"Bearer {target.secret}"
        fields = {"dossier_code": parcel.dossier_code, "file_name": parcel.file_name}
        if target.document_type:
            fields["document_type"] = target.document_type
        try:
            request = self.client.build_request(
                "POST",
                f"{target.api_url.rstrip('/')}/documents",
                headers=headers,
                data=fields,
                files={"file": (parcel.file_name, parcel.data, parcel.content_type)},
            )
            # The document is already in memory: encoding the multipart body into one buffer
            # sends it in a few writes instead of one per part (about 18 for a small PDF).
            await request.aread()
            response = await self.client.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as error:
            return _unreachable(target.slug, error)
        except httpx.InvalidURL as error:  # not a transport error, but the same to people
            return _unreachable(target.slug, error)
        except httpx.TimeoutException as error:
            return Fault(f"timeout: {type(error).__name__}")
        except httpx.TransportError as error:
            return Fault(f"network: {type(error).__name__}")
        return classify(response)


def _unreachable(slug: str, error: Exception) -> Fault:
    # The same text for every cause: telling them apart would make the dashboard a port
    # scanner. The cause is for the operators' log (no URL: it is the firm's, no secret in it).
    log.info("application %s unreachable: %s: %s", slug, type(error).__name__, error)
    return Fault(UNREACHABLE)


def classify(response: httpx.Response) -> Outcome:
    status = response.status_code
    detail = f"HTTP {status} {response.text[:DETAIL_LIMIT]}".strip()
    if response.has_redirect_location:
        # Not followed: the document and the secret go to the address the firm typed only.
        return Refused(outcomes.REJECTED, f"HTTP {status}: the application redirects elsewhere")
    body = _json(response)
    if 200 <= status < 300:
        reference = body.get("reference") if isinstance(body, dict) else None
        return Sent(str(reference or ""), detail)
    if status in PASSING_STATUSES or status >= 500:
        return Fault(detail, retry_after(response.headers.get("Retry-After")))
    code = ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code", ""))
        message = body["error"].get("message")
        # The contract's message is written for people: the history shows it, not the JSON.
        if isinstance(message, str) and message.strip():
            detail = f"HTTP {status} {message.strip()[:DETAIL_LIMIT]}"
    reason = ERROR_CODES.get(code) or STATUS_REASONS.get(status) or outcomes.REJECTED
    return Refused(reason, detail)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds, from either of its two forms (seconds, or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
