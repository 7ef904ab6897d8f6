"""High-level client: enroll, log in, booklets, members, posting and reading entries.

Every protocol check happens here, on the user's side: key statements are verified and identity
keys pinned on first sight (a changed key is refused until verified again), entries are opened
only with the pinned key of their author, and recipients come from verified statements.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlparse

import aiohttp

from secure_msg.client import consent as consent_check
from secure_msg.client import history, roster_trust, state_sync
from secure_msg.client.http import Api, ClientError, b64d, b64e
from secure_msg.client.profile import Profile
from secure_msg.clock import ms_to_iso
from secure_msg.crypto import client_state, consent, envelope, grant, keys, recovery, safety
from secure_msg.crypto import roster as roster_crypto
from secure_msg.crypto.client_state import StateCheckpoint, StatePin
from secure_msg.crypto.envelope import KIND_IDS, KINDS
from secure_msg.crypto.errors import ProtocolError
from secure_msg.crypto.payloads import decode_payload, encode_payload
from secure_msg.model.booklets import THERAPIST_KINDS

MAX_POST_RETRIES = 5


@dataclass(frozen=True)
class DecryptedEntry:
    """An entry as read. One that fails its checks keeps its place in the booklet with `error`
    (the failed check, e.g. "protocol/bad-signature"), an empty kind and payload, and the
    listing's sequence, id, author and date, which are then only the server's word."""

    seq: int
    entry_id: str
    author_id: str
    kind: str
    created_at: str
    payload: dict[str, Any]
    error: str | None = None


@dataclass(frozen=True)
class MemberInfo:
    account_id: str
    role: str
    name: str | None
    fingerprint: str
    identity_key: bytes
    encryption_key: bytes
    removed: bool
    verified: bool
    joined_seq: int = 0
    # As first seen (docs/protocol.md §6.4); the pinned role is the one that counts.
    pinned_name: str | None = None
    pinned_role: str = ""

    @property
    def relabelled(self) -> bool:
        """The server now lists another name or role than this client first saw."""
        return (self.name, self.role) != (self.pinned_name, self.pinned_role)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.account_id, "role": self.role, "name": self.name,
                "fingerprint": self.fingerprint, "verified": self.verified,
                "removed": self.removed, "first_seen_as": {"name": self.pinned_name,
                                                           "role": self.pinned_role}}


def _protocol(exc: ProtocolError) -> ClientError:
    return ClientError(0, f"protocol/{exc.code}", "A protocol check failed", exc.detail)


def _check_listing(raw: dict[str, Any], header: envelope.EntryHeader) -> None:
    """The server's plain fields of an entry must be its signed header's: otherwise a server
    could relabel a note as a notice, swap two homework entries' ids or move a date."""
    listed = (raw.get("seq"), raw.get("entry_id"), raw.get("author_id"), raw.get("kind"),
              raw.get("created_at"))
    signed = (header.sequence, header.entry_id.hex(), header.author_id.hex(), header.kind,
              ms_to_iso(header.created_at))
    if listed != signed:
        raise _protocol(ProtocolError("malformed", "the listing disagrees with the entry"))


def _unreadable(raw: dict[str, Any], code: str) -> DecryptedEntry:
    """An entry that failed a check, kept in its place; its fields are the listing's."""
    return DecryptedEntry(raw["seq"], raw["entry_id"], raw["author_id"], "", raw["created_at"],
                          {}, error=code)  # their types were checked with the page (_page_ok)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _page_ok(page: object) -> bool:
    """A page of the listing has the shape every later step relies on: counts are integers,
    and every envelope, id, author and date is text, the envelope base64url."""
    if not (isinstance(page, dict) and _is_count(page.get("last_seq"))
            and isinstance(page.get("entries"), list)):
        return False
    for raw in page["entries"]:
        if not (isinstance(raw, dict) and _is_count(raw.get("seq"))
                and all(isinstance(raw.get(k), str)
                        for k in ("envelope", "entry_id", "author_id", "created_at"))):
            return False
        try:
            b64d(raw["envelope"])
        except ValueError:  # binascii.Error is a ValueError
            return False
    return True


def _listed(raw: dict[str, Any]) -> history.Listed:
    """An entry as the history check sees it: an envelope that does not parse still has the
    hash of the bytes served (and its own open fails later)."""
    sealed = b64d(raw["envelope"])
    try:
        header = envelope.parse_envelope(sealed).header
    except ProtocolError:
        return history.Listed(int(raw["seq"]), None, envelope.entry_hash(sealed))
    return history.Listed(header.sequence, header.prev_hash, envelope.entry_hash(sealed))


def _pinned_as_listed(pin: StatePin, booklet_id: str, name: str | None, role: str
                      ) -> StatePin:
    """`pin` with the name and this booklet's role as listed now, where it has none pinned
    yet: what was pinned first stays, so a later relabelling shows (docs/protocol.md §6.4)."""
    if not pin.name_pinned:  # first sight, or a pin made before names were pinned
        pin = replace(pin, name=name, name_pinned=True)
    if booklet_id not in pin.roles:
        pin = replace(pin, roles={**pin.roles, booklet_id: role})
    return pin


def _unverified(members: list[MemberInfo]) -> ClientError:
    """Refusal before sealing to members not verified in person (docs/protocol.md §6.4)."""
    return ClientError(0, "unverified-recipients", "Not verified in person",
                       ", ".join(f"{m.name or m.account_id} ({m.role})" for m in members),
                       {"new_recipients": [m.to_json() for m in members]})


def _refused(view: roster_trust.RosterView, members: Sequence[MemberInfo]) -> ClientError:
    """Refusal to seal in a booklet whose roster failed, or to members the therapist's signed
    roster does not vouch for (docs/protocol.md §6.6): the server added them, not she."""
    names = {m.account_id: f"{m.name or m.account_id} ({m.role})" for m in members}
    if view.problem is not None:
        detail = f"the therapist's signed member list failed its check ({view.problem})"
    else:
        detail = "; ".join(f"{names.get(a, a)}: {code}" for a, code in sorted(view.refused.items()))
    return ClientError(0, "roster-refused", "Not on the therapist's signed member list", detail,
                       {"refused": dict(view.refused), "roster_problem": view.problem})


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _fragment(link: str) -> roster_crypto.Fragment | None:
    """The trust a link carries after `#` (docs/protocol.md §6.7), or None for a plain link."""
    fragment = urlparse(link).fragment
    if not fragment:
        return None
    try:
        return roster_crypto.parse_fragment(fragment)
    except ProtocolError as exc:
        raise _protocol(exc) from exc


def token_from_link(link: str) -> tuple[str, str]:
    """(server base URL, token) from an invitation link http://host/enroll/<token>."""
    parsed = urlparse(link)
    parts = parsed.path.rstrip("/").split("/")
    if len(parts) < 2 or parts[-2] != "enroll" or not parts[-1]:
        raise ClientError(0, "bad-link", "This is not an invitation link")
    prefix = "/".join(parts[:-2])
    return f"{parsed.scheme}://{parsed.netloc}{prefix}", parts[-1]


class Client:
    def __init__(self, profile: Profile, http: aiohttp.ClientSession) -> None:
        self.profile = profile
        self._http = http
        self.api = Api(profile.server, http, profile.token or None)
        self.keys: keys.AccountKeys | None = None
        # PBKDF2 with 600 000 iterations, replaceable only so tests can memoise it.
        self.derive: Callable[[str, bytes, int], keys.PasswordKeys] = keys.derive_password_keys
        self.salt: Callable[[int], bytes] = os.urandom
        # The device clock for created_at; replaceable so tests can follow a test server's
        # clock (the server refuses an entry dated more than a day ahead of its own).
        self.now_ms: Callable[[], int] = _now_ms
        # What the last read of each booklet found wrong with its history (docs/protocol.md
        # §4.6); the entries that opened are still returned, each signed on its own.
        self.history_problems: dict[str, list[history.Problem]] = {}
        # Derived from the identity seed whenever the bundle is opened; never written anywhere.
        self._state_key: bytes | None = None
        # What syncing the sealed client state found (docs/protocol.md §6.5), every sync of
        # this run; and the state as last synced, to tell whether it changed since.
        self.state_problems: list[state_sync.StateProblem] = []
        self._synced: client_state.ClientState | None = None
        # What the last roster check of each booklet found (docs/protocol.md §6.6).
        self.rosters: dict[str, roster_trust.RosterView] = {}
        self._closed: set[str] = set()  # booklets whose server refused a roster: closed
        # What the last join with a link that carried trust did (§6.7): for the user to be told.
        self.last_join: dict[str, Any] | None = None

    # -- accounts -----------------------------------------------------------------------------

    async def enroll(self, link: str, login: str, password: str, language: str = "fi") -> str:
        """Enroll from an invitation link; returns the recovery key (show it once)."""
        server, token = token_from_link(link)
        self.api = Api(server, self._http)
        info = await self.api.call("GET", f"/api/enroll/{token}")
        account_id = bytes.fromhex(info["account_id"])
        acct = keys.AccountKeys.generate(account_id)
        salt = self.salt(keys.SALT_LEN)
        pw = self.derive(password, salt, keys.PBKDF2_ITERATIONS)
        secret = recovery.generate_recovery_secret()
        rk = recovery.derive_recovery_keys(secret)
        result = await self.api.call("POST", f"/api/enroll/{token}", {
            "login": login, "key_statement": b64e(acct.statement(self.now_ms()).encode()),
            "kdf_salt": b64e(salt), "kdf_iterations": keys.PBKDF2_ITERATIONS,
            "auth_key": b64e(pw.auth_key),
            "password_bundle": b64e(keys.seal_bundle(acct, pw.kek, keys.PURPOSE_PASSWORD)),
            "recovery_auth_key": b64e(rk.auth_key),
            "recovery_bundle": b64e(keys.seal_bundle(acct, rk.kek, keys.PURPOSE_RECOVERY)),
            "language": language,
        })
        self._logged_in(server, result, acct, salt)
        fragment = _fragment(link)
        if fragment is not None and info.get("booklet_id"):
            await self.join(info["booklet_id"], fragment)
        return recovery.format_recovery_key(secret)

    def _logged_in(self, server: str, result: dict[str, Any], acct: keys.AccountKeys,
                   salt: bytes) -> None:
        account = result["account"]
        if self.profile.account_id and self.profile.account_id != account["id"]:
            # pins, verifications and checkpoints are one person's: never another's
            self.profile.pins, self.profile.checkpoints, self.profile.sealed_to = {}, {}, {}
            self.profile.roster_versions = {}
            self.profile.state_version = 0
        self.profile.server, self.profile.token = server, result["token"]
        self.profile.bundle = result["password_bundle"]
        self.profile.kdf_salt, self.profile.kdf_iterations = b64e(salt), keys.PBKDF2_ITERATIONS
        self.profile.login, self.profile.account_id = account["login"], account["id"]
        self.api = Api(server, self._http, result["token"])
        self._opened(acct)
        self._pin_verified(account["id"], acct.identity_public)

    def _opened(self, acct: keys.AccountKeys) -> None:
        self.keys = acct
        self._state_key = client_state.state_key(acct.identity_seed)

    async def _password_keys(self, login: str, password: str
                             ) -> tuple[keys.PasswordKeys, bytes]:
        pre = await self.api.call("POST", "/api/prelogin", {"login": login})
        try:
            salt = b64d(pre["salt"])
            return self.derive(password, salt, pre["iterations"]), salt
        except ProtocolError as exc:
            raise _protocol(exc) from exc

    def _open_bundle(self, blob: bytes, kek: bytes, purpose: int,
                     statement: bytes) -> keys.AccountKeys:
        try:
            acct = keys.open_bundle(blob, kek, purpose)
            st = keys.KeyStatement.parse(statement)
            st.verify()
            acct.check_matches(st)
        except ProtocolError as exc:
            raise _protocol(exc) from exc
        return acct

    async def login(self, server: str, login: str, password: str) -> None:
        self.api = Api(server, self._http)
        pw, salt = await self._password_keys(login, password)
        result = await self.api.call(
            "POST", "/api/login", {"login": login, "auth_key": b64e(pw.auth_key)}
        )
        acct = self._open_bundle(b64d(result["password_bundle"]), pw.kek,
                                 keys.PURPOSE_PASSWORD, b64d(result["account"]["key_statement"]))
        self._logged_in(server, result, acct, salt)

    async def unlock(self, password: str) -> None:
        """Open my keys for this run from the profile's sealed bundle and the password."""
        if not (self.profile.token and self.profile.bundle):
            raise ClientError(401, "not-logged-in", "Log in first")
        me = await self.api.call("GET", "/api/me")
        try:
            pw = self.derive(
                password, b64d(self.profile.kdf_salt), self.profile.kdf_iterations)
        except ProtocolError as exc:
            raise _protocol(exc) from exc
        self._opened(self._open_bundle(b64d(self.profile.bundle), pw.kek,
                                       keys.PURPOSE_PASSWORD, b64d(me["key_statement"])))

    async def sync_state(self) -> list[state_sync.StateProblem]:
        """Merge the account's sealed client state on the server into the profile and store
        the result (docs/protocol.md §6.5); what was found wrong, also kept in
        `state_problems`. Needs the keys open."""
        me = self._me()
        assert self._state_key is not None
        problems = await state_sync.sync(self.api, self.profile, account_id=me.account_id,
                                         key=self._state_key)
        self.state_problems += [p for p in problems if p not in self.state_problems]
        self._synced = self.profile.client_state()
        return problems

    @property
    def state_synced(self) -> bool:
        return self._synced is not None

    def state_changed(self) -> bool:
        """Pins, checkpoints or the sealed-to record changed since the last sync."""
        return self._synced is not None and self.profile.client_state() != self._synced

    async def accept(self, link: str) -> str:
        """Join another booklet with an invitation link, keeping this account."""
        _, token = token_from_link(link)
        result = await self.api.call("POST", f"/api/invitations/{token}/accept")
        fragment = _fragment(link)
        if fragment is not None:
            await self.join(result["booklet_id"], fragment)
        return str(result["booklet_id"])

    async def join(self, booklet_id: str, fragment: roster_crypto.Fragment) -> int:
        """Right after joining with a link that carries trust (docs/protocol.md §6.7): pin the
        therapist the link names, prove the invitation secret, open the history sealed to the
        invitation and re-wrap it to myself. Returns the number of entries received."""
        me = self._me()
        raw = await self.api.call("GET", f"/api/booklets/{booklet_id}/members")
        therapists = [m for m in raw["members"] if m["role"] == "therapist"]
        try:
            if len(therapists) != 1:
                raise ProtocolError("wrong-author", "the booklet lists no single therapist")
            st = keys.KeyStatement.parse(b64d(therapists[0]["key_statement"]))
            st.verify()
            if st.account_id.hex() != therapists[0]["account_id"]:
                raise ProtocolError("account-mismatch")
            if safety.fingerprint(st.identity_key).replace(" ", "") != (
                    fragment.therapist_fingerprint):
                raise ProtocolError("identity-key-changed",
                                    "the server lists another therapist than the link names")
            therapist_id = therapists[0]["account_id"]
            pin = self.profile.pins.get(therapist_id)
            if pin is not None and pin.identity_key != st.identity_key.hex():
                raise ProtocolError("identity-key-changed")
            if fragment.via == "qr":  # scanned from her screen, in person
                self._pin_verified(therapist_id, st.identity_key)
            elif pin is None:  # a link sent another way: trust on first use, said so
                self.profile.pins[therapist_id] = StatePin(st.identity_key.hex())
            inv_keys = roster_crypto.invitation_keys(fragment.secret)
            proof = roster_crypto.sign_join_proof(
                inv_keys, booklet_id=bytes.fromhex(booklet_id), member_id=me.account_id,
                member_ik=me.identity_public)
        except ProtocolError as exc:
            raise _protocol(exc) from exc
        joined = await self.api.call("POST", f"/api/booklets/{booklet_id}/join",
                                     {"proof": b64e(proof)})
        self.last_join = {"booklet": booklet_id, "therapist": therapist_id,
                          "therapist_verified": fragment.via == "qr", "entries": 0}
        try:
            inv = roster_crypto.verify_invitation(
                b64d(joined["invitation"]), therapist_identity_key=st.identity_key,
                booklet_id=bytes.fromhex(booklet_id), therapist_id=st.account_id)
            roster_crypto.check_invitation_secret(inv, inv_keys)
            if joined["grant"] is None:
                return 0
            granted = grant.open_grant(b64d(joined["grant"]),
                                       granter_identity_key=st.identity_key, me=inv_keys)
        except ProtocolError as exc:
            raise _protocol(exc) from exc
        # Re-wrap to myself: later sessions and other devices do not have the secret. Each
        # entry is still opened under its author's pinned key when it is read.
        blob = grant.seal_grant(
            me, booklet_id=bytes.fromhex(booklet_id), grantee_id=me.account_id,
            grantee_ek=me.encryption_public, created_at=self.now_ms(),
            keys=[(eid, ehash, key) for eid, (ehash, key) in granted.items()])
        result = await self.api.call("POST", f"/api/booklets/{booklet_id}/grants",
                                     {"grant": b64e(blob)})
        self.last_join["entries"] = int(result["entries"])
        return int(result["entries"])

    async def logout(self) -> None:
        await self.api.call("POST", "/api/logout")
        self.profile.token = ""

    async def change_password(self, old: str, new: str) -> None:
        me = self._me()
        current, _ = await self._password_keys(self.profile.login, old)
        salt = self.salt(keys.SALT_LEN)
        pw = self.derive(new, salt, keys.PBKDF2_ITERATIONS)
        bundle = keys.seal_bundle(me, pw.kek, keys.PURPOSE_PASSWORD)
        await self.api.call("POST", "/api/me/password", {
            "current_auth_key": b64e(current.auth_key), "kdf_salt": b64e(salt),
            "kdf_iterations": keys.PBKDF2_ITERATIONS, "auth_key": b64e(pw.auth_key),
            "password_bundle": b64e(bundle),
        })
        self.profile.bundle, self.profile.kdf_salt = b64e(bundle), b64e(salt)

    async def delete_account(self, password: str) -> None:
        """Delete this account on the server (it must have left every booklet), proven by the
        password as a password change is; the local profile's session ends."""
        current, _ = await self._password_keys(self.profile.login, password)
        await self.api.call("DELETE", "/api/me", {"current_auth_key": b64e(current.auth_key)})
        self.profile.token = ""

    async def recover(self, server: str, login: str, recovery_key: str, new: str) -> None:
        """Lost password: the recovery key opens the second bundle; a new password is set."""
        self.api = Api(server, self._http)
        try:
            rk = recovery.derive_recovery_keys(recovery.parse_recovery_key(recovery_key))
        except ProtocolError as exc:
            raise _protocol(exc) from exc
        body = {"login": login, "recovery_auth_key": b64e(rk.auth_key)}
        found = await self.api.call("POST", "/api/recovery/bundle", body)
        # Every check of §3.5, the keys against the account's statement included, before the
        # reset: keys that do not match must not be sealed under the new password.
        acct = self._open_bundle(b64d(found["recovery_bundle"]), rk.kek,
                                 keys.PURPOSE_RECOVERY, b64d(found["key_statement"]))
        salt = self.salt(keys.SALT_LEN)
        pw = self.derive(new, salt, keys.PBKDF2_ITERATIONS)
        result = await self.api.call("POST", "/api/recovery/reset", {
            **body, "kdf_salt": b64e(salt), "kdf_iterations": keys.PBKDF2_ITERATIONS,
            "auth_key": b64e(pw.auth_key),
            "password_bundle": b64e(keys.seal_bundle(acct, pw.kek, keys.PURPOSE_PASSWORD)),
        })
        acct = self._open_bundle(b64d(result["password_bundle"]), pw.kek,
                                 keys.PURPOSE_PASSWORD, b64d(result["account"]["key_statement"]))
        self._logged_in(server, result, acct, salt)

    def _me(self) -> keys.AccountKeys:
        if self.keys is None:
            raise ClientError(0, "locked", "Unlock with the password first")
        return self.keys

    # -- members and verification ------------------------------------------------------------

    def _check_member(self, booklet_id: str, raw: dict[str, Any], verifying: bool = False
                      ) -> MemberInfo:
        try:
            st = keys.KeyStatement.parse(b64d(raw["key_statement"]))
            st.verify()
            if st.account_id.hex() != raw["account_id"]:
                raise ProtocolError("account-mismatch")
            pin = self.profile.pins.get(raw["account_id"])
            if pin is None:  # trust on first use, until verified in person
                pin = StatePin(st.identity_key.hex())
                self.profile.pins[raw["account_id"]] = pin
            if not verifying:  # comparing safety numbers is how a changed key is settled
                st.check_pinned(st.account_id, bytes.fromhex(pin.identity_key))
                if pin.key_conflict:
                    raise ProtocolError("identity-key-changed",
                                        "your devices pinned different keys for this account")
        except ProtocolError as exc:
            raise _protocol(exc) from exc
        pin = _pinned_as_listed(pin, booklet_id, raw.get("name"), raw["role"])
        self.profile.pins[raw["account_id"]] = pin
        pinned_role = pin.roles[booklet_id]
        return MemberInfo(raw["account_id"], raw["role"], raw.get("name"),
                          safety.fingerprint(st.identity_key), st.identity_key,
                          st.encryption_key, bool(raw.get("removed")),
                          pin.verified and pin.identity_key == st.identity_key.hex(),
                          int(raw.get("joined_seq") or 0), pin.name, pinned_role)

    async def members(self, booklet_id: str, *, include_removed: bool = False,
                      verifying: bool = False) -> list[MemberInfo]:
        """The booklet's members, each checked against its pin: a key other than the pinned
        one, or a pin in key conflict, is refused (`identity-key-changed`), except when
        `verifying` (to show a safety number and verify the key the server lists now)."""
        params = {"all": "1"} if include_removed else None
        data = await self.api.call("GET", f"/api/booklets/{booklet_id}/members", params=params)
        return [self._check_member(booklet_id, m, verifying) for m in data["members"]]

    async def roster(self, booklet_id: str, members: list[MemberInfo] | None = None,
                     *, confirm: Iterable[str] = ()) -> roster_trust.RosterView:
        """Who the booklet's signed roster vouches for (docs/protocol.md §6.6); kept in
        `rosters`. The therapist's client signs and stores the next roster first when the
        members changed; `confirm` (hers only) adds members she confirms belong."""
        if members is None:
            members = await self.members(booklet_id)
        view = await self._roster_view(booklet_id, members)
        if self._is_therapist(booklet_id, members) and view.problem is None:
            view = await self._sign_roster(booklet_id, members, view, list(confirm))
        self.rosters[booklet_id] = view
        return view

    def _is_therapist(self, booklet_id: str, members: Sequence[MemberInfo]) -> bool:
        mine = roster_trust.therapist_of(members, self.profile.account_id)
        return (mine is not None and mine.account_id == self.profile.account_id
                and self.keys is not None)

    async def _roster_confirming(self, booklet_id: str, members: list[MemberInfo],
                                 allow_unverified: bool) -> list[MemberInfo]:
        """The roster check before sealing. Only the therapist is asked about a member outside
        her roster (one who joined without a link that carries trust): confirming signs them
        in. Everyone else refuses such a member until she has (§6.6). Returns the members
        confirmed here."""
        view = await self.roster(booklet_id, members)
        confirmed: list[MemberInfo] = []
        if (view.blocks and view.problem is None and self._is_therapist(booklet_id, members)
                and set(view.refused.values()) == {"not-in-roster"}):
            if not allow_unverified:
                raise _unverified([m for m in members if m.account_id in view.refused])
            confirmed = [m for m in members if m.account_id in view.refused]
            view = await self.roster(booklet_id, members, confirm=list(view.refused))
        if view.blocks and booklet_id in self._closed:  # the real reason nothing is sealed
            raise ClientError(409, "booklet-closed", "The booklet is closed: it can be read and "
                              "exported, but not changed")
        if view.blocks:
            raise _refused(view, members)
        return confirmed

    async def _roster_view(self, booklet_id: str, members: list[MemberInfo]
                           ) -> roster_trust.RosterView:
        answer = await self.api.call("GET", f"/api/booklets/{booklet_id}/roster")
        view = roster_trust.evaluate(
            booklet_id, members, answer, me=self.profile.account_id,
            highest_seen=self.profile.roster_versions.get(booklet_id, 0), now_ms=self.now_ms())
        if view.roster is not None:
            self.profile.roster_versions[booklet_id] = view.roster.version
        return view

    async def _sign_roster(self, booklet_id: str, members: list[MemberInfo],
                           view: roster_trust.RosterView, confirm: list[str]
                           ) -> roster_trust.RosterView:
        """The therapist's side of §6.6 "Writing": sign what the roster should be now."""
        verified = [a for a, p in self.profile.pins.items() if p.verified] + confirm
        for _ in range(3):
            want = roster_trust.next_members(
                view, members, me=self.profile.account_id, verified=verified,
                first_roster_extra=self.profile.sealed_to.get(booklet_id, []))
            if view.roster is not None and list(view.roster.members) == want:
                return view
            version = max(view.stored_version,
                          self.profile.roster_versions.get(booklet_id, 0)) + 1
            blob = roster_crypto.sign_roster(self._me(), booklet_id=bytes.fromhex(booklet_id),
                                             version=version, created_at=self.now_ms(),
                                             members=want)
            try:
                await self.api.call("PUT", f"/api/booklets/{booklet_id}/roster",
                                    {"base_version": version - 1, "roster": b64e(blob)})
            except ClientError as exc:
                if exc.code == "booklet-closed":  # read-only now: the stored roster stands
                    self._closed.add(booklet_id)
                    return view
                if exc.code != "roster-version-conflict":
                    raise
            view = await self._roster_view(booklet_id, members)
        return view

    def safety_number(self, member: MemberInfo) -> str:
        me = self._me()
        return safety.safety_number(
            (me.account_id, me.identity_public),
            (bytes.fromhex(member.account_id), member.identity_key),
        )

    def verify(self, member: MemberInfo, number: str) -> bool:
        ok = safety.normalize_number(number) == self.safety_number(member)
        if ok:
            self._pin_verified(member.account_id, member.identity_key)
        return ok

    def _pin_verified(self, account_id: str, identity_key: bytes) -> None:
        """Verified in person: the key is trusted from now on. The name and roles first seen
        stay pinned, or a server could relabel someone right after they were verified."""
        pin = self.profile.pins.get(account_id, StatePin(identity_key.hex()))
        self.profile.pins[account_id] = replace(
            pin, identity_key=identity_key.hex(), verified=True, key_conflict=False)

    # -- booklets ----------------------------------------------------------------------------

    async def create_booklet(self, title: str) -> str:
        booklet_id = (await self.api.call("POST", "/api/booklets"))["id"]
        await self.post(booklet_id, "title", title=title)  # signs roster 1 on the way
        return str(booklet_id)

    async def booklets(self) -> list[dict[str, Any]]:
        """My booklets with decrypted titles (the list carries the newest title I can read)."""
        rows = (await self.api.call("GET", "/api/booklets"))["booklets"]
        out = []
        for row in rows:
            title = None
            if row["title_envelope"]:
                opener = _Opener(self, row["id"],
                                 await self.members(row["id"], include_removed=True))
                opened = await opener.open(b64d(row["title_envelope"]))
                title = decode_payload(opened.header.kind, opened.plaintext).get("title")
            out.append({**{k: v for k, v in row.items() if k != "title_envelope"},
                        "title": title})
        return out

    async def invite(self, booklet_id: str, role: str, name: str | None = None,
                     phone: str | None = None, email: str | None = None,
                     send: Sequence[str] = (), language: str | None = None,
                     via: str | None = "link", *,
                     until: str | None = None, scope: str | None = None) -> dict[str, Any]:
        """Invite into a booklet; `send` ("sms", "email") also sends the link to the invitee,
        without the fragment that carries trust (`via`: "qr" when the link will be shown as a
        QR code at a meeting, "link" otherwise, None for a plain link; docs/protocol.md
        §6.7). A caregiver's invitation says `until` (a date or "period-end") and `scope`
        ("new", "history")."""
        body: dict[str, Any] = {k: v for k, v in {
            "role": role, "name": name, "phone": phone, "email": email, "language": language,
            "until": until, "scope": scope,
        }.items() if v}
        if send:
            body["send"] = list(send)
        result: dict[str, Any] = await self.api.call(
            "POST", f"/api/booklets/{booklet_id}/invitations", body)
        # The link carries trust (§6.7), except a caregiver's: the guardians' consent (§5.1)
        # decides what they may read, so no history may be sealed to their link.
        if self.keys is not None and via is not None and role != "caregiver":
            result["link"] += "#" + await self._invitation_trust(
                booklet_id, int(result["id"]), role, via)
        return result

    async def _invitation_trust(self, booklet_id: str, invitation_id: int, role: str,
                                via: str) -> str:
        """Sign the invitation record, seal the history to the invitation key, store both
        with the invitation; the link's fragment to hand on (never to the server)."""
        me = self._me()
        secret = os.urandom(roster_crypto.SECRET_LEN)  # never a test's fixed salt
        inv_keys = roster_crypto.invitation_keys(secret)
        booklet = bytes.fromhex(booklet_id)
        record = roster_crypto.sign_invitation(me, booklet_id=booklet, invitation=inv_keys,
                                               role=role, created_at=self.now_ms())
        items = [(o.header.entry_id, o.entry_hash, o.content_key)
                 for _, o in await self.read_raw(booklet_id)]
        blob = grant.seal_grant(
            me, booklet_id=booklet, grantee_id=inv_keys.account_id,
            grantee_ek=inv_keys.encryption_public, created_at=self.now_ms(), keys=items,
        ) if items else None
        await self.api.call(
            "PUT", f"/api/booklets/{booklet_id}/invitations/{invitation_id}/trust",
            {"invitation": b64e(record), "grant": b64e(blob) if blob else None})
        fp = safety.fingerprint(me.identity_public).replace(" ", "")
        return roster_crypto.Fragment(secret, fp, via).encode()

    async def remove(self, booklet_id: str, account_id: str) -> None:
        await self.api.call("DELETE", f"/api/booklets/{booklet_id}/members/{account_id}")

    # -- caregivers and the guardians' consent (docs/protocol.md §5.1) ------------------------

    async def caregivers(self, booklet_id: str) -> list[dict[str, Any]]:
        """Caregivers who joined, newest terms first, with the guardians' signed records."""
        data = await self.api.call("GET", f"/api/booklets/{booklet_id}/caregivers")
        return list(data["caregivers"])

    async def consent(self, booklet_id: str, caregiver_id: str, action: str
                      ) -> dict[str, Any]:
        """Sign and send my approval ("approve") or withdrawal ("withdraw") of a caregiver,
        for the key the server lists (pinned on first sight, like a member's) and the terms
        of their invitation."""
        row = next((c for c in await self.caregivers(booklet_id)
                    if c["account_id"] == caregiver_id), None)
        if row is None:
            raise ClientError(404, "not-found", "No such caregiver in this booklet")
        caregiver = self._check_member(booklet_id, {**row, "role": "caregiver"})
        blob = consent.seal_consent(
            self._me(), action=consent.APPROVE if action == "approve" else consent.WITHDRAW,
            booklet_id=bytes.fromhex(booklet_id), caregiver_id=bytes.fromhex(caregiver_id),
            caregiver_identity_key=caregiver.identity_key,
            until=consent_check.iso_to_ms(row["until"]),
            scope=consent.SCOPE_NEW if row["scope"] == "new" else consent.SCOPE_HISTORY,
            created_at=self.now_ms())
        result: dict[str, Any] = await self.api.call(
            "POST", f"/api/booklets/{booklet_id}/caregivers/{caregiver_id}/consents",
            {"record": b64e(blob)})
        return result

    async def _require_consent(self, booklet_id: str, members: Sequence[MemberInfo],
                               only: str | None = None) -> dict[str, consent_check.Consented]:
        """Every caregiver among `members` (or just `only`) must have the consent of every
        guardian listed or pinned here (client/consent.py); refused before anything is sealed."""
        caregivers = [m for m in members if "caregiver" in (m.role, m.pinned_role)
                      and m.account_id != self.profile.account_id
                      and (only is None or m.account_id == only)]
        if not caregivers:
            return {}
        guardians = {bytes.fromhex(m.account_id): m.identity_key for m in members
                     if "guardian" in (m.role, m.pinned_role) and m not in caregivers}
        rows = {c["account_id"]: c for c in reversed(await self.caregivers(booklet_id))}
        return {m.account_id: consent_check.check_caregiver(
            booklet_id=bytes.fromhex(booklet_id), caregiver_id=bytes.fromhex(m.account_id),
            caregiver_ik=m.identity_key, guardians=guardians, listing=rows.get(m.account_id),
            now_ms=self.now_ms()) for m in caregivers}

    # -- entries -----------------------------------------------------------------------------

    async def post(self, booklet_id: str, kind: str, *, allow_unverified: bool = True,
                   blob_ids: Sequence[str] = (), fulfils_request: str | None = None,
                   **fields: Any) -> dict[str, Any]:
        """Seal to the current members and post; re-seal when someone else posted first.
        `blob_ids`: uploads (client/blobs.py) this entry lists, which the server attaches.
        `fulfils_request`: the document request this document entry fulfils (therapist).
        `new_recipients` in the result names the unverified members sealed to here for the
        first time, over every attempt (a server could add someone for one attempt only);
        with `allow_unverified=False` there are none: the post is refused before sealing."""
        me = self._me()
        plaintext = encode_payload(kind, **fields)
        sent_to: dict[str, MemberInfo] = {}
        confirmed: dict[str, MemberInfo] = {}  # signed into the roster by me, just now
        for _ in range(MAX_POST_RETRIES):
            head = await self.api.call("GET", f"/api/booklets/{booklet_id}/head")
            members = await self.members(booklet_id)
            # Both apply before sealing: a caregiver needs every guardian's consent (§5.1),
            # checked first because the roster cannot stand in for it; then the roster (§6.6).
            await self._require_consent(booklet_id, members)
            confirmed.update((m.account_id, m) for m in await self._roster_confirming(
                booklet_id, members, allow_unverified))
            new = self.new_recipients(booklet_id, members)
            if new and not allow_unverified:
                raise _unverified(new)
            sent_to.update((m.account_id, m) for m in members)
            sealed = envelope.seal_entry(
                me, booklet_id=bytes.fromhex(booklet_id), entry_id=os.urandom(16),
                kind=KIND_IDS[kind], sequence=head["last_seq"] + 1,
                prev_hash=b64d(head["last_hash"]), created_at=self.now_ms(), plaintext=plaintext,
                recipients=[(bytes.fromhex(m.account_id), m.encryption_key) for m in members],
            )
            try:
                result: dict[str, Any] = await self.api.call(
                    "POST", f"/api/booklets/{booklet_id}/entries",
                    {"envelope": b64e(sealed),
                     **({"blob_ids": list(blob_ids)} if blob_ids else {}),
                     **({"fulfils_request": fulfils_request} if fulfils_request else {})})
            except ClientError as exc:
                if exc.code not in ("sequence-conflict", "membership-changed"):
                    raise
                continue
            noted = self._note_recipients(booklet_id, sent_to.values())
            result["new_recipients"] = noted + [
                m.to_json() for m in confirmed.values()
                if m.account_id not in {n["id"] for n in noted}]
            return result
        raise ClientError(409, "sequence-conflict", "The booklet kept moving; try again")

    def new_recipients(self, booklet_id: str, members: Sequence[MemberInfo]
                       ) -> list[MemberInfo]:
        """Members my entries in this booklet were never sealed to and whom I have not verified
        in person: a server can add an account to a booklet, only people can tell it belongs."""
        before = set(self.profile.sealed_to.get(booklet_id, []))
        view = self.rosters.get(booklet_id)
        vouched = view.vouched if view is not None else frozenset()
        return [m for m in members if m.account_id not in before and not m.verified
                and m.account_id != self.profile.account_id and m.account_id not in vouched]

    def _note_recipients(self, booklet_id: str, members: Iterable[MemberInfo]
                         ) -> list[dict[str, Any]]:
        members = list(members)
        new = self.new_recipients(booklet_id, members)
        known = set(self.profile.sealed_to.get(booklet_id, []))
        self.profile.sealed_to[booklet_id] = sorted(known | {m.account_id for m in members})
        return [m.to_json() for m in new]

    async def _granted_keys(self, booklet_id: str, authors: dict[str, MemberInfo]
                            ) -> dict[bytes, tuple[bytes, bytes]]:
        me = self._me()
        out: dict[bytes, tuple[bytes, bytes]] = {}
        data = await self.api.call("GET", f"/api/booklets/{booklet_id}/grants")
        for g in data["grants"]:
            granter = authors.get(g["granter_id"])
            if granter is None:
                continue
            try:
                out.update(grant.open_grant(b64d(g["grant"]),
                                            granter_identity_key=granter.identity_key, me=me))
            except ProtocolError as exc:
                raise _protocol(exc) from exc
        return out

    async def read_raw(self, booklet_id: str, since: int = 0
                       ) -> list[tuple[dict[str, Any], envelope.OpenedEntry]]:
        """Every entry after `since` that I can open, with its content key (for grants); the
        ones that fail their checks are left out here (`read` shows them in place)."""
        return [(raw, o) for raw, o in await self._read_checked(booklet_id, since)
                if isinstance(o, envelope.OpenedEntry)]

    async def _read_checked(self, booklet_id: str, since: int
                            ) -> list[tuple[dict[str, Any], envelope.OpenedEntry | ClientError]]:
        """Every entry after `since`, opened, or the protocol check it failed: one bad entry
        must not hide the rest of a booklet, each of which is signed on its own. The listing is
        checked as one hash chain first (see `history_problems`); the checkpoint moves only
        once every entry has also opened."""
        members = await self.members(booklet_id, include_removed=True)
        raws, last_seq = await self._listing(booklet_id, since)
        me = next((m for m in members if m.account_id == self.profile.account_id), None)
        checkpoint = self._check_history(booklet_id, since, last_seq,
                                         me.joined_seq if me else 0, raws)
        opener = _Opener(self, booklet_id, members)
        out: list[tuple[dict[str, Any], envelope.OpenedEntry | ClientError]] = []
        for raw in raws:
            try:
                opened = await opener.open(b64d(raw["envelope"]))
                _check_listing(raw, opened.header)
            except ClientError as exc:
                if not exc.code.startswith("protocol/"):
                    raise  # the server or the network failed, not this entry
                out.append((raw, exc))
                continue
            out.append((raw, opened))
        if checkpoint is not None and all(isinstance(o, envelope.OpenedEntry) for _, o in out):
            saved = self.profile.checkpoints.get(booklet_id)
            self.profile.checkpoints[booklet_id] = replace(
                checkpoint, accepted=saved.accepted if saved else 0)
        return out

    async def _listing(self, booklet_id: str, since: int) -> tuple[list[dict[str, Any]], int]:
        """Every listed entry after `since`, page by page, and the booklet's last sequence."""
        raws: list[dict[str, Any]] = []
        last_seq = 0
        while True:
            page = await self.api.call("GET", f"/api/booklets/{booklet_id}/entries",
                                       params={"since": str(since), "limit": "200"})
            if not _page_ok(page):
                # a row the client cannot even place is the server's fault, not one entry's
                raise _protocol(ProtocolError("malformed", "the listing is malformed"))
            seqs = [int(raw["seq"]) for raw in page["entries"]]
            if (seqs and seqs[0] <= since) or any(b < a for a, b in itertools.pairwise(seqs)):
                # a listing that does not move forward would page forever (a sequence listed
                # twice is left to the history check: it is a fork, not a paging error)
                raise _protocol(ProtocolError("malformed", "the listing is not in order"))
            raws += page["entries"]
            last_seq = max(last_seq, int(page["last_seq"]))
            if not seqs or seqs[-1] >= page["last_seq"]:
                return raws, last_seq
            since = seqs[-1]

    def _check_history(self, booklet_id: str, since: int, last_seq: int, joined_seq: int,
                       raws: list[dict[str, Any]]) -> StateCheckpoint | None:
        """Records the problems; returns the checkpoint to store if every entry opens."""
        problems, after = history.check(
            since=since, last_seq=last_seq, joined_seq=joined_seq,
            checkpoint=self.profile.checkpoints.get(booklet_id),
            items=[_listed(raw) for raw in raws])
        self.history_problems[booklet_id] = problems
        return after

    async def read(self, booklet_id: str, since: int = 0,
                   kinds: set[str] | None = None) -> list[DecryptedEntry]:
        """The booklet's entries after `since` (of `kinds`, default all), oldest first. An entry
        that fails a check is in its place with `error` set, whatever `kinds` asks for."""
        out = []
        checked = await self._read_checked(booklet_id, since)
        # The roster's findings for the warnings; the therapist's client signs the next one
        # here too when the members changed (docs/protocol.md §6.6 "Writing").
        await self.roster(booklet_id)
        for raw, opened in checked:
            if isinstance(opened, ClientError):
                out.append(_unreadable(raw, opened.code))
                continue
            kind = KINDS[opened.header.kind]
            if kinds and kind not in kinds:
                continue
            try:
                payload = decode_payload(opened.header.kind, opened.plaintext)
            except ProtocolError as exc:
                out.append(_unreadable(raw, _protocol(exc).code))
                continue
            out.append(DecryptedEntry(raw["seq"], raw["entry_id"], raw["author_id"], kind,
                                      raw["created_at"], payload))
        return out

    async def accept_history(self, booklet_id: str) -> list[history.Problem]:
        """Forget what this client saw of the booklet and read it again from the start, so that
        the server's current history becomes the reference: for after a restore from backup,
        which looks like a rewrite (docs/operations.md). The problems left are those of the
        history as it is now (withheld entries, broken links), which accepting cannot excuse."""
        old = self.profile.checkpoints.pop(booklet_id, None)
        try:
            read = await self._read_checked(booklet_id, 0)
        finally:
            # The old reference stays unless a clean read replaces it below: the profile is
            # saved even when a command fails.
            new = self.profile.checkpoints.pop(booklet_id, None)
            if old is not None:
                self.profile.checkpoints[booklet_id] = old
        failed = [o for _, o in read if isinstance(o, ClientError)]
        if failed:  # an entry that fails its own checks must not become part of the reference
            raise failed[0]
        if new is not None:  # None: the history as it is now has problems of its own
            # one above the replaced checkpoint's count, so that merging with another device
            # or an older stored state keeps this one, not the pre-restore one (protocol §6.5)
            self.profile.checkpoints[booklet_id] = replace(
                new, accepted=(old.accepted if old else 0) + 1)
        return self.history_problems[booklet_id]

    async def mark_read(self, booklet_id: str, seq: int) -> None:
        await self.api.call("POST", f"/api/booklets/{booklet_id}/receipts", {"read_seq": seq})

    async def grant_history(self, booklet_id: str, member_id: str,
                            kinds: set[str] | None = None, *,
                            allow_unverified: bool = True) -> int:
        """Re-wrap the entries I can read (of `kinds`, default all) to a member who joined
        later. A newcomer cannot even read the booklet's title until someone does this. With
        `allow_unverified=False` a member not verified in person is refused before sealing."""
        members = await self.members(booklet_id)
        member = next((m for m in members if m.account_id == member_id), None)
        if member is None:
            raise ClientError(404, "not-found", "No such member")
        # The guardians' consent first, as in post(): the roster cannot stand in for it.
        consented = await self._require_consent(booklet_id, members, only=member_id)
        await self._roster_confirming(booklet_id, members, allow_unverified)
        view = self.rosters[booklet_id]
        if not (member.verified or allow_unverified or member_id == self.profile.account_id
                or member_id in view.vouched):
            raise _unverified([member])
        if (member_id in consented and consented[member_id].scope != consent.SCOPE_HISTORY
                and kinds != {"title"}):
            # The booklet's title is the one earlier entry a caregiver reading new entries
            # only is given: without it they could not tell which child's booklet it is.
            raise ClientError(0, "consent-scope", "The guardians consented to new entries only")
        items = [(o.header.entry_id, o.entry_hash, o.content_key)
                 for _, o in await self.read_raw(booklet_id)
                 if kinds is None or KINDS[o.header.kind] in kinds]
        if not items:
            return 0
        blob = grant.seal_grant(
            self._me(), booklet_id=bytes.fromhex(booklet_id),
            grantee_id=bytes.fromhex(member_id), grantee_ek=member.encryption_key,
            created_at=self.now_ms(), keys=items,
        )
        result = await self.api.call("POST", f"/api/booklets/{booklet_id}/grants",
                                     {"grant": b64e(blob)})
        self._note_recipients(booklet_id, [member])  # they hold my keys now, as a recipient does
        return int(result["entries"])


class _Opener:
    """Opens a booklet's entries: with my own wrap, else with a key from a history grant
    (fetched once, when first needed), always under the author's pinned identity key."""

    def __init__(self, client: Client, booklet_id: str, members: list[MemberInfo]) -> None:
        self._client = client
        self._booklet_id = booklet_id
        self._booklet = bytes.fromhex(booklet_id)
        self._authors = {m.account_id: m for m in members}
        self._granted: dict[bytes, tuple[bytes, bytes]] | None = None

    async def open(self, sealed: bytes) -> envelope.OpenedEntry:
        try:
            header = envelope.parse_envelope(sealed).header
            author = self._authors.get(header.author_id.hex())
            if author is None:
                raise ProtocolError("wrong-author", "not a member of this booklet")
            if header.kind in THERAPIST_KINDS and author.pinned_role != "therapist":
                # a parent's signed "title" or "notice" must not pass for the booklet's own; the
                # role first seen counts, so a server cannot promote a parent later
                raise ProtocolError("wrong-author", "only the therapist writes this kind")
            place = {"author_identity_key": author.identity_key,
                     "author_id": header.author_id, "booklet_id": self._booklet}
            try:
                return envelope.open_entry(sealed, me=self._client._me(), **place)
            except ProtocolError as exc:
                if exc.code != "not-a-recipient":
                    raise
            if self._granted is None:
                self._granted = await self._client._granted_keys(self._booklet_id,
                                                                 self._authors)
            item = self._granted.get(header.entry_id)
            if item is None:
                raise ProtocolError("not-a-recipient")
            return envelope.open_entry_with_key(
                sealed, entry_id=header.entry_id, content_key=item[1], expected_hash=item[0],
                **place)
        except ProtocolError as exc:
            raise _protocol(exc) from exc
