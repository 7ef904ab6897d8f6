"""booklet.html of an export archive (docs/export.md §5): the booklet as one printable page.

Rendered from booklet.json alone, so that it says nothing the JSON does not. No script, no
external resource (a Content-Security-Policy of `default-src 'none'` says so to the browser
too), every string of the booklet escaped: the text is the members' own, and a hostile entry
must print as text. static/app/export-html.mjs renders the same page in the browser.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any
from urllib.parse import quote

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "page_title": "Booklet export", "booklet": "Booklet", "exported_at": "Exported",
        "exported_by": "Exported by", "fingerprint": "fingerprint", "members": "Members",
        "entries": "Entries", "homework": "Homework", "logs": "Practice log",
        "access_log": "Access log", "verification": "Checking this archive",
        "verify_text": "The archive holds each entry as its author signed it, and the exporter "
                       "signed the whole. Check it with: secure-msg client verify-export FILE",
        "when": "When", "who": "Who", "what": "What", "role": "Role", "name": "Name",
        "former": "former member", "not_opened": "could not be opened", "files": "Files",
        "file_missing": "not in this archive", "done": "done", "not_done": "not done",
        "frequency": "how often", "no_logs": "No practice logged.", "empty": "Nothing.",
        "therapist": "therapist", "guardian": "guardian", "caregiver": "caregiver",
        "title": "title", "note": "note", "homework-log": "practice", "document": "document",
        "system": "notice",
    },
    "fi": {
        "page_title": "Vihon vienti", "booklet": "Vihko", "exported_at": "Viety",
        "exported_by": "Vienyt", "fingerprint": "sormenjälki", "members": "Jäsenet",
        "entries": "Merkinnät", "homework": "Kotitehtävät", "logs": "Harjoitusloki",
        "access_log": "Käyttöloki", "verification": "Arkiston tarkistaminen",
        "verify_text": "Arkistossa on jokainen merkintä kirjoittajansa allekirjoittamana, ja "
                       "viejä on allekirjoittanut kokonaisuuden. Tarkista se komennolla: "
                       "secure-msg client verify-export TIEDOSTO",
        "when": "Milloin", "who": "Kuka", "what": "Mitä", "role": "Rooli", "name": "Nimi",
        "former": "entinen jäsen", "not_opened": "ei voitu avata", "files": "Tiedostot",
        "file_missing": "ei tässä arkistossa", "done": "tehty", "not_done": "ei tehty",
        "frequency": "kuinka usein", "no_logs": "Ei kirjattuja harjoituksia.",
        "empty": "Ei mitään.", "therapist": "terapeutti", "guardian": "huoltaja",
        "caregiver": "hoitaja", "title": "otsikko", "note": "viesti",
        "homework-log": "harjoitus", "document": "asiakirja", "system": "ilmoitus",
    },
    "sv": {
        "page_title": "Export av häftet", "booklet": "Häfte", "exported_at": "Exporterad",
        "exported_by": "Exporterad av", "fingerprint": "fingeravtryck", "members": "Medlemmar",
        "entries": "Anteckningar", "homework": "Hemuppgifter", "logs": "Övningslogg",
        "access_log": "Åtkomstlogg", "verification": "Kontroll av arkivet",
        "verify_text": "Arkivet innehåller varje anteckning så som dess författare signerade "
                       "den, och exportören har signerat helheten. Kontrollera den med: "
                       "secure-msg client verify-export FIL",
        "when": "När", "who": "Vem", "what": "Vad", "role": "Roll", "name": "Namn",
        "former": "tidigare medlem", "not_opened": "kunde inte öppnas", "files": "Filer",
        "file_missing": "inte i detta arkiv", "done": "gjord", "not_done": "inte gjord",
        "frequency": "hur ofta", "no_logs": "Ingen övning loggad.", "empty": "Inget.",
        "therapist": "terapeut", "guardian": "vårdnadshavare", "caregiver": "skötare",
        "title": "rubrik", "note": "meddelande", "homework-log": "övning",
        "document": "dokument", "system": "meddelande",
    },
}
# Printable, and nothing loaded: the policy forbids every fetch, inline style only.
CSP = "default-src 'none'; style-src 'unsafe-inline'"
STYLE = ("body{font:11pt/1.45 system-ui,sans-serif;max-width:48em;margin:2em auto;color:#111}"
         "h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #999}"
         "h3{font-size:1em;margin:0}table{border-collapse:collapse;width:100%}"
         "td,th{border:1px solid #bbb;padding:.2em .4em;text-align:left;vertical-align:top}"
         ".entry{border-top:1px solid #ddd;padding:.5em 0;break-inside:avoid}"
         ".text{white-space:pre-wrap}.muted{color:#555}code{word-break:break-all}"
         "@media print{body{margin:0;max-width:none}a{color:inherit}}")


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def render(doc: dict[str, Any]) -> str:
    tx = TEXTS.get(str(doc.get("language")), TEXTS["en"])
    names = {m["account_id"]: _member_name(m, tx) for m in doc["members"]}

    def who(account_id: str | None) -> str:
        return names.get(account_id or "", _e(account_id))

    exporter = doc["exporter"]
    parts = [
        "<!DOCTYPE html>", f'<html lang="{_e(doc.get("language") or "en")}">',
        '<head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_e(tx['page_title'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(doc.get('title') or tx['booklet'])}</h1>",
        f"<p>{_e(tx['booklet'])}: <code>{_e(doc['booklet_id'])}</code><br>"
        f"{_e(tx['exported_at'])}: {_e(doc['exported_at'])}<br>"
        f"{_e(tx['exported_by'])}: {who(exporter['account_id'])}, {_e(tx['fingerprint'])} "
        f"<code>{_e(exporter['fingerprint'])}</code></p>",
        f"<h2>{_e(tx['members'])}</h2>",
        _table([tx["name"], tx["role"], tx["fingerprint"]],
               ([names[m["account_id"]], _e(tx.get(m["role"], m["role"])),
                 f"<code>{_e(m['fingerprint'])}</code>"] for m in doc["members"])),
        f"<h2>{_e(tx['entries'])}</h2>",
    ]
    by_id = {e["entry_id"]: e for e in doc["entries"]}
    parts += [_entry(e, tx, who, by_id) for e in doc["entries"]] or [f"<p>{_e(tx['empty'])}</p>"]
    parts.append(f"<h2>{_e(tx['homework'])}</h2>")
    parts += [_homework(hw, tx, who) for hw in doc["homework"]] or [f"<p>{_e(tx['empty'])}</p>"]
    parts += [f"<h2>{_e(tx['access_log'])}</h2>",
              _table([tx["when"], tx["who"], tx["what"]],
                     ([_e(i.get("at")), _e(i.get("who")), _e(i.get("what"))]
                      for i in doc["access_log"])),
              f"<h2>{_e(tx['verification'])}</h2><p>{_e(tx['verify_text'])}</p>",
              "</body></html>", ""]
    return "\n".join(parts)


def _member_name(m: dict[str, Any], tx: dict[str, str]) -> str:
    name = _e(m.get("name") or tx.get(m["role"], m["role"]))
    return name + (f" ({_e(tx['former'])})" if m.get("removed") else "")


def _table(head: list[str], rows: Iterable[list[str]]) -> str:
    """`head` is plain text; each cell of `rows` is HTML escaped by the caller."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return ("<table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head)
            + f"</tr></thead><tbody>{body}</tbody></table>")


def _entry(e: dict[str, Any], tx: dict[str, str], who: Any, by_id: dict[str, Any]) -> str:
    kind = e.get("kind") or ""
    head = (f'<h3 id="e{int(e["seq"])}">#{int(e["seq"])} · {_e(e["created_at"])} · '
            f"{who(e['author_id'])} · {_e(tx.get(kind, kind))}</h3>")
    p = e.get("payload")
    if p is None:
        return f'<div class="entry">{head}<p class="muted">{_e(tx["not_opened"])} ' \
               f'({_e(e.get("error"))})</p></div>'
    body: list[str] = []
    if kind == "title":
        body.append(f"<p><strong>{_e(p.get('title'))}</strong></p>")
    elif kind in ("note", "system"):
        body.append(f'<p class="text">{_e(p.get("text"))}</p>')
    elif kind == "homework":
        body.append(f"<p><strong>{_e(p.get('task'))}</strong> ({_e(tx['frequency'])}: "
                    f"{_e(p.get('frequency'))})</p>")
        if p.get("text"):
            body.append(f'<p class="text">{_e(p["text"])}</p>')
    elif kind == "homework-log":
        task = (by_id.get(p.get("homework")) or {}).get("payload") or {}
        state = tx["done"] if p.get("done") else tx["not_done"]
        body.append(f"<p>{_e(task.get('task') or p.get('homework'))}: {_e(state)}, "
                    f"{_e(p.get('date'))}</p><p class=\"text\">{_e(p.get('how'))}</p>")
    elif kind == "document":
        if p.get("text"):
            body.append(f'<p class="text">{_e(p["text"])}</p>')
        if "attachments" in p:
            body.append(_files(e, p["attachments"], tx))
        else:
            body.append(f"<p>{_e(p.get('name'))} ({_e(p.get('media_type'))})</p>")
    return f'<div class="entry">{head}{"".join(body)}</div>'


def _files(e: dict[str, Any], attachments: list[dict[str, Any]], tx: dict[str, str]) -> str:
    paths = {f["attachment"]: f.get("path") for f in e.get("files") or []}
    items = []
    for i, a in enumerate(attachments):
        label = f"{_e(a.get('name'))} ({_e(a.get('media_type'))}, {_e(a.get('size'))} B)"
        path = paths.get(i)
        # A relative link to the file beside this page in the archive: nothing is loaded, and
        # a name's "#", "?" or "%" is percent-encoded so the link names the file.
        items.append(f'<li><a href="{_e(quote(path))}">{label}</a></li>' if path else
                     f'<li>{label} <span class="muted">{_e(tx["file_missing"])}</span></li>')
    return f"<p>{_e(tx['files'])}:</p><ul>{''.join(items)}</ul>"


def _homework(hw: dict[str, Any], tx: dict[str, str], who: Any) -> str:
    logs = "".join(f"<li>{_e(log.get('date'))} · {who(log.get('author_id'))} · "
                   f"{_e(tx['done'] if log.get('done') else tx['not_done'])}: "
                   f'<span class="text">{_e(log.get("how"))}</span></li>' for log in hw["logs"])
    return (f'<div class="entry"><h3>{_e(hw.get("task"))} <span class="muted">'
            f"(#{int(hw['seq'])}, {_e(tx['frequency'])}: {_e(hw.get('frequency'))})</span></h3>"
            f"<p>{_e(tx['logs'])}:</p>"
            + (f"<ul>{logs}</ul>" if logs else f"<p class=\"muted\">{_e(tx['no_logs'])}</p>")
            + "</div>")
