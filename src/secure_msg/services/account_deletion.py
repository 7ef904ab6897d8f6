"""An account's owner deletes it once it is no member of any booklet (issue 17, item 7).

Proof: the auth key derived from the current password, as for a password change (a stolen
bearer token alone cannot delete an account). Refused with 409 `still-a-member` while the
account is a current member anywhere (leave, or wait for the booklet's purge, first), and with
403 for the operator's admin accounts.

Erased in one transaction, with secure_delete on: login name, display name, phone, e-mail,
their blind indexes, the password and recovery verifiers and both sealed key bundles, every
session, the sealed client state, notices addressed to it, and the contact fields of the
invitation it enrolled with. What stays is pseudonymous: the account id, its role and its
public key statement, which still verifies the entries it wrote in booklets that exist (their
other members keep reading them), and the audit chain, whose `account.deleted` event names the
account id only.
"""

from __future__ import annotations

from secure_msg.errors import Forbidden, StillAMember
from secure_msg.model.accounts import Session
from secure_msg.model.roles import Role
from secure_msg.services import account_service
from secure_msg.services.account_service import AccountDeps
from secure_msg.storage import account_erasure as store
from secure_msg.storage import audit as audit_store
from secure_msg.storage.txn import Txn


async def delete_account(deps: AccountDeps, session: Session, auth_key: bytes, *,
                         client: str) -> None:
    if session.role is Role.ADMIN:
        raise Forbidden("The service manager's accounts are removed by the operator.")
    account = await account_service.get_account(deps, session.account_id)
    await account_service.verify_current_password(deps, account, auth_key, client=client)
    fresh_index = deps.rng(32)  # the login index becomes random: the name is free, unlinkable

    def txn(conn: Txn) -> None:
        memberships = store.current_memberships_txn(conn, account.id)
        if memberships:
            raise StillAMember(f"The account is still a member of {memberships} booklet(s).")
        now = deps.clock.now_ms()
        erased = store.erase_account_txn(conn, deps.vault, account.id, fresh_index, now)
        actor = f"account:{account.id.hex()}"
        audit_store.append_audit_txn(conn, at_ms=now, actor=actor, action="account.deleted",
                                     target=actor, detail=erased)

    await deps.db.write(txn)
    deps.hub.end_account(account.id)
    # The erased values' old pages are still WAL frames until a checkpoint truncates it.
    await deps.db.checkpoint_truncate()
