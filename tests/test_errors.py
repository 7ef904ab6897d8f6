"""The error tree lives in one file, and the drawing in its docstring is the tree the code has."""

from __future__ import annotations

import importlib
import pkgutil
import textwrap

import secure_msg
from secure_msg import errors
from secure_msg.errors import SecureMsgError


def _children(cls: type[SecureMsgError]) -> list[type[SecureMsgError]]:
    # Definition order in errors.py (module namespace order), not __subclasses__()'s, which
    # CPython does not promise; classes defined elsewhere (tests) are not part of the drawing.
    names = list(vars(errors))
    ours = [c for c in cls.__subclasses__() if c.__module__ == errors.__name__]
    return sorted(ours, key=lambda c: names.index(c.__name__))


def _render(cls: type[SecureMsgError]) -> list[tuple[str, int, str]]:
    rows = [(cls.__name__, cls.status, cls.code)]

    def walk(parent: type[SecureMsgError], prefix: str) -> None:
        children = _children(parent)
        for index, child in enumerate(children):
            last = index == len(children) - 1
            rows.append((prefix + ("└── " if last else "├── ") + child.__name__,
                         child.status, child.code))
            walk(child, prefix + ("    " if last else "│   "))

    walk(cls, "")
    return rows


def expected_drawing() -> str:
    """The tree as the code has it: name, HTTP status, problem code; one class a line."""
    rows = _render(SecureMsgError)
    width = max(len(name) for name, _, _ in rows) + 2
    return "\n".join(f"{name:<{width}}{status} {code}" for name, status, code in rows)


def _docstring_drawing() -> str:
    # The drawing is the indented block that starts at the root's line and ends at a blank one.
    lines = (errors.__doc__ or "").splitlines()
    roots = [i for i, line in enumerate(lines) if line.lstrip().startswith("SecureMsgError ")]
    drawing: list[str] = []
    for line in lines[roots[0] if roots else len(lines):]:
        if not line.strip():
            break
        drawing.append(line)
    return textwrap.dedent("\n".join(drawing))


def test_the_docstring_draws_the_error_tree_the_code_has() -> None:
    """Add or move an error class and this fails with the drawing to paste into errors.py."""
    expected = expected_drawing()
    assert _docstring_drawing() == expected, (
        "The tree in secure_msg/errors.py's docstring is out of date. Replace it with:\n\n"
        + textwrap.indent(expected, "    ")
    )


def test_every_error_class_is_defined_in_errors_py() -> None:
    """The tree stays in one file: no module of the package defines its own SecureMsgError."""
    for module in pkgutil.walk_packages(secure_msg.__path__, "secure_msg."):
        if module.name.endswith(".__main__"):  # importing it runs the command line
            continue
        importlib.import_module(module.name)
    stack: list[type[SecureMsgError]] = [SecureMsgError]
    elsewhere = []
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        if cls.__module__.startswith("secure_msg.") and cls.__module__ != "secure_msg.errors":
            elsewhere.append(f"{cls.__module__}.{cls.__qualname__}")
    assert not elsewhere, f"move these to secure_msg/errors.py: {sorted(elsewhere)}"
