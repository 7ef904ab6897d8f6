"""The web inbox: the single HTML page at `/` and `/enroll/{token}`, and its static files.

Everything under static/ is plain ES modules and one stylesheet, served as files (no build step,
no third-party code). The page holds no inline script or style, so the strict CSP of
middleware.py needs no exception. Files revalidate (`no-cache`) so a deploy is picked up at once.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from secure_msg.errors import NotFound
from secure_msg.web.openapi import FILE_STATUSES, add_route

STATIC_DIR = Path(__file__).parent / "static"
INDEX = STATIC_DIR / "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json",
    ".ico": "image/x-icon", ".webmanifest": "application/manifest+json",
}


def _file(path: Path) -> web.FileResponse:
    response = web.FileResponse(path, headers={
        "Content-Type": CONTENT_TYPES[path.suffix], "Cache-Control": "no-cache",
    })
    return response


async def index(request: web.Request) -> web.FileResponse:
    return _file(INDEX)


def _static_path(relative: str) -> Path | None:
    """The file under static/ that `relative` names, or None: outside, hidden, of a type not
    served, or a name the file system refuses (a NUL byte, a name over 255 bytes)."""
    try:
        path = (STATIC_DIR / relative).resolve()
        found = path.is_relative_to(STATIC_DIR.resolve()) and path.is_file()
    except (OSError, ValueError):
        return None
    if not found or path.suffix not in CONTENT_TYPES or path.name.startswith("."):
        return None
    return path


async def static_file(request: web.Request) -> web.FileResponse:
    path = _static_path(request.match_info["path"])
    if path is None:
        raise NotFound("No such file")
    return _file(path)


def setup_routes(app: web.Application) -> None:
    tags = ["web inbox"]
    html = {"type": "string", "contentMediaType": "text/html"}
    add_route(app, "GET", "/", index, tags=tags, summary="The web inbox (one HTML page)",
              response=html, response_type="text/html", also=FILE_STATUSES)
    add_route(app, "GET", "/enroll/{token}", index, tags=tags,
              summary="An invitation link: the web inbox opens its enrollment screen",
              response=html, response_type="text/html", also=FILE_STATUSES)
    media = sorted({t.partition(";")[0] for t in CONTENT_TYPES.values()})
    add_route(app, "GET", "/static/{path:.+}", static_file, tags=tags,
              summary="The inbox's ES modules and stylesheet", response={"type": "string"},
              response_type=media[0], response_types=media[1:], errors=(404,),
              also=FILE_STATUSES)
