"""Every request body and query string of the API, declared once as a type.

A handler reads its body with `read_body(request, Type)` and its query with
`read_query(request, Type)` (web/json_io.py); `add_route(..., request=Type, query=Type)`
documents the same type in /api/openapi.json. The bounds here are the ones the API has always
enforced at its edge; rules that need the database or the configuration (roles, the period's
order, the entry size limit) stay in the services and are described in the field's text.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal, Self

from msgspec import UNSET, Meta, Struct, UnsetType

from secure_msg.crypto.client_state import MAX_VERSION
from secure_msg.crypto.keys import PBKDF2_ITERATIONS
from secure_msg.model.access_log import ExportKind
from secure_msg.model.appointments import Payer, date_problem
from secure_msg.model.channel_policy import Channel, ContentClass
from secure_msg.model.document_requests import RequestKind
from secure_msg.model.notice_templates import Language, NoticeKind
from secure_msg.services.entry_service import MAX_PAGE
from secure_msg.web.typed_json import Base64Url, HexId, JsonField, JsonSchema

MAX_QUERY_INT = 10**18 - 1  # at most 18 digits are read


def _text(max_len: int, description: str = "") -> Meta:
    """Text with at least one non-space character, like every text field of the API."""
    return Meta(pattern=r"\S", max_length=max_len, description=description or None)


Text20 = Annotated[str, _text(20)]
Text32 = Annotated[str, _text(32)]
Text40 = Annotated[str, _text(40)]
Text64 = Annotated[str, _text(64)]
Text100 = Annotated[str, _text(100)]
Text200 = Annotated[str, _text(200)]
Text254 = Annotated[str, _text(254)]


class Key32(Base64Url):
    length = 32


class Salt(Base64Url):
    max_bytes = 64


class Sealed(Base64Url):
    """A key statement or a sealed bundle."""

    max_bytes = 1024


class Blob(Base64Url):
    """An envelope, a grant or a client state: bounded by the request size and the service."""


class _Checked(JsonField):
    """A text field read by `parse` with the date-range rule of model/appointments.py."""

    max_len: ClassVar[int]
    expected: ClassVar[str]

    @classmethod
    def from_json(cls, value: object) -> Self:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("required text")
        if len(value) > cls.max_len:
            raise ValueError(f"longer than {cls.max_len} characters")
        return cls.parse(value)

    @classmethod
    def parse(cls, text: str) -> Self:
        raise NotImplementedError


class AwareTime(_Checked, int):
    """An ISO 8601 time with a UTC offset; milliseconds since the epoch in Python."""

    max_len = 40

    @classmethod
    def parse(cls, text: str) -> Self:
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("an ISO 8601 time with offset") from None
        if when.tzinfo is None:
            raise ValueError("an ISO 8601 time with offset")
        problem = date_problem(when.date())
        if problem:
            raise ValueError(problem)
        return cls(int(when.timestamp() * 1000))

    @classmethod
    def json_schema(cls) -> JsonSchema:
        return {"type": "string", "format": "date-time", "maxLength": cls.max_len,
                "description": "ISO 8601 with a UTC offset, on a day from 2000-01-01 to "
                               "2100-12-31"}


class Day(_Checked, date):
    """A date YYYY-MM-DD."""

    max_len = 10

    @classmethod
    def parse(cls, text: str) -> Self:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError("a date YYYY-MM-DD") from None
        problem = date_problem(day)
        if problem:
            raise ValueError(problem)
        return cls(day.year, day.month, day.day)

    @classmethod
    def json_schema(cls) -> JsonSchema:
        return {"type": "string", "format": "date", "maxLength": cls.max_len,
                "description": "from 2000-01-01 to 2100-12-31"}


class _Body(Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields not named are ignored, as they always were: web/typed_json.py drops them on its
    careful path (refusing them here keeps its fast path to bodies json.loads reads alike)."""


# -- accounts -----------------------------------------------------------------------------------


class PasswordFields(_Body):
    kdf_salt: Salt
    kdf_iterations: Annotated[int, Meta(ge=0, le=10**8, description=(
        f"PBKDF2-SHA256 iterations; fewer than {PBKDF2_ITERATIONS} are refused "
        "(422 protocol-rejected weak-kdf-params)"))]
    auth_key: Key32
    password_bundle: Sealed


class EnrollBody(PasswordFields):
    login: Text64
    key_statement: Sealed
    recovery_auth_key: Key32
    recovery_bundle: Sealed
    language: Language | None = None  # fi when absent


class PreloginBody(_Body):
    login: Text200


class LoginBody(_Body):
    login: Text200
    auth_key: Key32


class PasswordChangeBody(PasswordFields):
    current_auth_key: Key32


class AccountDeleteBody(_Body):
    current_auth_key: Key32  # the proof a password change asks for, too


class RecoveryBundleBody(_Body):
    login: Text200
    recovery_auth_key: Key32


class RecoveryResetBody(PasswordFields):
    login: Text200
    recovery_auth_key: Key32


class ClientStateBody(_Body):
    base_version: Annotated[int, Meta(ge=0, le=MAX_VERSION)]
    version: Annotated[int, Meta(ge=1, le=MAX_VERSION)]
    state: Blob


# -- booklets -----------------------------------------------------------------------------------


class InviteBody(_Body):
    role: Literal["guardian", "caregiver"]
    name: Text100 | None = None
    phone: Text32 | None = None
    email: Text254 | None = None
    send: Annotated[list[Annotated[str, Meta(extra_json_schema={"enum": ["email", "sms"]})]],
                    Meta(description="channels to send the link by")] = []
    language: Language | None = None  # fi when absent
    until: Annotated[str, Meta(
        pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|period-end)$", description=(
            "caregivers (required): membership until the end of this date in the practice's "
            "time zone, or period-end: the end date of the booklet's current therapy period"))
    ] | None = None
    scope: Annotated[Literal["new", "history"], Meta(description=(
        "caregivers (required): new entries only, or also earlier ones a member grants"))
    ] | None = None


class ConsentBody(_Body):
    record: Annotated[Sealed, Meta(description=(
        "a guardian's signed consent record (docs/protocol.md §5.1): approve or withdraw"))]


class GrantBody(_Body):
    grant: Blob


class RosterBody(_Body):
    """A signed roster (protocol §6.6), stored if `base_version` is still the stored one."""

    base_version: Annotated[int, Meta(ge=0, le=MAX_VERSION)]
    roster: Blob


class InvitationTrustBody(_Body):
    """The therapist's invitation record and the grant sealed to the invitation (§6.7)."""

    invitation: Blob
    grant: Blob | None = None


class JoinBody(_Body):
    """A join proof (protocol §6.7)."""

    proof: Blob


class EntryBody(_Body):
    envelope: Annotated[Blob, Meta(description=(
        "a sealed, signed entry; larger than [limits] max_entry_bytes: 413"))]
    blob_ids: Annotated[list[HexId], Meta(max_length=1000, description=(
        "attachments this entry lists: ids of the poster's pending uploads into this booklet "
        "(POST …/blobs), each at most once; at most [blobs] max_per_entry"))] = []
    fulfils_request: Annotated[HexId, Meta(description=(
        "the open document request of this booklet this document entry fulfils (therapist, "
        "kind 05 document): it becomes done and the family gets a neutral notice; no such "
        "request here: 422 document-request-unknown; done or withdrawn: 409 "
        "document-request-not-open"))] | None = None


class ReceiptBody(_Body):
    read_seq: Annotated[int, Meta(ge=0, le=2**62)]


class EntriesQuery(_Body):
    since: Annotated[int, Meta(ge=0, le=MAX_QUERY_INT, description=(
        "entries after this sequence number, oldest first"))] = 0
    before: Annotated[int, Meta(ge=1, le=MAX_QUERY_INT, description=(
        "entries before this sequence number, newest first (instead of since)"))] | None = None
    limit: Annotated[int, Meta(ge=0, le=MAX_PAGE, description="page size; 0: 50")] = 50


class MembersQuery(_Body):
    all: Annotated[str, Meta(description="1: former members too; anything else: current only",
                             examples=["1"])] = "0"


# -- appointments and notices -------------------------------------------------------------------


class ScheduleBody(_Body):
    start: AwareTime
    duration_minutes: Annotated[int, Meta(ge=1, le=10_000, description=(
        "5 to 480 are accepted (422 otherwise)"))]


class MarkBody(_Body):
    status: Literal["attended", "no_show"]


class PeriodBody(_Body):
    start: Day
    end: Annotated[Day, Meta(description="after start")]
    sessions_granted: Annotated[int, Meta(ge=1, le=500)]
    payer: Payer


class NoticeBody(_Body):
    member_id: HexId
    channel: Channel
    content: ContentClass | None = None  # notice when absent
    kind: Annotated[NoticeKind, Meta(description=(
        "new_entry_ping, invitation, reminder or cancelled_by_therapist are sent "
        "(422 otherwise)"))] | None = None
    address: Text64 | None = None
    appointment_id: Annotated[HexId, Meta(description=(
        "with reminder and cancelled_by_therapist only"))] | UnsetType = UNSET
    text: Annotated[str, Meta(description=(
        "anything a person wrote: free text, refused on every plain channel"))] | None = None


# -- a booklet's access log (issue 17 item 5) --------------------------------------------------


class AccessLogQuery(_Body):
    cursor: Annotated[int, Meta(ge=1, le=MAX_QUERY_INT, description=(
        "next_cursor of the previous page: events older than it"))] | None = None
    limit: Annotated[int, Meta(ge=1, le=MAX_PAGE, description="page size")] = 50


class ExportBody(_Body):
    kind: Annotated[ExportKind, Meta(description=(
        "booklet: the patient-record archive; access-log: this log as CSV or JSON"))]
    entries: Annotated[int, Meta(ge=0, le=MAX_QUERY_INT, description=(
        "how many entries the export holds, as the client counted them"))] | None = None


# -- webhooks -----------------------------------------------------------------------------------


class GatherQuery(_Body):
    a: Annotated[str, Meta(description="the appointment the call read out (its first 32 "
                                       "characters are read)")] = ""



# -- admin --------------------------------------------------------------------------------------


class StaffInviteBody(_Body):
    role: Literal["therapist", "admin"]
    name: Text100
    phone: Text32 | None = None
    email: Text254 | None = None


# -- document requests (services/document_request_service.py) ----------------------------------


class DocumentRequestBody(_Body):
    kind: RequestKind
    due: Annotated[Day, Meta(description="the day the family needs it by (optional)")] | None = None


class DocumentRequestPatch(_Body):
    due: Annotated[Day, Meta(description="the new day it is needed by; null: no date")] | None


class DocumentRequestsQuery(_Body):
    all: Annotated[str, Meta(description="1: done and withdrawn requests too; else open only",
                             examples=["1"])] = "0"


# -- shares to outsiders (docs/protocol.md §4.8) ------------------------------------------------


class SealedShare(Base64Url):
    max_bytes = 4096


class ShareBody(_Body):
    id: Annotated[HexId, Meta(description="the share id the sharer's device drew (§4.8)")]
    entry_seq: Annotated[int, Meta(ge=1, le=MAX_QUERY_INT, description="the entry listing it")]
    blob_id: Annotated[HexId, Meta(description="the file's blob, attached to that entry")]
    sealed: Annotated[SealedShare, Meta(description="the sealed record, type 0x51 (§4.8)")]
    verifier: Annotated[Key32, Meta(description="SHA-256 verifier of the access token (§4.8)")]
    phone: Annotated[str, _text(32, "the recipient's mobile number: the code goes there")]
    code: Annotated[str, Meta(pattern="^[0-9]{8}$", description=(
        "the 8-digit code, sent by SMS; half of the key's input, the server never gets the "
        "other half"))]
    language: Language = Language.FI
    days: Annotated[int, Meta(ge=1, le=30, description="open for this many days")] = 14
    max_opens: Annotated[int, Meta(ge=1, le=5, description="how many opens it allows")] = 1


class ShareTokenBody(_Body):
    token: Annotated[Key32, Meta(description="the access token derived from the link and code")]
