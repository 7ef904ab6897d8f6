"""POST /api/notices/{notice}/retry: a therapist sends a failed notice again."""

from __future__ import annotations

import re

from aiohttp import web

from secure_msg.errors import NotFound
from secure_msg.services import notice_retry
from secure_msg.web import response_types as out
from secure_msg.web.auth import require_session
from secure_msg.web.openapi import add_route
from secure_msg.web.services import services

_NOTICE_ID = re.compile(r"[1-9][0-9]{0,17}")


async def retry(request: web.Request) -> web.Response:
    session = await require_session(request)
    value = request.match_info["notice"]
    if not _NOTICE_ID.fullmatch(value):
        raise NotFound()  # a malformed id is simply not found
    queued = await notice_retry.retry(services(request).notices, session, int(value))
    answer: out.NoticeRequeued = {"id": queued.id, "status": "queued",
                                  "send_after_ms": queued.send_after_ms}
    return web.json_response(answer, status=202)


def setup_routes(app: web.Application) -> None:
    add_route(app, "POST", "/api/notices/{notice}/retry", retry, tags=["notices"],
              status=202, auth=True,
              summary="Send a failed, undelivered or expired notice again as a new attempt "
                      "(the booklet's therapist; once per notice; not invitations)",
              description="409 notice-not-retryable for any other status, an invitation (its "
                          "link is not kept) or a notice already sent again; 404 for a notice "
                          "that is not of one of my booklets. Quiet hours and opt-out apply "
                          "as to any notice: send_after_ms says when it will first be tried "
                          "(the end of quiet hours for a reminder or a new-entry ping asked for "
                          "at night). Audited as notice.retried.",
              response=out.NoticeRequeued, errors=(404, 409))
