"""`secure-msg client …`: the Python reference client on the command line.

The password comes from --password-file or SECURE_MSG_PASSWORD, never from an argument (it would
show in `ps` and shell history). --profile DIR keeps the session token and pinned identity keys;
private keys are never written: each run opens them from the password-sealed bundle. Every
command that opens the keys first syncs the pins, checkpoints and sealed-to record with the
account's sealed copy on the server (docs/protocol.md §6.5), and again at its end if it changed
them. Runs on one profile folder take turns (a lock file in it).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from secure_msg import (
    cli_client_access_log,
    cli_client_appointments,
    cli_client_consent,
    cli_client_document_requests,
    cli_client_export,
    cli_client_files,
    cli_client_lifecycle,
    cli_client_shares,
)
from secure_msg.client import Client, ClientError, Profile
from secure_msg.client.client import MemberInfo
from secure_msg.client.profile import locked
from secure_msg.crypto.safety import group_digits

DEFAULT_PROFILE = Path(os.environ.get("SECURE_MSG_PROFILE", Path.home() / ".secure-msg"))
Command = Callable[[Client, argparse.Namespace], Awaitable[dict[str, Any]]]


def _read_secret(path: str) -> str:
    """A small local file (password, recovery key): read synchronously, newline stripped."""
    return Path(path).read_text(encoding="utf-8").rstrip("\r\n")


def _password(args: argparse.Namespace, env: str = "SECURE_MSG_PASSWORD") -> str:
    if args.password_file:
        return _read_secret(args.password_file)
    value = os.environ.get(env)
    if not value:
        raise ClientError(0, "no-password", "Give --password-file or set SECURE_MSG_PASSWORD")
    return value


async def _unlock(c: Client, a: argparse.Namespace) -> None:
    """Open my keys for this run, then take in what my other devices pinned and checked."""
    await c.unlock(_password(a))
    await c.sync_state()


async def _enroll(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    rk = await c.enroll(a.url, a.login, _password(a), a.language)
    await c.sync_state()
    return {"id": c.profile.account_id, "login": c.profile.login, "recovery_key": rk,
            "joined": c.last_join,
            "text": f"Enrolled as {c.profile.login}.{_joined_text(c)}\nRecovery key (write it "
                    f"down, it is shown only now):\n  {rk}"}


def _joined_text(c: Client) -> str:
    """What a link that carried trust gave (protocol §6.7), said plainly."""
    j = c.last_join
    if j is None:
        return ""
    how = ("verified in person (the QR code of your meeting)" if j["therapist_verified"] else
           "trusted on first use (the link did not come from a QR code; compare safety numbers "
           "when you meet)")
    return f"\nYour therapist's key is {how}. Earlier entries received: {j['entries']}."


async def _accept(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    if "#" in a.url:  # a link that carries trust: joining signs with my keys (§6.7)
        await _unlock(c, a)
    booklet_id = await c.accept(a.url)
    return {"id": booklet_id, "joined": c.last_join,
            "text": f"Joined booklet {booklet_id}.{_joined_text(c)}"}


async def _login(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    await c.login(a.server, a.login, _password(a))
    await c.sync_state()
    return {"id": c.profile.account_id, "text": f"Logged in as {c.profile.login}."}


async def _logout(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    await c.logout()
    return {"text": "Logged out."}


async def _recover(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    key = _read_secret(a.recovery_key_file)
    await c.recover(a.server, a.login, key, _password(a))
    await c.sync_state()
    return {"id": c.profile.account_id, "text": "New password set; other sessions ended."}


async def _change_password(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    await _unlock(c, a)
    new = _read_secret(a.new_password_file)
    await c.change_password(_password(a), new)
    return {"text": "Password changed; other sessions ended."}


async def _create(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    await _unlock(c, a)
    booklet_id = await c.create_booklet(a.title)
    return {"id": booklet_id, "text": f"Booklet {booklet_id} created."}


async def _list(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    await _unlock(c, a)
    rows = await c.booklets()
    text = "\n".join(f"{r['id']}  {r['title'] or '(no title)'}  unread {r['unread']}"
                     for r in rows) or "No booklets."
    return {"booklets": rows, "text": text}


async def _invite(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    if a.via != "plain":  # the link carries trust: signing it needs my keys (protocol §6.7)
        await _unlock(c, a)
    result = await c.invite(a.booklet, a.role, a.name, a.phone, a.email, send=a.send or (),
                            language=a.language, until=a.until, scope=a.scope,
                            via=None if a.via == "plain" else a.via)
    sent = result.get("queued") or []
    via = f"\nQueued to the invitee by {' and '.join(sent)}." if sent else ""
    return {**result, "text": f"Invitation link (valid until {result['expires_at']}):\n"
                              f"  {result['link']}{via}"}


def _history(c: Client, booklet: str) -> dict[str, Any]:
    """What the last read of `booklet` found wrong with its history: in --json and on stderr."""
    problems = c.history_problems.get(booklet, [])
    return {"history_problems": [p.to_json() for p in problems],
            "warnings": [f"the server's history of this booklet does not add up: "
                         f"{p.describe()}" for p in problems]}


async def _confirming(doing: str, work: Awaitable[Any]) -> Any:
    """`work`, with its refusal of unverified members told as what to do about it."""
    try:
        return await work
    except ClientError as exc:
        if exc.code == "unverified-recipients":
            names = ", ".join(f"{m['name'] or '?'} ({m['role']}, {m['id']})"
                              for m in exc.extra["new_recipients"])
            exc.detail = (f"{doing} {names}, not verified in person. Compare safety numbers "
                          f"first (secure-msg client safety-number MEMBER_ID, then verify), "
                          f"or give --confirm-unverified.")
        raise


async def _members(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    rows = await c.members(a.booklet)
    text = "\n".join(f"{m.account_id}  {m.role:<9}  {m.name or '':<20}  {m.fingerprint}"
                     f"{'  verified' if m.verified else ''}" for m in rows)
    return {"members": [m.to_json() for m in rows], "text": text,
            "warnings": [f"{m.account_id} was first listed as {m.pinned_name} ({m.pinned_role}),"
                         f" now as {m.name} ({m.role})" for m in rows if m.relabelled]}


async def _remove(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    await c.remove(a.booklet, a.member)
    return {"id": a.member, "text": "Removed."}


async def _accept_history(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    await _unlock(c, a)
    before = c.profile.checkpoints.get(a.booklet)
    await c.accept_history(a.booklet)
    seen = c.profile.checkpoints.get(a.booklet)
    accepted = seen is not None and seen is not before
    text = (f"Accepted: checked from entry {seen.seq} on." if accepted and seen else
            "Not accepted: the history as it is now has problems of its own (below); "
            "the earlier reference stays.")
    return {"id": a.booklet, "accepted": accepted, "checkpoint": seen.seq if seen else None,
            "text": text, **_history(c, a.booklet)}


async def _grant(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    await _unlock(c, a)
    count = await _confirming("Sharing history with", c.grant_history(
        a.booklet, a.member, allow_unverified=a.confirm_unverified))
    return {"entries": count, "text": f"Shared {count} earlier entries.",
            **_history(c, a.booklet)}


def _post_fields(a: argparse.Namespace) -> dict[str, Any]:
    if bool(a.text is not None) == bool(a.file) or len(a.file or []) > 1:
        raise ClientError(0, "bad-arguments", "give --text or one --file (the text)")
    text = _read_secret(a.file[0]) if a.file else a.text
    if a.kind == "note":
        return {"text": text}
    if a.kind == "homework":
        return {"task": text, "frequency": a.frequency}
    return {"homework": _homework_id(a.homework), "done": a.done == "yes", "how": text,
            "date": _log_date(a.date)}


def _homework_id(given: str | None) -> str:
    """The homework entry's id as docs/protocol.md §4.5 has writers write it."""
    homework = (given or "").strip().lower()
    if not re.fullmatch("[0-9a-f]{32}", homework):
        raise ClientError(0, "bad-arguments", "homework-log needs --homework ENTRY_ID "
                          "(32 hex digits, as `read` shows it)")
    return homework


def _log_date(given: str) -> str:
    """The day the homework was done, `YYYY-MM-DD`; today (local) when not given."""
    if not given:
        return datetime.date.today().isoformat()
    try:
        day = datetime.date.fromisoformat(given) if re.fullmatch(
            "[0-9]{4}-[0-9]{2}-[0-9]{2}", given) else None
    except ValueError:
        day = None
    if day is None:
        raise ClientError(0, "bad-arguments", "--date is a calendar day, YYYY-MM-DD")
    return day.isoformat()


async def _post(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    if a.kind == "document":
        return await cli_client_files.post_document(c, a, _unlock, _confirming)
    if a.fulfils:
        raise ClientError(0, "bad-arguments", "only a document (--kind document) fulfils a "
                                              "request")
    fields = _post_fields(a)
    await _unlock(c, a)
    result = await _confirming("Your entry would be sealed for the first time to", c.post(
        a.booklet, a.kind, allow_unverified=a.confirm_unverified, **fields))
    return {"id": result["entry_id"], "seq": result["seq"],
            "new_recipients": result["new_recipients"], "text": f"Posted #{result['seq']}."}


async def _read(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    await _unlock(c, a)
    entries = await c.read(a.booklet, a.since)
    if entries:
        await c.mark_read(a.booklet, entries[-1].seq)
    rows = [{"seq": e.seq, "id": e.entry_id, "author": e.author_id, "kind": e.kind or None,
             "created_at": e.created_at,
             "payload": None if e.error else cli_client_files.shown(e.payload),
             **({"error": e.error} if e.error else {})} for e in entries]
    text = "\n".join(f"#{e.seq} could not be opened ({e.error})" if e.error else
                     f"#{e.seq} {e.created_at} {e.kind}: "
                     f"{json.dumps(cli_client_files.shown(e.payload), ensure_ascii=False)}"
                     for e in entries)
    history = _history(c, a.booklet)
    history["warnings"] += [f"entry #{e.seq} failed its checks ({e.error}) and is not shown"
                            for e in entries if e.error]
    roster = c.rosters.get(a.booklet)
    if roster is not None and roster.problem:
        history["warnings"].append(f"the therapist's signed member list failed its check "
                                   f"({roster.problem}): nothing can be sent to this booklet")
    elif roster is not None:
        history["warnings"] += [f"{member} is listed by the server but not on the therapist's "
                                f"signed member list ({code}): nothing is sealed to them"
                                for member, code in sorted(roster.refused.items())]
    return {"entries": rows, "text": text or "No entries.", **history}


async def _find_member(c: Client, member_id: str) -> MemberInfo:
    for booklet in (await c.api.call("GET", "/api/booklets"))["booklets"]:
        for m in await c.members(booklet["id"], verifying=True):
            if m.account_id == member_id:
                return m
    raise ClientError(404, "not-found", "No member with that id in your booklets")


async def _safety(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    await _unlock(c, a)
    number = c.safety_number(await _find_member(c, a.member))
    return {"id": a.member, "safety_number": number, "text": group_digits(number)}


async def _verify(c: Client, a: argparse.Namespace) -> dict[str, Any]:
    await _unlock(c, a)
    ok = c.verify(await _find_member(c, a.member), a.number)
    if not ok:
        raise ClientError(0, "safety-number-mismatch",
                          "The numbers differ: do not trust this key; ask in person again")
    return {"id": a.member, "verified": True, "text": "Verified."}


def _state(c: Client) -> dict[str, Any]:
    """What syncing my saved state found, for --json (only when this run synced)."""
    if not c.state_synced:
        return {}
    return {"state_problems": [p.to_json() for p in c.state_problems]}


async def _in_step(client: Client, command: Command, args: argparse.Namespace
                   ) -> dict[str, Any]:
    """The command, then a sync when it changed pins, checkpoints or the sealed-to record."""
    result = await command(client, args)
    if client.state_changed():
        await client.sync_state()
    return {**result, **_state(client)}


def _run(command: Command) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        folder = Path(args.profile)
        with locked(folder):  # from load to save: another run on this folder waits
            return _run_locked(command, args, folder)

    return handler


def _run_locked(command: Command, args: argparse.Namespace, folder: Path) -> int:
    profile = Profile.load(folder)
    client: Client | None = None

    async def go() -> dict[str, Any]:
        nonlocal client
        async with aiohttp.ClientSession() as http:
            client = Client(profile, http)
            try:
                return await _in_step(client, command, args)
            finally:
                profile.save(folder)

    try:
        result = asyncio.run(go())
    except ClientError as exc:
        state = _state(client) if client else {}
        if args.json:
            print(json.dumps({"error": exc.code, "title": exc.title, "detail": exc.detail,
                              **state}))
        _warn(client)
        print(f"secure-msg: {exc.detail or exc.title} ({exc.code})", file=sys.stderr)
        return 1
    except aiohttp.ClientError as exc:
        print(f"secure-msg: cannot reach the server ({type(exc).__name__})", file=sys.stderr)
        return 1
    text = result.pop("text", "")
    _warn(client, result.pop("warnings", []))
    print(json.dumps(result, ensure_ascii=False) if args.json else text)
    return 0


def _warn(client: Client | None, warnings: Sequence[str] = ()) -> None:
    problems = client.state_problems if client else []
    for warning in [p.describe() for p in problems] + list(warnings):
        print(f"secure-msg: WARNING: {warning}", file=sys.stderr)


def _add_global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The client's own options. Without defaults (SUPPRESS), an option left out after a
    subcommand leaves the value given before it in place instead of resetting it."""
    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--profile", default=default(str(DEFAULT_PROFILE)),
                        help="folder for the session and pinned keys (default ~/.secure-msg)")
    parser.add_argument("--json", action="store_true", default=default(False),
                        help="one JSON object on stdout")
    parser.add_argument("--password-file", default=default(None),
                        help="file holding the password (else SECURE_MSG_PASSWORD)")


class _CommandParser(argparse.ArgumentParser):
    """Every parser under `client` (argparse gives nested subparsers their parent's class), so
    `client enroll URL --json` works as `client --json enroll URL` does, at any depth."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _add_global_options(self, defaults=False)


def register(subparsers: Any) -> None:
    client = subparsers.add_parser("client", help="the end-to-end encrypted client")
    _add_global_options(client, defaults=True)
    sub = client.add_subparsers(dest="client_command", required=True, metavar="COMMAND",
                                parser_class=_CommandParser)

    def cmd(parser: argparse.ArgumentParser, fn: Command) -> None:
        parser.set_defaults(handler=_run(fn))

    p = sub.add_parser("enroll", help="enroll from an invitation link")
    p.add_argument("url")
    p.add_argument("--login", required=True)
    p.add_argument("--language", choices=["fi", "sv", "en"], default="fi")
    cmd(p, _enroll)
    p = sub.add_parser("accept", help="join another booklet with an invitation link")
    p.add_argument("url")
    cmd(p, _accept)
    p = sub.add_parser("login", help="log in")
    p.add_argument("--server", required=True)
    p.add_argument("--login", required=True)
    cmd(p, _login)
    cmd(sub.add_parser("logout", help="end the session"), _logout)
    p = sub.add_parser("recover", help="set a new password with the recovery key")
    p.add_argument("--server", required=True)
    p.add_argument("--login", required=True)
    p.add_argument("--recovery-key-file", required=True)
    cmd(p, _recover)
    p = sub.add_parser("password", help="change the password")
    p.add_argument("--new-password-file", required=True)
    cmd(p, _change_password)
    _register_booklet(sub, cmd)
    cli_client_appointments.register(sub, cmd)
    cli_client_consent.register(sub, cmd, _unlock)
    cli_client_access_log.register(sub, cmd)
    cli_client_export.register(sub, cmd)
    cli_client_lifecycle.register(sub, cmd, _password)
    cli_client_document_requests.register(sub, cmd)
    p = sub.add_parser("post", help="post an entry")
    p.add_argument("booklet")
    p.add_argument("--kind", choices=["note", "homework", "homework-log", "document"],
                   default="note")
    p.add_argument("--text", help="the text (document: a caption, optional)")
    p.add_argument("--file", action="append",
                   help="a file holding the text; document: a file to attach, encrypted on "
                        "this device (repeatable)")
    p.add_argument("--frequency", default="daily", help="homework: how often to practise")
    p.add_argument("--fulfils", metavar="REQUEST",
                   help="document: the document request it fulfils (`document-requests`)")
    p.add_argument("--homework", help="homework-log: the homework entry id")
    p.add_argument("--done", choices=["yes", "no"], default="yes")
    p.add_argument("--confirm-unverified", action="store_true",
                   help="seal to members not verified in person who get my entries here for "
                        "the first time (refused otherwise)")
    p.add_argument("--date", default="", help="homework-log: YYYY-MM-DD (default: today)")
    cmd(p, _post)
    cli_client_files.register(sub, cmd, _unlock)
    cli_client_shares.register(sub, cmd, _unlock)
    p = sub.add_parser("read", help="decrypt and show entries")
    p.add_argument("booklet")
    p.add_argument("--since", type=int, default=0)
    cmd(p, _read)
    p = sub.add_parser("safety-number", help="the 60 digits to compare in person")
    p.add_argument("member")
    cmd(p, _safety)
    p = sub.add_parser("verify", help="mark a member verified after comparing the number")
    p.add_argument("member")
    p.add_argument("number")
    cmd(p, _verify)


def _register_booklet(sub: Any, cmd: Callable[[argparse.ArgumentParser, Command], None]) -> None:
    booklet = sub.add_parser("booklet", help="booklets and members")
    bsub = booklet.add_subparsers(dest="booklet_command", required=True, metavar="COMMAND")
    p = bsub.add_parser("create", help="open a booklet (therapists)")
    p.add_argument("--title", required=True)
    cmd(p, _create)
    cmd(bsub.add_parser("list", help="my booklets"), _list)
    p = bsub.add_parser("invite", help="invite a guardian or caregiver")
    p.add_argument("booklet")
    p.add_argument("--role", choices=["guardian", "caregiver"], required=True)
    p.add_argument("--name")
    p.add_argument("--phone")
    p.add_argument("--email")
    p.add_argument("--send", action="append", choices=["sms", "email"],
                   help="also send the link to the invitee (repeatable)")
    p.add_argument("--language", choices=["fi", "sv", "en"],
                   help="language of the sent link's text (default fi)")
    p.add_argument("--via", choices=["link", "qr", "plain"], default="link",
                   help="how the printed link is handed on: qr (shown as a QR code at a "
                        "meeting: verifies me in person), link (any other way: trust on first "
                        "use), plain (no trust or history in the link; SMS/e-mail sent by the "
                        "server never carry it)")
    p.add_argument("--until", metavar="DATE|period-end",
                   help="caregivers: member until the end of this date, or of the booklet's "
                        "therapy period (required for a caregiver)")
    p.add_argument("--scope", choices=["new", "history"],
                   help="caregivers: read new entries only, or also earlier ones shared later")
    cmd(p, _invite)
    p = bsub.add_parser("members", help="members with fingerprints")
    p.add_argument("booklet")
    cmd(p, _members)
    p = bsub.add_parser("remove", help="remove a member")
    p.add_argument("booklet")
    p.add_argument("member")
    cmd(p, _remove)
    p = bsub.add_parser("grant-history", help="share earlier entries with a member")
    p.add_argument("booklet")
    p.add_argument("member")
    p.add_argument("--confirm-unverified", action="store_true",
                   help="share with a member not verified in person (refused otherwise)")
    cmd(p, _grant)
    p = bsub.add_parser("accept-history",
                        help="take the server's current history of a booklet as the reference "
                             "for later checks (only after being told of a restore)")
    p.add_argument("booklet")
    cmd(p, _accept_history)
