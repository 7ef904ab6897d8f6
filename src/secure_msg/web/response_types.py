"""Every JSON answer of the API, declared once as a TypedDict.

Handlers build their answers as these types (mypy checks each key and value), and
`add_route(..., response=Type)` puts the same type's schema in /api/openapi.json. Entries are
the exception that proves the rule: their text is written once at insert (model/entry_json.py),
so `Entry` only describes it, and the contract test (tests/api, secure_msg.testing.contract)
checks every page the tests read against it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, TypedDict

from msgspec import Meta

from secure_msg.errors import SecureMsgError
from secure_msg.model.access_log import MEMBER_VISIBLE
from secure_msg.model.appointments import AppointmentStatus, Payer
from secure_msg.model.booklet_lifecycle import BookletStatus
from secure_msg.model.channel_policy import Channel
from secure_msg.model.document_requests import RequestKind, RequestStatus
from secure_msg.model.notice_templates import Language, NoticeKind
from secure_msg.model.notices import NoticeStatus
from secure_msg.model.roles import Role
from secure_msg.web.typed_json import HexId


def _enum(*values: str) -> Meta:
    return Meta(extra_json_schema={"enum": sorted(values)})


Hex = Annotated[str, Meta(pattern=HexId.PATTERN)]
B64 = Annotated[str, Meta(pattern="^[A-Za-z0-9_-]*$", extra_json_schema={
    "contentEncoding": "base64url", "description": "unpadded base64url"})]
Time = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
DayText = Annotated[str, Meta(extra_json_schema={"format": "date"})]
Count = Annotated[int, Meta(ge=0)]
RoleName = Annotated[str, _enum(*Role)]
LanguageName = Annotated[str, _enum(*Language)]
Fingerprint = Annotated[str, Meta(pattern="^[0-9a-f]{4}( [0-9a-f]{4}){7}$")]


# -- accounts -----------------------------------------------------------------------------------


class Account(TypedDict):
    id: Hex
    role: RoleName
    login: str
    name: str | None
    language: LanguageName
    key_statement: B64
    fingerprint: Fingerprint


class LoginResult(TypedDict):
    token: str
    expires_at: Time
    account: Account
    password_bundle: B64


class EnrollmentInfo(TypedDict):
    role: RoleName
    account_id: Hex
    name: str | None
    booklet_id: Hex | None
    expires_at: Time


class Joined(TypedDict):
    booklet_id: Hex


class KdfParams(TypedDict):
    kdf: Literal["pbkdf2-sha256"]
    iterations: Count
    salt: B64


class RecoveryBundle(TypedDict):
    recovery_bundle: B64
    key_statement: B64


class ClientState(TypedDict):
    version: Count
    state: B64 | None


class StateVersion(TypedDict):
    version: Count


# -- booklets and entries -----------------------------------------------------------------------


class Created(TypedDict):
    id: Hex


class BookletSummary(TypedDict):
    id: Hex
    role: RoleName
    last_seq: Count
    read_seq: Count
    unread: Count
    member_count: Count
    title_envelope: B64 | None


class Booklets(TypedDict):
    booklets: list[BookletSummary]


class Member(TypedDict):
    account_id: Hex
    role: RoleName
    name: str | None
    key_statement: B64
    fingerprint: Fingerprint
    joined_at: Time
    joined_seq: Count
    removed: bool


class Members(TypedDict):
    members: list[Member]


class Invitation(TypedDict):
    id: Count
    link: str
    expires_at: Time
    queued: list[Annotated[str, _enum(Channel.SMS, Channel.EMAIL)]]


class Consent(TypedDict):
    guardian_id: Hex
    action: Annotated[str, _enum("approve", "withdraw")]
    record: B64  # the signed record (docs/protocol.md §5.1): clients verify it themselves
    signed_at: Time  # when the server stored it


class Caregiver(TypedDict):
    account_id: Hex
    name: str | None
    key_statement: B64
    fingerprint: Fingerprint
    until: Time
    scope: Annotated[str, _enum("new", "history")]
    status: Annotated[str, _enum("pending_consent", "active", "withdrawn", "expired")]
    invited_by: Hex
    consents: list[Consent]


class Caregivers(TypedDict):
    caregivers: list[Caregiver]


class Granted(TypedDict):
    entries: Count


class Grant(TypedDict):
    granter_id: Hex
    grant: B64


class Grants(TypedDict):
    grants: list[Grant]


class RosterJoin(TypedDict):
    account_id: Hex
    invitation: B64
    proof: B64


class Roster(TypedDict):
    version: Count
    roster: B64 | None
    joins: list[RosterJoin]


class RosterVersion(TypedDict):
    version: Count


class JoinedWithInvitation(TypedDict):
    invitation: B64
    grant: B64 | None


class Head(TypedDict):
    last_seq: Count
    last_hash: B64
    members_version: Count


class Posted(TypedDict):
    seq: Count
    entry_id: Hex
    entry_hash: B64


class Entry(TypedDict):
    seq: Count
    entry_id: Hex
    author_id: Hex
    kind: Count
    created_at: Time
    received_at: Time
    entry_hash: B64
    envelope: B64


class BlobUploaded(TypedDict):
    id: Hex
    size: Count
    sha256: B64


class EntryPage(TypedDict):
    entries: list[Entry]
    last_seq: Count


class ReadSeq(TypedDict):
    read_seq: Count


class Receipt(TypedDict):
    account_id: Hex
    read_seq: Count
    read_at: Time


class Receipts(TypedDict):
    receipts: list[Receipt]


# -- appointments and notices -------------------------------------------------------------------


class Appointment(TypedDict):
    id: Hex
    booklet_id: Hex
    start: Time
    duration_minutes: Count
    status: Annotated[str, _enum(*AppointmentStatus)]
    cancel_code: str
    late: bool
    cancelled_via: str | None


class PeriodSummary(TypedDict):
    id: Hex
    start: DayText
    end: DayText
    sessions_granted: Count
    payer: Annotated[str, _enum(*Payer)]
    used: Count
    attended: Count
    late_cancellations: Count
    late_cancellations_count: bool
    remaining: Count
    summary: str


class Appointments(TypedDict):
    appointments: list[Appointment]
    late_cancellation_hours: Count
    period: PeriodSummary | None


class NoticeQueued(TypedDict):
    id: Count
    status: Literal["queued"]


class NoticeRequeued(NoticeQueued):
    send_after_ms: Count  # when the outbox first tries it (quiet hours may delay it)


class Notice(TypedDict):
    id: Count
    booklet_id: Hex | None
    recipient_id: Hex | None
    channel: Annotated[str, _enum(*Channel)]
    kind: Annotated[str, _enum(*NoticeKind)]
    status: Annotated[str, _enum(*NoticeStatus)]
    reason: str | None
    error_code: int | None
    attempts: Count
    updated_at: Time


class Notices(TypedDict):
    notices: list[Notice]


# -- pending invitations and the admin's page --------------------------------------------------


class PendingInvitation(TypedDict):
    id: Count
    role: RoleName
    name: str | None
    has_phone: bool
    has_email: bool
    created_at: Time
    expires_at: Time


class PendingInvitations(TypedDict):
    invitations: list[PendingInvitation]


class StaffInvitation(TypedDict):
    id: Count
    link: str
    expires_at: Time


class StaffMember(TypedDict):
    account_id: Hex
    role: RoleName
    name: str | None
    created_at: Time
    disabled: bool


class Staff(TypedDict):
    staff: list[StaffMember]
    pending: list[PendingInvitation]


class AuditStatus(TypedDict):
    ok: bool
    checked: Count
    first_broken_seq: int | None
    reason: str


# -- operations and problems --------------------------------------------------------------------


class Status(TypedDict):
    status: Literal["ok", "ready"]


# -- a booklet's access log (issue 17 item 5) --------------------------------------------------


class AccessLogItem(TypedDict):
    """One audit event about the booklet. seq, prev_hash, hash and the raw fields (at_ms,
    actor_ref, target, detail) let a client recompute this event's hash (model/audit.py); the
    links to the events it is not shown cannot be checked (docs/threat-model.md §3.8)."""

    seq: Annotated[int, Meta(ge=1)]
    at: Time
    at_ms: int
    actor: Hex | None  # the member's account id; None for system, operator or an outsider
    actor_ref: Annotated[str, Meta(description="the chain's actor field as stored")]
    action: Annotated[str, _enum(*MEMBER_VISIBLE)]
    target: str
    detail: dict[str, str | int | bool | None]
    prev_hash: B64
    hash: B64


class AccessLog(TypedDict):
    items: list[AccessLogItem]  # newest first
    next_cursor: Annotated[int, Meta(ge=1)] | None


class ExportRecorded(TypedDict):
    seq: Annotated[int, Meta(ge=1)]  # the event's position in the audit chain
    at: Time


class OpenApiDocument(TypedDict):
    openapi: str
    info: dict[str, Any]
    servers: list[dict[str, Any]]
    paths: dict[str, Any]
    components: dict[str, Any]


class FieldError(TypedDict):
    field: str
    problem: NotRequired[str]
    reason: NotRequired[str]
    value: NotRequired[str]


def _problem_codes() -> list[str]:
    found, todo = set(), [SecureMsgError]
    while todo:
        cls = todo.pop()
        found.add(cls.code)
        todo.extend(cls.__subclasses__())
    return sorted(found)


class Problem(TypedDict):
    """RFC 9457 problem details; `type` is a stable code (errors.py)."""

    type: Annotated[str, Meta(extra_json_schema={"enum": _problem_codes()})]
    title: str
    status: Annotated[int, Meta(ge=400, le=599)]
    detail: str
    instance: str
    errors: NotRequired[list[FieldError]]
    retry_after: NotRequired[Annotated[int, Meta(ge=0)]]
    protocol_error: NotRequired[str]
    current_version: NotRequired[Count]
    head: NotRequired[Count]
    reason: NotRequired[str]
    kind: NotRequired[str]
    language: NotRequired[str]
    max_bytes: NotRequired[Count]  # blob-too-large
    quota_bytes: NotRequired[Count]  # booklet-quota-exceeded
    available_bytes: NotRequired[Count]
    attempts_left: NotRequired[Count]  # share-code-wrong


# -- closing and retention ----------------------------------------------------------------------


class Lifecycle(TypedDict):
    """Where a booklet stands (model/booklet_lifecycle.py): open, or closed and read-only."""

    booklet_id: Hex
    status: Annotated[str, _enum(*BookletStatus)]
    closed_at: Time | None
    purge_after: Time | None  # not deleted before this; members are reminded to export first
    reminded_at: Time | None


class CaseloadBooklet(BookletSummary):
    """A row of the therapist's desk: the booklet-list row plus what the server knows in clear."""
    next_session: Appointment | None
    period: PeriodSummary | None
    notice_problems: Count
    family_cancellations: Count


class Caseload(TypedDict):
    booklets: list[CaseloadBooklet]
    sessions: list[Appointment]
    week_from: Time
    week_to: Time
# -- document requests --------------------------------------------------------------------------


class DocumentRequest(TypedDict):
    id: Hex
    booklet_id: Hex
    requester_id: Hex
    kind: Annotated[str, _enum(*RequestKind)]
    status: Annotated[str, _enum(*RequestStatus)]
    created_at: Time
    due: DayText | None
    done_by_seq: Annotated[int, Meta(ge=1)] | None
    closed_by: Hex | None
    closed_at: Time | None


class DocumentRequests(TypedDict):
    requests: list[DocumentRequest]


# -- shares to outsiders (docs/protocol.md §4.8) ------------------------------------------------

ShareStateName = Annotated[str, _enum("open", "used", "expired", "revoked", "locked")]


class ShareItem(TypedDict):
    id: Hex
    entry_seq: Count
    blob_id: Hex
    sharer: Hex
    to: Annotated[str, Meta(description="the last 3 digits of the number the code went to")]
    created_at: Time
    expires_at: Time
    max_opens: Count
    opens: Count
    failures: Count
    state: ShareStateName
    revoked_at: Time | None
    revoked_by: Hex | None


class ShareList(TypedDict):
    items: list[ShareItem]


class ShareOpened(TypedDict):
    sealed: B64
    expires_at: Time
    opens: Count
    max_opens: Count
