"""The standard vectors are part of the repository: a clone tests itself with nothing beside it."""

from __future__ import annotations

import hashlib
import re

from .conftest import ROOT, STANDARD_VECTORS

# A row of SOURCES.md's table: | `file` | source | licence | `sha256` |
_ROW = re.compile(r"^\| `(?P<file>[^`]+)` \|.*\| `(?P<sha>[0-9a-f]{64})` \|$", re.MULTILINE)
# A path that climbs out of the repository to a sibling `shared/` folder (Python or JS spelling).
_OUTSIDE = re.compile(
    r"""\.\./shared|parent\s*/\s*["']shared["']|["']\.\.["']\s*,\s*["']shared["']""")
_SOURCE_SUFFIXES = {".py", ".mjs", ".js", ".sh"}


def _sources() -> dict[str, str]:
    text = (STANDARD_VECTORS / "SOURCES.md").read_text(encoding="utf-8")
    return {m["file"]: m["sha"] for m in _ROW.finditer(text)}


def test_every_vendored_file_is_listed_with_its_hash() -> None:
    """Each vector file matches the SHA-256 its SOURCES row records, and none is unlisted."""
    listed = _sources()
    present = {p.relative_to(STANDARD_VECTORS).as_posix() for p in STANDARD_VECTORS.rglob("*.json")}
    assert present == set(listed)
    for name, sha in listed.items():
        assert hashlib.sha256((STANDARD_VECTORS / name).read_bytes()).hexdigest() == sha, name


def test_the_licences_the_sources_name_are_vendored() -> None:
    text = (STANDARD_VECTORS / "SOURCES.md").read_text(encoding="utf-8")
    licences = set(re.findall(r"\]\((LICENSE-[^)]+)\)", text))
    assert licences == {"LICENSE-Apache-2.0.txt", "LICENSE-IETF-RFC9180.txt"}
    for name in licences:
        assert (STANDARD_VECTORS / name).stat().st_size > 1000, name


def test_no_test_or_tool_reads_outside_the_repository() -> None:
    """Tests, tools, the benchmarks, the Makefile and CI read no shared/ folder beside the clone."""
    files = [ROOT / "Makefile", *(ROOT / ".ci").iterdir()]
    for folder in ("tests", "tools", "bench"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in _SOURCE_SUFFIXES]
    offenders = [str(p.relative_to(ROOT)) for p in files
                 if p.is_file() and _OUTSIDE.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
