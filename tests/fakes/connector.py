"""A fake Bot Connector service (the ``serviceUrl`` of Teams activities) that records what the
bot sends and answers like the real one.

Routes (Bot Framework REST API v3):

* ``POST /v3/conversations``: create a conversation (proactive messages); answers
  ``{"id", "activityId", "serviceUrl"}``
* ``POST /v3/conversations/{id}/activities``: send to conversation; answers ``{"id"}``
* ``POST /v3/conversations/{id}/activities/{activityId}``: reply to an activity; answers ``{"id"}``
* ``PUT /v3/conversations/{id}/activities/{activityId}``: update an activity; answers ``{"id"}``
* ``DELETE /v3/conversations/{id}/activities/{activityId}``: delete an activity
* ``GET /v3/conversations/{id}/members`` and ``.../members/{memberId}``: the members set with
  :meth:`FakeBotConnector.add_member` (``TeamsInfo.get_member`` reads a user's email here)
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.recorder import DEFAULT_TIMEOUT, Recorder
from tests.fakes.server import Fake, ServerThread


@dataclass(frozen=True)
class ConnectorCall:
    """One request the bot made to the connector."""

    method: str
    path: str
    kind: str  # "create_conversation" | "send" | "reply" | "update" | "delete" | "get_members"
    conversation_id: str | None
    activity_id: str | None
    authorization: str | None
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str | None:
        return self.body.get("text")

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return list(self.body.get("attachments") or [])

    @property
    def adaptive_cards(self) -> list[dict[str, Any]]:
        """The content of every adaptive card attached to this activity."""
        return [
            attachment.get("content") or {}
            for attachment in self.attachments
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]


SENDING_KINDS = ("send", "reply")


class FakeBotConnector(Fake):
    def __init__(self) -> None:
        self.calls: Recorder[ConnectorCall] = Recorder()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._members: dict[str, list[dict[str, Any]]] = {}
        self._failures: list[tuple[int, dict[str, Any], str | None]] = []
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._reply)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        app.router.add_delete(
            "/v3/conversations/{conversation}/activities/{activity}", self._delete
        )
        app.router.add_get("/v3/conversations/{conversation}/members", self._members_list)
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        self.server = ServerThread(app, name="fake-bot-connector")

    # -- lifecycle

    @property
    def url(self) -> str:
        """The ``serviceUrl`` to put in activities (with the trailing slash Teams uses)."""
        return self.server.url + "/"

    # -- what tests read

    @property
    def sent(self) -> list[ConnectorCall]:
        """Activities the bot posted (replies and sends), in order."""
        return [call for call in self.calls.items if call.kind in SENDING_KINDS]

    def wait_for_sent(
        self,
        count: int = 1,
        *,
        conversation_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> list[ConnectorCall]:
        """Block until ``count`` activities were posted (to that conversation); return them."""
        return self.calls.wait_for(count, where=_sending_to(conversation_id), timeout=timeout)

    async def await_sent(
        self,
        count: int = 1,
        *,
        conversation_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - bounds a wait in a worker thread
    ) -> list[ConnectorCall]:
        """:meth:`wait_for_sent` from a coroutine, without blocking the app's event loop."""
        return await self.calls.await_for(
            count, where=_sending_to(conversation_id), timeout=timeout
        )

    # -- knobs

    def add_member(self, conversation_id: str, member: dict[str, Any]) -> None:
        """A member ``{"id", "name", "aadObjectId", "email", "userPrincipalName", "tenantId"}``."""
        with self._lock:
            self._members.setdefault(conversation_id, []).append(member)

    def fail_next(
        self,
        status: int = 500,
        body: dict[str, Any] | None = None,
        *,
        retry_after: str | None = None,
    ) -> None:
        """The next activity call answers ``status`` (queued: call several times for several),
        with a ``Retry-After`` header when given (Teams throttling answers 429 with one)."""
        with self._lock:
            self._failures.append(
                (
                    status,
                    body or {"error": {"code": "ServiceError", "message": "fake failure"}},
                    retry_after,
                )
            )

    # -- handlers (server thread)

    def _next_id(self) -> str:
        with self._lock:
            return f"fake-activity-{next(self._ids)}"

    def _take_failure(self) -> web.Response | None:
        with self._lock:
            if not self._failures:
                return None
            status, body, retry_after = self._failures.pop(0)
        response = web.json_response(body, status=status)
        if retry_after is not None:
            response.headers["Retry-After"] = retry_after
        return response

    async def _record(self, request: web.Request, kind: str) -> ConnectorCall:
        body: dict[str, Any] = {}
        if request.can_read_body:
            parsed = await request.json()
            body = parsed if isinstance(parsed, dict) else {"value": parsed}
        call = ConnectorCall(
            method=request.method,
            path=request.path,
            kind=kind,
            conversation_id=request.match_info.get("conversation"),
            activity_id=request.match_info.get("activity"),
            authorization=request.headers.get("Authorization"),
            body=body,
        )
        self.calls.append(call)
        return call

    async def _create_conversation(self, request: web.Request) -> web.Response:
        await self._record(request, "create_conversation")
        if failure := self._take_failure():
            return failure
        return web.json_response(
            {
                "id": f"a:fake-conversation-{self._next_id()}",
                "activityId": self._next_id(),
                "serviceUrl": self.url,
            },
            status=201,
        )

    async def _send(self, request: web.Request) -> web.Response:
        await self._record(request, "send")
        return self._take_failure() or web.json_response({"id": self._next_id()}, status=201)

    async def _reply(self, request: web.Request) -> web.Response:
        await self._record(request, "reply")
        return self._take_failure() or web.json_response({"id": self._next_id()}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        call = await self._record(request, "update")
        return self._take_failure() or web.json_response({"id": call.activity_id})

    async def _delete(self, request: web.Request) -> web.Response:
        await self._record(request, "delete")
        return self._take_failure() or web.Response(status=200)

    async def _members_list(self, request: web.Request) -> web.Response:
        await self._record(request, "get_members")
        with self._lock:
            members = list(self._members.get(request.match_info["conversation"], []))
        return web.json_response(members)

    async def _member(self, request: web.Request) -> web.Response:
        await self._record(request, "get_members")
        wanted = request.match_info["member"]
        with self._lock:
            members = list(self._members.get(request.match_info["conversation"], []))
        for member in members:
            if wanted in (member.get("id"), member.get("aadObjectId")):
                return web.json_response(member)
        return web.json_response(
            {"error": {"code": "MemberNotFoundInConversation", "message": "Member not found"}},
            status=404,
        )


def _sending_to(conversation_id: str | None) -> Callable[[ConnectorCall], bool]:
    def matches(call: ConnectorCall) -> bool:
        return call.kind in SENDING_KINDS and (
            conversation_id is None or call.conversation_id == conversation_id
        )

    return matches
