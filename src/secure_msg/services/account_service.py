"""Enrollment, login, sessions, password change and recovery (DESIGN §4 "Accounts").

The server never sees a password: it gets the HKDF-derived auth key and stores only its Argon2id
hash; the key bundle it stores is sealed under a key only the password (or recovery key) opens.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from secure_msg import base64url
from secure_msg.crypto import keys as protocol_keys
from secure_msg.crypto import verifier
from secure_msg.crypto.errors import ProtocolError
from secure_msg.errors import (
    AlreadyMember,
    DataIntegrityError,
    Forbidden,
    InvalidCredentials,
    InvitationUsed,
    LoginTaken,
    Overloaded,
    ProtocolRejected,
    Unauthorized,
    ValidationFailed,
)
from secure_msg.model.accounts import (
    Account,
    NewAccount,
    Session,
    hash_token,
    normalise_login,
)
from secure_msg.model.roles import Role
from secure_msg.services import caregiver_membership, invitation_service
from secure_msg.services.argon2_gate import Argon2Gate
from secure_msg.services.core import Core
from secure_msg.services.live import PASSWORD_CHANGED, RECOVERED, Hub
from secure_msg.services.login_limits import LoginLimits, Purpose
from secure_msg.storage import accounts as store
from secure_msg.storage import audit as audit_store
from secure_msg.storage import booklets as booklet_store
from secure_msg.storage import enrollment as enrollment_store
from secure_msg.storage import invitations as invitation_store
from secure_msg.storage.txn import Txn

HOUR_MS = 3_600_000
SESSION_TOKEN_BYTES = 32
PRELOGIN_SALT = "prelogin.salt"


@dataclass(frozen=True)
class AccountDeps(Core):
    argon: verifier.Argon2Params
    session_hours: int
    limits: LoginLimits
    gate: Argon2Gate  # every Argon2id computation goes through it
    hub: Hub  # to close the live sockets of sessions that end


@dataclass(frozen=True)
class PasswordMaterial:
    """What a client sends when it sets a password: never the password itself."""

    kdf_salt: bytes
    kdf_iterations: int
    auth_key: bytes
    password_bundle: bytes


@dataclass(frozen=True)
class EnrollRequest:
    login: str
    key_statement: bytes
    password: PasswordMaterial
    recovery_auth_key: bytes
    recovery_bundle: bytes
    language: str = "fi"


@dataclass(frozen=True)
class EnrollmentInfo:
    role: Role
    account_id: bytes
    name: str | None
    booklet_id: bytes | None
    expires_at_ms: int


@dataclass(frozen=True)
class LoginResult:
    token: str
    session: Session
    account: Account
    password_bundle: bytes


@dataclass(frozen=True)
class RecoveryBundle:
    """What proving the recovery key yields: the bundle sealed under it, and the key statement
    the client compares the opened keys with before it changes anything (protocol §3.5)."""

    sealed: bytes
    key_statement: bytes


def _check_secret_len(value: bytes, field: str) -> None:
    if len(value) != 32:
        raise ValidationFailed(f"{field} must be 32 bytes", errors=[{"field": field}])


def _check_password_material(m: PasswordMaterial, account_id: bytes) -> None:
    try:
        protocol_keys.check_kdf_params(m.kdf_iterations, m.kdf_salt)
        _check_sealed_bundle(m.password_bundle, account_id, protocol_keys.PURPOSE_PASSWORD)
    except ProtocolError as exc:
        raise ProtocolRejected(exc.code) from exc
    _check_secret_len(m.auth_key, "auth_key")


def _check_sealed_bundle(blob: bytes, account_id: bytes, purpose: int) -> None:
    """The server cannot open a bundle, but it can refuse one that is not even well-formed."""
    if len(blob) != 137 or blob[:4] != b"\x01\x00\x01\x03":
        raise ProtocolError("malformed", "sealed bundle")
    if blob[4:20] != account_id:
        raise ProtocolError("account-mismatch")
    if blob[20] != purpose:
        raise ProtocolError("wrong-purpose")


async def _hash(deps: AccountDeps, secret: bytes) -> bytes:
    return await deps.gate.hash(secret, deps.argon)


def new_session_txn(
    conn: Txn, deps: AccountDeps, account_id: bytes, now_ms: int
) -> str:
    token = base64url.encode(deps.rng(SESSION_TOKEN_BYTES))
    store.insert_session_txn(
        conn, hash_token(token), account_id, now_ms, now_ms + deps.session_hours * HOUR_MS
    )
    return token


async def enrollment_info(deps: AccountDeps, token: str) -> EnrollmentInfo:
    def txn(conn: Txn) -> EnrollmentInfo:
        inv = invitation_service.find_usable_txn(conn, deps.vault, token, deps.clock.now_ms())
        target = enrollment_store.target_txn(conn, inv.id)
        if target.account_id is None:  # every issuing path reserves one
            raise DataIntegrityError("invitation without a reserved account id")
        return EnrollmentInfo(
            inv.role, target.account_id, inv.name, target.booklet_id, inv.expires_at_ms
        )

    return await deps.db.read(txn)


def _joined_detail(
    conn: Txn, role: str, invitation_id: int, *, with_invitation: bool
) -> dict[str, str | int]:
    """member.joined's detail; invited_by answers "added by whom" in the access log."""
    detail: dict[str, str | int] = {"role": role}
    if with_invitation:
        detail["invitation"] = invitation_id
    invited_by = enrollment_store.target_txn(conn, invitation_id).invited_by
    if invited_by is not None:
        detail["invited_by"] = invited_by.hex()
    return detail


async def enroll(deps: AccountDeps, token: str, req: EnrollRequest) -> LoginResult:
    info = await enrollment_info(deps, token)
    login = normalise_login(req.login)
    try:
        statement = protocol_keys.KeyStatement.parse(req.key_statement)
        statement.verify()
        if statement.account_id != info.account_id:
            raise ProtocolError("account-mismatch")
        _check_sealed_bundle(req.recovery_bundle, info.account_id, protocol_keys.PURPOSE_RECOVERY)
    except ProtocolError as exc:
        raise ProtocolRejected(exc.code) from exc
    _check_password_material(req.password, info.account_id)
    _check_secret_len(req.recovery_auth_key, "recovery_auth_key")
    if req.language not in ("fi", "sv", "en"):
        raise ValidationFailed("language must be fi, sv or en", errors=[{"field": "language"}])
    auth_verifier = await _hash(deps, req.password.auth_key)
    recovery_verifier = await _hash(deps, req.recovery_auth_key)

    def txn(conn: Txn) -> LoginResult:
        now = deps.clock.now_ms()
        inv = invitation_service.find_usable_txn(conn, deps.vault, token, now)
        if store.login_taken_txn(conn, deps.vault, login):
            raise LoginTaken()
        if not invitation_store.mark_used_txn(conn, inv.id, now):
            raise InvitationUsed()
        new = NewAccount(
            info.account_id, inv.role, login, inv.name, inv.phone, inv.email, req.language,
            req.password.kdf_salt, req.password.kdf_iterations, auth_verifier, recovery_verifier,
            req.password.password_bundle, req.recovery_bundle, req.key_statement,
            statement.identity_key, statement.encryption_key,
        )
        store.insert_account_txn(conn, deps.vault, new, now)
        actor = f"account:{info.account_id.hex()}"
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=actor, action="account.enrolled", target=actor,
            detail={"role": inv.role.value, "invitation": inv.id},
        )
        if info.booklet_id is not None and not caregiver_membership.join_txn(
            conn, invitation_id=inv.id, booklet_id=info.booklet_id,
            account_id=info.account_id, role=inv.role, now_ms=now,
        ):
            booklet_store.add_member_txn(
                conn, info.booklet_id, info.account_id, inv.role, now
            )
            audit_store.append_audit_txn(
                conn, at_ms=now, actor=actor, action="member.joined",
                target=f"booklet:{info.booklet_id.hex()}",
                detail=_joined_detail(conn, inv.role.value, inv.id, with_invitation=False),
            )
        session_token = new_session_txn(conn, deps, info.account_id, now)
        account = store.get_account_txn(conn, deps.vault, info.account_id)
        assert account is not None
        session = Session(account.id, account.role, now + deps.session_hours * HOUR_MS)
        return LoginResult(session_token, session, account, req.password.password_bundle)

    return await deps.db.write(txn)


async def prelogin(deps: AccountDeps, raw_login: str) -> tuple[bytes, int]:
    """(salt, iterations). An unknown login gets a stable fake salt: same shape, no enumeration."""
    try:
        login = normalise_login(raw_login)
    except ValidationFailed:
        login = raw_login.strip().lower()
    account = await deps.db.read(
        functools.partial(store.find_by_login_txn, vault=deps.vault, login=login)
    )
    if account is not None:
        return account.kdf_salt, account.kdf_iterations
    fake = deps.vault.blind_index(PRELOGIN_SALT, login)[:16]
    return fake, protocol_keys.PBKDF2_ITERATIONS


def _limited_login(raw_login: str) -> str:
    """The name limits count: as typed, so an unknown name is counted like a known one."""
    return raw_login.strip().lower()


async def _verify_login(
    deps: AccountDeps, raw_login: str, secret: bytes, *, recovery: bool, client: str
) -> Account:
    """The shared part of login and recovery: rate limits reserved before the Argon2id work
    (services/login_limits.py), constant-shape failure, audit."""
    _check_secret_len(secret, "auth_key")
    login = _limited_login(raw_login)
    purpose = Purpose.RECOVERY if recovery else Purpose.LOGIN
    attempt = await deps.limits.begin(purpose, login, client)
    try:
        account, ok = await _check_credentials(deps, login, secret, recovery=recovery)
    except Overloaded:
        await attempt.abandoned()
        raise
    if account is None or not ok:
        await deps.db.write(functools.partial(
            audit_store.append_audit_txn, at_ms=deps.clock.now_ms(),
            actor=f"account:{account.id.hex()}" if account else "anonymous",
            action="recovery.failed" if recovery else "login.failed",
        ))
        raise InvalidCredentials()
    await attempt.succeeded()
    return account


async def _check_credentials(
    deps: AccountDeps, login: str, secret: bytes, *, recovery: bool
) -> tuple[Account | None, bool]:
    """(the account, whether `secret` opens it); (None, False) for an unknown login."""

    def read(conn: Txn) -> tuple[Account | None, bytes | None, bool]:
        account = store.find_by_login_txn(conn, deps.vault, login)
        creds = store.credentials_txn(conn, account.id) if account else None
        if creds is None:
            return None, None, False
        return account, creds.recovery_verifier if recovery else creds.auth_verifier, creds.disabled

    account, stored, disabled = await deps.db.read(read)
    # An unknown login costs the same Argon2id work, so timing does not reveal which part failed.
    ok = await deps.gate.verify(stored or await _DUMMY_VERIFIER.get(deps), secret)
    return account, ok and not disabled


class _Dummy:
    """One Argon2id string made at first use, checked against for unknown logins."""

    def __init__(self) -> None:
        self._value: bytes | None = None

    async def get(self, deps: AccountDeps) -> bytes:
        if self._value is None:
            self._value = await deps.gate.hash(b"\x00" * 32, deps.argon)
        return self._value


_DUMMY_VERIFIER = _Dummy()


async def login(deps: AccountDeps, raw_login: str, auth_key: bytes, *, client: str) -> LoginResult:
    """`client` is the address per-client limits count (web/client_address.py)."""
    account = await _verify_login(deps, raw_login, auth_key, recovery=False, client=client)

    def txn(conn: Txn) -> LoginResult:
        now = deps.clock.now_ms()
        token = new_session_txn(conn, deps, account.id, now)
        actor = f"account:{account.id.hex()}"
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=actor, action="login.succeeded", target=actor
        )
        creds = store.credentials_txn(conn, account.id)
        assert creds is not None
        session = Session(account.id, account.role, now + deps.session_hours * HOUR_MS)
        return LoginResult(token, session, account, creds.password_bundle)

    return await deps.db.write(txn)


# Authenticates the bearer token inside the caller's read transaction, raising Unauthorized
# (a SessionCheck): the check and the request's reads share one round trip.
Authenticate = Callable[[Txn], Session]


@dataclass(frozen=True)
class SessionCheck:
    """The bearer-token check as a read function, so a handler can run it as the first step of
    its own read transaction (one database round trip instead of two; DESIGN §6)."""

    token_hash: bytes
    now_ms: int

    def __call__(self, conn: Txn) -> Session:
        session = store.session_txn(conn, self.token_hash, self.now_ms)
        if session is None:
            raise Unauthorized("Your session has ended. Log in again.")
        return session


def session_check(deps: AccountDeps, token: str | None) -> SessionCheck:
    if not token:
        raise Unauthorized("Log in first.")
    return SessionCheck(hash_token(token), deps.clock.now_ms())


async def authenticate(deps: AccountDeps, token: str | None) -> Session:
    return await deps.db.read(session_check(deps, token))


async def logout(deps: AccountDeps, session: Session, token: str) -> None:
    def txn(conn: Txn) -> None:
        now = deps.clock.now_ms()
        store.revoke_session_txn(conn, hash_token(token), now)
        actor = f"account:{session.account_id.hex()}"
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=actor, action="session.ended", target=actor
        )

    await deps.db.write(txn)
    deps.hub.end_session(session.account_id, hash_token(token))


async def get_account(deps: AccountDeps, account_id: bytes) -> Account:
    account = await deps.db.read(
        functools.partial(store.get_account_txn, vault=deps.vault, account_id=account_id)
    )
    if account is None:
        raise Unauthorized()
    return account


async def change_password(
    deps: AccountDeps, session: Session, token: str, current_auth_key: bytes,
    new: PasswordMaterial, *, client: str,
) -> None:
    """Re-wrap: the client sealed its bundle under the new password; other sessions end."""
    account = await get_account(deps, session.account_id)
    await _verify_login(deps, account.login, current_auth_key, recovery=False, client=client)
    await _set_password(deps, account, new, keep_token=token, action="password.changed")


async def verify_current_password(
    deps: AccountDeps, account: Account, auth_key: bytes, *, client: str
) -> None:
    """The proof a sensitive account change asks for (password change, deletion): the auth
    key derived from the current password, with login's rate limits and audit."""
    await _verify_login(deps, account.login, auth_key, recovery=False, client=client)


async def _set_password(
    deps: AccountDeps, account: Account, new: PasswordMaterial, *, keep_token: str | None,
    action: str,
) -> str | None:
    _check_password_material(new, account.id)
    auth_verifier = await _hash(deps, new.auth_key)

    keep = hash_token(keep_token) if keep_token else None

    def txn(conn: Txn) -> str | None:
        now = deps.clock.now_ms()
        store.set_password_txn(
            conn, account.id, kdf_salt=new.kdf_salt, kdf_iterations=new.kdf_iterations,
            auth_verifier=auth_verifier, password_bundle=new.password_bundle,
        )
        store.revoke_all_sessions_txn(conn, account.id, now, keep=keep)
        actor = f"account:{account.id.hex()}"
        audit_store.append_audit_txn(conn, at_ms=now, actor=actor, action=action, target=actor)
        return None if keep_token else new_session_txn(conn, deps, account.id, now)

    token = await deps.db.write(txn)
    # Ending all but `keep` spares only it. Recovery's new session has no socket here yet, but
    # may have one on another process by the time the relayed fan-out arrives: spare it too.
    if token is not None:
        keep = hash_token(token)
    deps.hub.end_account(account.id, keep=keep,
                         reason=RECOVERED if action == "account.recovered" else PASSWORD_CHANGED)
    return token


async def recovery_bundle(
    deps: AccountDeps, raw_login: str, recovery_auth_key: bytes, *, client: str
) -> RecoveryBundle:
    """Step 1 of recovery: prove the recovery key, get the bundle sealed under it."""
    account = await _verify_login(deps, raw_login, recovery_auth_key, recovery=True,
                                  client=client)
    creds = await deps.db.read(functools.partial(store.credentials_txn, account_id=account.id))
    assert creds is not None
    return RecoveryBundle(creds.recovery_bundle, account.key_statement)


async def recover(
    deps: AccountDeps, raw_login: str, recovery_auth_key: bytes, new: PasswordMaterial,
    *, client: str,
) -> LoginResult:
    """Step 2: set a new password with the recovery key; every old session ends, and so do the
    name's password failures (the way in for an owner whose name strangers locked)."""
    account = await _verify_login(deps, raw_login, recovery_auth_key, recovery=True,
                                  client=client)
    # Before the new password, not after: it is the recovery key that was proven, and the
    # answer then goes out as soon as the old sessions have ended.
    await deps.limits.recovered(_limited_login(raw_login), client)
    token = await _set_password(deps, account, new, keep_token=None, action="account.recovered")
    assert token is not None
    session = Session(account.id, account.role, deps.clock.now_ms() + deps.session_hours * HOUR_MS)
    return LoginResult(token, session, account, new.password_bundle)


async def accept_invitation(deps: AccountDeps, session: Session, token: str) -> bytes:
    """An existing family account joins another booklet (a parent with two children in
    therapy) with a booklet invitation, instead of enrolling a second account."""
    if session.role not in (Role.GUARDIAN, Role.CAREGIVER):
        raise Forbidden("Staff accounts join booklets by opening them.")

    def txn(conn: Txn) -> bytes:
        now = deps.clock.now_ms()
        inv = invitation_service.find_usable_txn(conn, deps.vault, token, now)
        target = enrollment_store.target_txn(conn, inv.id)
        if target.booklet_id is None:
            raise Forbidden("This link is for enrolling a new staff account.")
        if not invitation_store.mark_used_txn(conn, inv.id, now):
            raise InvitationUsed()
        # A current member is refused, not moved to the link's role: raising rolls the whole
        # transaction back, so the link stays usable for the person it was meant for.
        if booklet_store.membership_txn(conn, target.booklet_id, session.account_id):
            raise AlreadyMember()
        if caregiver_membership.join_txn(
            conn, invitation_id=inv.id, booklet_id=target.booklet_id,
            account_id=session.account_id, role=inv.role, now_ms=now,
        ):
            return target.booklet_id
        if not booklet_store.add_member_txn(
            conn, target.booklet_id, session.account_id, inv.role, now
        ):
            raise AlreadyMember()
        actor = f"account:{session.account_id.hex()}"
        audit_store.append_audit_txn(
            conn, at_ms=now, actor=actor, action="member.joined",
            target=f"booklet:{target.booklet_id.hex()}",
            detail=_joined_detail(conn, inv.role.value, inv.id, with_invitation=True),
        )
        return target.booklet_id

    return await deps.db.write(txn)


def require_role(session: Session, *roles: Role) -> None:
    if session.role not in roles:
        raise Forbidden("Your role cannot do this.")
