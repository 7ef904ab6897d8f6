"""The import direction of docs/architecture.md, held by a test:

    web, channels, cli, client  →  services  →  storage  →  model  →  crypto  →  base  →  errors

A package imports only packages to its right (and itself). Adapters reach storage only to open
the database (storage.db); SQL and sqlite3 stay inside storage/; no two packages import each
other, directly or around a loop. secure_msg.testing is test support and may reach anything.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import secure_msg

SRC = Path(secure_msg.__file__).parent
RANK = {"errors": 0, "base64url": 1, "clock": 1, "logging": 1, "config": 1, "contacts": 1,
        "private_files": 1, "crypto": 2, "model": 3, "storage": 4, "services": 5}
ADAPTERS = {"web", "channels", "cli", "client", "server_keys"}
# What each adapter must not import, besides storage beyond storage.db.
ADAPTER_FORBIDDEN = {
    "channels": {"web", "cli", "client"}, "client": {"services", "channels", "web"},
    "web": {"cli", "client"}, "server_keys": {"web", "cli", "client", "channels"},
}
EXEMPT = {"testing", "__init__"}
SQL_CALLS = {"execute", "executemany", "executescript"}


def package_of(module: str) -> str:
    """'secure_msg.web.app' → 'web'; 'secure_msg.cli_admin' → 'cli'; 'secure_msg.clock' →
    'clock'."""
    part = module.split(".")[1] if "." in module else "__init__"
    return "cli" if part.startswith("cli_") or part in {"cli", "__main__"} else part


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _targets(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        for alias in node.names:  # `from secure_msg.storage import db` imports storage.db
            sub = f"{node.module}.{alias.name}"
            is_module = (SRC.parent / sub.replace(".", "/")).with_suffix(".py").exists()
            yield sub if is_module else node.module


def scan() -> tuple[dict[str, set[str]], list[str]]:
    """Every module's secure_msg/sqlite imports, and the SQL calls made outside storage/."""
    imports: dict[str, set[str]] = {}
    sql_calls = []
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports[module] = {t for node in ast.walk(tree) for t in _targets(node)
                           if t.split(".")[0] in {"secure_msg", "sqlite3", "aiosqlite", "psycopg"}}
        if package_of(module) not in {"storage", *EXEMPT}:
            sql_calls += [f"{module}:{n.lineno} calls .{n.func.attr}()" for n in ast.walk(tree)
                          if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                          and n.func.attr in SQL_CALLS]
    return imports, sql_calls


def violations(imports: Mapping[str, set[str]]) -> list[str]:
    """What breaks the direction above, one line each (empty when the code holds it)."""
    found = []
    edges: dict[str, set[str]] = {}
    for module, targets in imports.items():
        src = package_of(module)
        if src in EXEMPT:
            continue
        for target in sorted(targets):
            if target.split(".")[0] in {"sqlite3", "aiosqlite", "psycopg"}:
                if src != "storage":
                    found.append(f"{module} imports {target}: only storage/ may")
                continue
            dst = package_of(target)
            if dst in (src, "__init__"):
                continue
            edges.setdefault(src, set()).add(dst)
            if dst in EXEMPT and src not in {"cli"}:
                found.append(f"{module} imports {target}: test support")
            elif src in RANK and (dst not in RANK or RANK[dst] >= RANK[src]):
                found.append(f"{module} imports {target}: {src} may not import {dst}")
            elif src in ADAPTERS and dst == "storage" and target != "secure_msg.storage.db":
                found.append(f"{module} imports {target}: adapters reach storage through "
                             "services (storage.db only to open the database)")
            elif dst in ADAPTER_FORBIDDEN.get(src, set()):
                found.append(f"{module} imports {target}: {src} may not import {dst}")
    found += [f"package cycle: {' → '.join(c)}" for c in _cycles(edges)]
    return found


def _cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt == path[0]:
                cycles.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:  # report each cycle once, from its least
                walk(nxt, [*path, nxt])

    for start in sorted(edges):
        walk(start, [start])
    return cycles


def test_the_code_keeps_the_import_direction() -> None:
    imports, sql_calls = scan()
    assert len(imports) > 100  # the scan found the package
    found = violations(imports) + sql_calls
    assert not found, "\n".join(found)


@pytest.mark.parametrize(("imports", "expected"), [
    ({"secure_msg.model.booklets": {"secure_msg.storage.booklets"}},
     "secure_msg.model.booklets imports secure_msg.storage.booklets: model may not import "
     "storage"),
    ({"secure_msg.services.x": {"sqlite3"}}, "secure_msg.services.x imports sqlite3: only "
     "storage/ may"),
    ({"secure_msg.web.api": {"secure_msg.storage.booklets"}},
     "secure_msg.web.api imports secure_msg.storage.booklets: adapters reach storage through "
     "services (storage.db only to open the database)"),
    ({"secure_msg.services.x": {"secure_msg.channels.sms"}},
     "secure_msg.services.x imports secure_msg.channels.sms: services may not import channels"),
    ({"secure_msg.channels.a": {"secure_msg.web.b"}, "secure_msg.web.b": {"secure_msg.channels.a"}},
     "package cycle: channels → web → channels"),
    ({"secure_msg.client.c": {"secure_msg.services.s"}},
     "secure_msg.client.c imports secure_msg.services.s: client may not import services"),
])
def test_a_violation_is_reported(imports: dict[str, set[str]], expected: str) -> None:
    assert expected in violations(imports)


def test_allowed_imports_are_not_reported() -> None:
    assert violations({
        "secure_msg.web.services": {"secure_msg.storage.db", "secure_msg.services.live"},
        "secure_msg.storage.notices": {"sqlite3", "secure_msg.model.notices"},
        "secure_msg.crypto.keys": {"secure_msg.crypto.errors", "secure_msg.errors"},
        "secure_msg.testing.x": {"secure_msg.storage.audit"},
    }) == []
