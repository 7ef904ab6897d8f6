"""What a client checks before it seals to a caregiver or grants them history (docs/protocol.md
§5.1): an approval signed by every guardian it knows, none withdrawn, all for the same terms,
and the time they name not yet passed on this device's clock. The server's word that a
caregiver is a member is not enough: a server could add a reader by itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from secure_msg.client.http import ClientError, b64d
from secure_msg.crypto import consent as protocol_consent
from secure_msg.crypto.errors import ProtocolError


@dataclass(frozen=True)
class Consented:
    until_ms: int
    scope: int  # protocol_consent.SCOPE_NEW or SCOPE_HISTORY


def iso_to_ms(text: str) -> int:
    """The API's ISO 8601 time (§2) as exact milliseconds."""
    moment = datetime.fromisoformat(text)
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def _refused(code: str, detail: str) -> ClientError:
    return ClientError(0, code, "This caregiver has not the consent of every guardian", detail)


def check_caregiver(
    *, booklet_id: bytes, caregiver_id: bytes, caregiver_ik: bytes,
    guardians: dict[bytes, bytes], listing: dict[str, Any] | None, now_ms: int,
) -> Consented:
    """`guardians` maps each guardian this client knows in the booklet to its pinned identity
    key; `listing` is the caregiver's row of GET …/caregivers (None when it has none)."""
    if not guardians:
        raise _refused("consent-missing", "the booklet has no guardian to consent")
    if listing is None:
        raise _refused("consent-missing", "no consent records are listed for this caregiver")
    approvals: dict[bytes, protocol_consent.Consent] = {}
    for row in listing.get("consents", []):
        guardian_id = bytes.fromhex(row["guardian_id"])
        if guardian_id not in guardians:
            continue  # a record from someone who is not a guardian here counts for nothing
        action = (protocol_consent.APPROVE if row["action"] == "approve"
                  else protocol_consent.WITHDRAW)
        try:
            record = protocol_consent.verify_consent(
                b64d(row["record"]), guardian_identity_key=guardians[guardian_id],
                action=action, booklet_id=booklet_id, guardian_id=guardian_id,
                caregiver_id=caregiver_id, caregiver_identity_key=caregiver_ik)
        except ProtocolError:
            continue  # a record that does not verify is as good as none
        if action == protocol_consent.WITHDRAW:
            raise _refused("consent-withdrawn", f"guardian {guardian_id.hex()} withdrew it")
        approvals[guardian_id] = record
    missing = sorted(g.hex() for g in guardians if g not in approvals)
    if missing:
        raise _refused("consent-missing", f"no valid approval from {', '.join(missing)}")
    terms = {(r.until, r.scope) for r in approvals.values()}
    if len(terms) != 1:
        raise _refused("protocol/terms-mismatch", "the guardians approved different terms")
    until, scope = terms.pop()
    if until <= now_ms:
        raise _refused("membership-expired", "the time the guardians consented to has passed")
    return Consented(until, scope)
