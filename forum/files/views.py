"""File routes: serve a file to who may read it, take an upload from the composer (JSON),
members' pictures, SIG libraries."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_login import login_required
from markupsafe import Markup

from .. import hooks
from ..errors import ForumError, Invalid
from ..extensions import db, limiter
from ..i18n import gettext as _
from ..i18n import ngettext, number
from ..web import viewer
from . import bp, services
from .models import Blob

# What a file that is not an image may do when opened: nothing (no script, no form, no
# plugin, no same-origin access), whatever a browser thinks it is.
SANDBOX_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"
IMAGE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def _member_key() -> str:
    user = viewer()
    return f"user:{user.id}" if user else f"ip:{request.remote_addr}"


upload_limit = limiter.shared_limit(
    lambda: str(current_app.config["RATELIMIT_UPLOAD"]),
    scope="uploads",
    key_func=_member_key,
    methods=["POST"],
)


def _disposition(kind: str, name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def send(served: services.Served, name: str, *, cache: str = "private, max-age=300") -> Response:
    """The bytes with the headers that keep them inert: nosniff always (forum.web), a sandbox
    and "attachment" for anything but an image; through nginx (X-Accel-Redirect) when it is
    set up and the bytes are on this machine."""
    store = services.storage()
    etag = served.key.rsplit("/", 1)[-1]
    content_type = served.content_type
    if content_type == "text/plain":
        content_type = "text/plain; charset=utf-8"
    accel = current_app.config.get("UPLOADS_ACCEL_PREFIX")
    path = store.local_path(served.key)
    if request.if_none_match and etag in request.if_none_match:
        response = Response(status=304)
    elif accel and path is not None:
        response = Response(status=200)
        response.headers["X-Accel-Redirect"] = accel.rstrip("/") + "/" + served.key
    else:
        try:
            body = store.open(served.key)
        except FileNotFoundError:
            raise_missing()
        response = Response(_chunks(body), mimetype=content_type, direct_passthrough=True)
        if path is not None:
            response.content_length = path.stat().st_size
        elif served.key.endswith(served.blob.sha256):
            response.content_length = served.blob.size
    response.headers["Content-Type"] = content_type
    response.set_etag(etag)
    response.headers["Cache-Control"] = cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    if served.is_image:
        response.headers["Content-Disposition"] = _disposition("inline", name)
        response.headers["Content-Security-Policy"] = IMAGE_CSP
    else:
        response.headers["Content-Disposition"] = _disposition("attachment", name)
        response.headers["Content-Security-Policy"] = SANDBOX_CSP
    return response


def raise_missing() -> None:
    from ..errors import NotFound
    from ..permissions import NO_SUCH_FILE

    raise NotFound(NO_SUCH_FILE)


def _chunks(body: Any) -> Any:
    try:
        while chunk := body.read(64 * 1024):
            yield chunk
    finally:
        body.close()


@bp.route("/files/<sha256>/<name>")
def serve(sha256: str, name: str) -> Any:
    size = request.args.get("s")
    served = services.open_file(viewer(), sha256, size if size in ("s", "m") else None)
    return send(served, name)


@bp.route("/files/upload", methods=["POST"])
@login_required
@upload_limit
def upload() -> Any:
    """The composer's drag-and-drop, paste and file input (JavaScript): one file, answered with
    its Markdown to insert at the cursor."""
    item = request.files.get("file")
    sig = request.form.get("sig", "")
    try:
        if item is None or not item.filename:
            raise Invalid("file", services.NO_FILE)
        made = services.upload_file(
            viewer(), int(sig) if sig.isdigit() else None, item.stream, item.filename
        )
    except ForumError as exc:
        return jsonify(
            {"error": {"status": exc.status_code, "field": "file", "message": str(exc.message)}}
        ), exc.status_code
    blob = db.session.get(Blob, made.sha256)
    return jsonify(
        {
            "upload": {
                "id": made.id,
                "name": made.name,
                "size": made.size,
                "url": services.file_url(made.sha256, made.name),
                "is_image": bool(blob and blob.is_image),
                "markdown": services.upload_markdown(made, blob),
            }
        }
    )


def filesize(size: int) -> str:
    """A file's size in the reader's language: "18 bytes", "340 KB", "2.5 MB"."""
    if size < 1024:
        return ngettext("%(num)s byte", "%(num)s bytes", size)
    if size < 1024 * 1024:
        return _("%(size)s KB", size=number(round(size / 1024)))
    return _("%(size)s MB", size=number(round(size / (1024 * 1024), 1)))


def topic_page_extras(page: Any) -> None:
    """Under each post, the files it holds that its text does not show (not images)."""
    rows = [row for row in page.posts if "/files/" in row.post.body_html]
    if not rows:
        return  # no query for the pages (nearly all) that show no file
    held = services.attachments_of(row.post.id for row in rows)
    after = page.extras.setdefault("after_post", {})
    for post_id, files in held.items():
        listed = [(u, b) for u, b in files if not b.is_image]
        if listed:
            after.setdefault(post_id, []).append(
                Markup(render_template("files/_attachments.html", files=listed))
            )


def init_templates(app: Flask) -> None:
    app.add_template_filter(filesize, "filesize")
    app.add_template_global(services.file_url, "file_url")

    @app.context_processor
    def files_context() -> dict[str, Any]:
        return {"uploads_enabled": hooks.uploads_enabled.get()}
