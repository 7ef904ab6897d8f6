"""The API contract, checked on every answer the tests see: an app middleware for tests.

    contract = Contract.install(app)     # before the app starts; outermost middleware
    ...                                   # the test talks to the app
    assert contract.violations == []      # tests/conftest.py's `contract` fixture does this

Each answer of a documented operation (the app's own /api/openapi.json, built from add_route)
must have a status the operation lists, a media type documented for that status (none when it
documents no body), and a JSON body valid against its schema (JSON Schema 2020-12, jsonschema).
The check is stricter than the document in one way: an object with declared properties may have
no others, so that a field a handler adds without declaring it fails here, while clients stay
free to ignore fields added later. Answers the app makes outside any operation (no route, 405)
are not checked. Test-only: jsonschema is a test dependency.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from secure_msg.web.openapi import API_REGISTRY

_URI = "urn:secure-msg:openapi"
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:[^}]*)?\}")
JSON_TYPES = ("application/json", "application/problem+json")


def strict(schema: Any) -> Any:
    """A copy of `schema` in which every object with `properties` allows no others."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if "properties" in out and out.get("type") == "object":
        out.setdefault("additionalProperties", False)
    return out


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass
class Contract:
    app: web.Application
    sink: Callable[[str], None] | None = None  # also told of each departure at once
    violations: list[str] = field(default_factory=list)
    checked: int = 0
    _document: dict[str, Any] | None = None
    _registry: Registry[Any] | None = None

    @classmethod
    def install(cls, app: web.Application, sink: Callable[[str], None] | None = None
                ) -> Contract:
        contract = cls(app, sink)
        app.middlewares.insert(0, contract.middleware)
        return contract

    @property
    def document(self) -> dict[str, Any]:
        if self._document is None:  # built at the first answer: every route is added by then
            self._document = self.app[API_REGISTRY].document(
                title="contract", version="0", server_url="http://test")
            components = {"schemas": strict(self._document["components"]["schemas"])}
            resource = DRAFT202012.create_resource({**self._document, "components": components})
            self._registry = Registry().with_resource(_URI, resource)
        return self._document

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        body = response.body if isinstance(response, web.Response) else None
        raw = body if isinstance(body, bytes) else None
        self.check(request.method, _template(request), response.status,
                   response.content_type if response.body_length or raw else "", raw)
        return response

    def check(self, method: str, template: str | None, status: int, content_type: str,
              body: bytes | None) -> None:
        """Record each way the answer departs from the document (nothing if it does not)."""
        method = "get" if method == "HEAD" else method.lower()
        op = self.document["paths"].get(template or "", {}).get(method)
        if op is None:
            return  # no route, or a method the route does not have: not an operation
        self.checked += 1
        where = f"{method.upper()} {template} -> {status}"
        response = op["responses"].get(str(status))
        if response is None:
            self._violation(f"{where}: status not documented "
                                   f"(documented: {sorted(op['responses'])})")
            return
        content = response.get("content", {})
        if not content:
            if body:
                self._violation(f"{where}: a body where none is documented")
            return
        if body is None:
            return  # a file or a socket: its status and nothing more
        if content_type not in content:
            self._violation(f"{where}: {content_type!r} not in {sorted(content)}")
            return
        if content_type in JSON_TYPES and method != "head":
            self._check_json(where, body, _pointer(
                "paths", template or "", method, "responses", str(status), "content",
                content_type, "schema"))

    def _violation(self, text: str) -> None:
        self.violations.append(text)
        if self.sink is not None:
            self.sink(text)

    def _check_json(self, where: str, body: bytes, pointer: str) -> None:
        try:
            value = json.loads(body)
        except ValueError:
            self._violation(f"{where}: the body is not JSON")
            return
        validator = Draft202012Validator({"$ref": _URI + pointer}, registry=self._registry)
        for error in validator.iter_errors(value):
            path = "/".join(str(p) for p in error.absolute_path) or "(root)"
            self._violation(f"{where}: {path}: {error.message[:300]}")


def _template(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    if resource is None:
        return None
    return _PARAM.sub(lambda m: "{" + m[1] + "}", resource.canonical)
