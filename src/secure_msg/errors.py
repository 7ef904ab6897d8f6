"""The service's one error tree; web/problems.py renders it as RFC 9457 problem+json.

    SecureMsgError                   500 internal
    ├── ConfigError                  500 config-invalid
    │   └── KeysExist                500 config-invalid
    ├── DataIntegrityError           500 data-integrity
    │   └── VaultError               500 data-integrity
    ├── MigrationRefused             500 migration-refused
    ├── BadRequest                   400 bad-request
    │   ├── InvalidJson              400 invalid-json
    │   └── ValidationFailed         422 validation-failed
    │       ├── InvalidPhoneNumber   422 invalid-phone-number
    │       ├── InvalidEmailAddress  422 invalid-email-address
    │       ├── BlobUnknown          422 blob-unknown
    │       └── DocRequestUnknown    422 document-request-unknown
    ├── Unauthorized                 401 unauthorized
    │   └── InvalidCredentials       401 invalid-credentials
    ├── Forbidden                    403 forbidden
    │   ├── WebhookSignatureInvalid  403 webhook-signature-invalid
    │   ├── ShareForbidden           403 share-forbidden
    │   ├── ShareCodeWrong           403 share-code-wrong
    │   ├── ConsentPending           403 consent-pending
    │   └── MembershipExpired        403 membership-expired
    ├── NotFound                     404 not-found
    ├── MethodNotAllowed             405 method-not-allowed
    ├── Conflict                     409 conflict
    │   ├── LoginTaken               409 login-taken
    │   ├── SequenceConflict         409 sequence-conflict
    │   ├── MembershipChanged        409 membership-changed
    │   ├── DuplicateEntry           409 duplicate-entry
    │   ├── AlreadyMember            409 already-member
    │   ├── InvalidTransition        409 invalid-transition
    │   │   └── DocRequestNotOpen    409 document-request-not-open
    │   ├── NoticeNotRetryable       409 notice-not-retryable
    │   ├── StateVersionConflict     409 state-version-conflict
    │   ├── RosterVersionConflict    409 roster-version-conflict
    │   ├── BookletClosed            409 booklet-closed
    │   ├── StillAMember             409 still-a-member
    │   ├── BlobAlreadyAttached      409 blob-already-attached
    │   ├── TooManyOpenRequests      409 too-many-open-requests
    │   ├── ShareExists              409 share-exists
    │   ├── ConsentRecorded          409 consent-recorded
    │   └── ConsentClosed            409 consent-closed
    ├── Gone                         410 gone
    │   ├── InvitationExpired        410 invitation-expired
    │   ├── InvitationUsed           410 invitation-used
    │   ├── ShareExpired             410 share-expired
    │   ├── ShareRevoked             410 share-revoked
    │   ├── ShareUsed                410 share-used
    │   └── ShareLocked              410 share-locked
    ├── RequestTimeout               408 request-timeout
    ├── PayloadTooLarge              413 payload-too-large
    │   ├── BlobTooLarge             413 blob-too-large
    │   └── BookletQuotaExceeded     413 booklet-quota-exceeded
    ├── UnsupportedMediaType         415 unsupported-media-type
    ├── RateLimited                  429 rate-limited
    ├── ServiceUnavailable           503 service-unavailable
    │   ├── DatabaseUnavailable      503 service-unavailable
    │   └── Overloaded               503 overloaded
    ├── ProtocolRejected             422 protocol-rejected
    ├── ClinicalContentRefused       422 clinical-content-refused
    ├── ChannelDisabled              422 channel-disabled
    ├── WhatsAppTemplateMissing      422 whatsapp-template-missing
    └── LengthRequired               411 length-required

`code` is the stable problem `type` (a relative URI reference, e.g. "not-found"): clients and
tests branch on it, so never rename one. `title` is user-facing and the same for every instance
of a class; `detail` is optional per-instance user-facing text and must never carry internal state.
A 500 is never the user's doing: web/problems.py answers it without detail and logs it.

Every subclass is defined here, whichever layer raises it, so the whole tree reads in one place;
the middleware needs no change for a new one. tests/test_errors.py checks both that and that the
drawing above is the tree the classes form, and prints the drawing to paste when it is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar


class SecureMsgError(Exception):
    """Base of every error the service raises on purpose."""

    code: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal server error"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        # Extra problem members (RFC 9457 §3.2), e.g. `errors` or `retry_after`; user-facing only.
        self.extensions: Mapping[str, Any] = extensions

    def headers(self) -> dict[str, str]:
        """HTTP headers the response must carry (e.g. Retry-After)."""
        return {}


class ConfigError(SecureMsgError):
    """Configuration is invalid; the message names the key. Raised at start-up, never over HTTP."""

    code = "config-invalid"

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config key {key!r}: {problem}")
        self.key = key


class DataIntegrityError(SecureMsgError):
    """Stored data failed an integrity check (tampered ciphertext, wrong key). Bare 500 to users."""

    code = "data-integrity"


class MigrationRefused(SecureMsgError):
    """`secure-msg admin migrate-to-postgresql` will not copy (a non-empty target, a source
    not fully migrated, a server still running) or its check of the copy failed: the message
    says which and what to do. Never over HTTP; never names the DSN."""

    code = "migration-refused"


class BadRequest(SecureMsgError):
    code = "bad-request"
    status = 400
    title = "The request is malformed"


class InvalidJson(BadRequest):
    code = "invalid-json"
    title = "The request body is not valid JSON"


class ValidationFailed(BadRequest):
    code = "validation-failed"
    status = 422
    title = "The request has invalid fields"


class Unauthorized(SecureMsgError):
    code = "unauthorized"
    status = 401
    title = "Authentication is required"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="secure-msg"'}


class Forbidden(SecureMsgError):
    code = "forbidden"
    status = 403
    title = "You do not have access to this"


class NotFound(SecureMsgError):
    code = "not-found"
    status = 404
    title = "Not found"


class MethodNotAllowed(SecureMsgError):
    code = "method-not-allowed"
    status = 405
    title = "Method not allowed"

    def __init__(self, allowed: frozenset[str] | set[str] = frozenset()) -> None:
        super().__init__()
        self.allowed = sorted(allowed)

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)} if self.allowed else {}


class Conflict(SecureMsgError):
    code = "conflict"
    status = 409
    title = "The request conflicts with the current state"


class Gone(SecureMsgError):
    code = "gone"
    status = 410
    title = "This is no longer available"


class InvitationExpired(Gone):
    code = "invitation-expired"
    title = "This invitation has expired"


class InvitationUsed(Gone):
    code = "invitation-used"
    title = "This invitation has already been used"


class RequestTimeout(SecureMsgError, TimeoutError):
    """The body did not arrive within [server] body_timeout_seconds. A TimeoutError too: aiohttp
    ends its lingering read of an unread body quietly on one (any other error it logs)."""

    code = "request-timeout"
    status = 408
    title = "The request was not received in time"


class PayloadTooLarge(SecureMsgError):
    code = "payload-too-large"
    status = 413
    title = "The request body is too large"


class UnsupportedMediaType(SecureMsgError):
    code = "unsupported-media-type"
    status = 415
    title = "Unsupported content type"


class RateLimited(SecureMsgError):
    code = "rate-limited"
    status = 429
    title = "Too many attempts; try again later"

    def __init__(self, retry_after_seconds: int, detail: str | None = None) -> None:
        super().__init__(detail, retry_after=retry_after_seconds)
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class ServiceUnavailable(SecureMsgError):
    """A dependency is not ready yet (e.g. the database at start-up)."""

    code = "service-unavailable"
    status = 503
    title = "The service is temporarily unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """The database server cannot be reached (down, restarting, in crash recovery): nothing of
    the request was committed, or its COMMIT's answer was lost (storage/pg_db.py)."""

    def __init__(self) -> None:
        super().__init__("The database does not answer; try again shortly.")


# Every HTTP status aiohttp itself may raise that we map, to the class rendered for it.
HTTP_STATUS_ERRORS: Mapping[int, type[SecureMsgError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationFailed,
    429: RateLimited,
    503: ServiceUnavailable,
}


# Errors of the accounts, booklets and entries services. Kept here so the tree stays in one file.


class InvalidCredentials(Unauthorized):
    """Wrong login or password: one answer for both, so neither is revealed."""

    code = "invalid-credentials"
    title = "The login name or password is not correct"


class LoginTaken(Conflict):
    code = "login-taken"
    title = "That login name is already in use"


class Overloaded(ServiceUnavailable):
    """Too many password checks at once (services/argon2_gate.py): come back after Retry-After."""

    code = "overloaded"
    title = "The server is busy; try again in a moment"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(None, retry_after=retry_after_seconds)
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class SequenceConflict(Conflict):
    """Someone posted first: fetch the new head, re-seal and post again."""

    code = "sequence-conflict"
    title = "The booklet has moved on; refresh and try again"


class MembershipChanged(Conflict):
    code = "membership-changed"
    title = "The booklet's members changed; refresh and try again"


class DuplicateEntry(Conflict):
    code = "duplicate-entry"
    title = "An entry with this id already exists"


class AlreadyMember(Conflict):
    """An invitation into a booklet the account is a current member of: accepting it would
    change the member's role and reading start, so it is refused and the link stays unused."""

    code = "already-member"
    title = "You are already a member of this booklet"


class ProtocolRejected(SecureMsgError):
    """A sealed object failed a protocol check (protocol.md §7); `protocol_error` says which."""

    code = "protocol-rejected"
    status = 422
    title = "The encrypted object failed verification"

    def __init__(self, protocol_error: str) -> None:
        super().__init__(f"Protocol check failed: {protocol_error}", protocol_error=protocol_error)


# Errors of appointments and notices (issue 4).


class ClinicalContentRefused(SecureMsgError):
    """Clinical or user-written text asked to travel over SMS, e-mail or WhatsApp (DESIGN §1.2)."""

    code = "clinical-content-refused"
    status = 422
    title = "Clinical content and written text go only through the encrypted inbox"


class ChannelDisabled(SecureMsgError):
    """A notice channel that is switched off in config (WhatsApp by default)."""

    code = "channel-disabled"
    status = 422
    title = "This channel is not enabled"


class WhatsAppTemplateMissing(SecureMsgError):
    """A WhatsApp notice whose kind has no approved template configured for the language."""

    code = "whatsapp-template-missing"
    status = 422
    title = "No approved WhatsApp template for this notice"


class InvalidTransition(Conflict):
    """The appointment's lifecycle does not allow this step from its current state."""

    code = "invalid-transition"
    title = "The appointment is no longer in a state that allows this"


class NoticeNotRetryable(Conflict):
    """A notice sent again only from failed, undelivered or expired, once, and never an
    invitation (its link is not kept: a new invitation replaces it)."""

    code = "notice-not-retryable"
    title = "This text message cannot be sent again"


class WebhookSignatureInvalid(Forbidden):
    """A Twilio webhook without a valid X-Twilio-Signature over the public URL."""

    code = "webhook-signature-invalid"
    title = "The webhook signature is missing or wrong"


# Errors of the client-state service (docs/protocol.md §6.5).


class StateVersionConflict(Conflict):
    """Another device wrote first: read the stored state, merge, and write again."""

    code = "state-version-conflict"
    title = "The stored state has changed; read it, merge and try again"

    def __init__(self, current_version: int) -> None:
        super().__init__(f"The stored version is {current_version}.",
                         current_version=current_version)


# Errors of signed rosters (docs/protocol.md §6.6).


class RosterVersionConflict(Conflict):
    """Another roster was stored first: read it, recompute, sign and store again."""

    code = "roster-version-conflict"
    title = "The stored roster has changed; read it and try again"

    def __init__(self, current_version: int) -> None:
        super().__init__(f"The stored roster version is {current_version}.",
                         current_version=current_version)


# Errors of closing, retention and account deletion (model/booklet_lifecycle.py).


class BookletClosed(Conflict):
    """The booklet was closed at the end of therapy: it can be read and exported, not changed."""

    code = "booklet-closed"
    title = "The booklet is closed: it can be read and exported, but not changed"


class StillAMember(Conflict):
    """An account that is still a member of a booklet cannot be deleted."""

    code = "still-a-member"
    title = "Leave every booklet before deleting the account"


# Errors of the server's key files and the at-rest vault: start-up or data, never user-caused.


class KeysExist(ConfigError):
    """Refusal to overwrite: replacing a key makes existing data unreadable or unfindable."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            "storage.keys_dir",
            f"{path} already exists; refusing to overwrite it (existing data depends on it)",
        )


class VaultError(DataIntegrityError):
    """A sealed blob did not open: tampered, truncated, wrong purpose, wrong key or version."""


# Errors of contact addresses (secure_msg.contacts).


class InvalidPhoneNumber(ValidationFailed):
    code = "invalid-phone-number"
    title = "The phone number is not valid"


class InvalidEmailAddress(ValidationFailed):
    code = "invalid-email-address"
    title = "The e-mail address is not valid"


# Errors of encrypted attachments (blobs; docs/protocol.md, services/blob_service.py).


class LengthRequired(SecureMsgError):
    """An upload without Content-Length: its size must be known before any byte is stored."""

    code = "length-required"
    status = 411
    title = "Send the upload with a Content-Length"


class BlobTooLarge(PayloadTooLarge):
    """An attachment larger than [blobs] max_blob_bytes, refused before its body is read."""

    code = "blob-too-large"
    title = "The attachment is too large"


class BookletQuotaExceeded(PayloadTooLarge):
    """The booklet's attachments would exceed [blobs] booklet_quota_bytes."""

    code = "booklet-quota-exceeded"
    title = "The booklet has no room left for this attachment"


class BlobUnknown(ValidationFailed):
    """An entry lists a blob that is not an unattached upload of the poster in this booklet.
    One answer for every case (no such blob, another booklet's, another member's), so that
    an id says nothing about blobs elsewhere."""

    code = "blob-unknown"
    title = "An attachment the entry lists is not an upload of yours in this booklet"


class BlobAlreadyAttached(Conflict):
    """An entry lists a blob that an earlier entry already lists."""

    code = "blob-already-attached"
    title = "An attachment the entry lists belongs to another entry"


# Errors of document requests (model/document_requests.py).


class DocRequestUnknown(ValidationFailed):
    """An entry names a request that is no request of this booklet. One answer whether the id
    is unknown or another booklet's, so that an id says nothing about other booklets."""

    code = "document-request-unknown"
    title = "The document request the entry names is not a request of this booklet"


class DocRequestNotOpen(InvalidTransition):
    """The request was fulfilled or withdrawn already: each is done once."""

    code = "document-request-not-open"
    title = "The document request is no longer open"


class TooManyOpenRequests(Conflict):
    """A booklet has as many open document requests as it may (model/document_requests.py
    MAX_OPEN_PER_BOOKLET): answer or withdraw one first. Keeps one member from filling the
    therapist's desk."""

    code = "too-many-open-requests"
    title = "This booklet already has as many open document requests as it may"


class ShareForbidden(Forbidden):
    """Only a booklet's therapists and guardians may share its documents with an outsider."""

    code = "share-forbidden"
    title = "Only the booklet's therapists and guardians may share its documents"


class ShareCodeWrong(Forbidden):
    """A share was opened with a wrong code (the token did not match). `attempts_left` says how
    many more tries there are before the share locks."""

    code = "share-code-wrong"
    title = "The code is not right"


class ShareExists(Conflict):
    code = "share-exists"
    title = "A share with this id exists"


class ShareExpired(Gone):
    code = "share-expired"
    title = "This share has expired"


class ShareRevoked(Gone):
    code = "share-revoked"
    title = "This share was withdrawn"


class ShareUsed(Gone):
    code = "share-used"
    title = "This share has already been opened"


class ShareLocked(Gone):
    code = "share-locked"
    title = "This share is locked after too many wrong codes"


# Errors of caregivers' consented, time-limited membership (docs/protocol.md §5.1).


class ConsentPending(Forbidden):
    """A caregiver who joined but whom not every guardian has approved yet: no reads at all."""

    code = "consent-pending"
    title = "Every guardian of the child must approve you before you can read this booklet"


class MembershipExpired(Forbidden):
    """A caregiver whose membership's end date has passed."""

    code = "membership-expired"
    title = "Your membership of this booklet has ended"


class ConsentRecorded(Conflict):
    """The guardian has already signed this approval or withdrawal: nothing changes."""

    code = "consent-recorded"
    title = "You have already signed this"


class ConsentClosed(Conflict):
    """The caregiver's membership was withdrawn or has expired: it cannot be approved again
    (the therapist invites them anew)."""

    code = "consent-closed"
    title = "This caregiver's membership has ended"
