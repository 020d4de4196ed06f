"""File routes: serve a file to who may read it, take an upload from the composer (JSON),
members' pictures, SIG libraries."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy import select

from .. import hooks, permissions, ratelimits
from ..accounts.models import User
from ..errors import Forbidden, ForumError, Invalid, NotFound
from ..extensions import db
from ..i18n import gettext as _
from ..i18n import ngettext, number
from ..sigs.models import Sig
from ..web import flash_outcome, form_error, viewer
from . import avatars, bp, queries, services
from . import library as verbs
from .forms import (
    ActionForm,
    LibrarianForm,
    LibraryEditForm,
    LibraryUploadForm,
    SectionForm,
    VersionForm,
)
from .models import Blob, LibraryFile, LibrarySection
from .processing import clean_name
from .storage import key_for

# What a file that is not an image may do when opened: nothing (no script, no form, no
# plugin, no same-origin access), whatever a browser thinks it is.
SANDBOX_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"
IMAGE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def _disposition(kind: str, name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def send(
    served: services.Served,
    name: str,
    *,
    cache: str = "private, max-age=300",
    attachment: bool = False,
) -> Response:
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
    if served.is_image and not attachment:
        response.headers["Content-Disposition"] = _disposition("inline", name)
        response.headers["Content-Security-Policy"] = IMAGE_CSP
    else:
        response.headers["Content-Disposition"] = _disposition("attachment", name)
        response.headers["Content-Security-Policy"] = SANDBOX_CSP
    return response


def raise_missing() -> None:
    raise NotFound(permissions.NO_SUCH_FILE)


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
    # The name in the address is anyone's to write: the one sent back is cleaned, with an
    # extension that agrees with the bytes (a text file is never saved as page.html).
    return send(served, clean_name(name, served.blob.content_type))


@bp.route("/files/upload", methods=["POST"])
@login_required
@ratelimits.uploads
def upload() -> Any:
    """The composer's drag-and-drop, paste and file input (JavaScript): one file, answered with
    its Markdown to insert at the cursor."""
    item = request.files.get("file")
    sig = request.form.get("sig", "")
    try:
        if item is None or not item.filename:
            raise Invalid("file", services.NO_FILE)
        made = services.upload_file(
            viewer(), int(sig) if sig.isdecimal() else None, item.stream, item.filename
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

    app.add_template_global(avatars.avatar_of, "avatar_of")
    app.add_template_global(composer_upload_notes, "composer_upload_notes")

    @app.context_processor
    def files_context() -> dict[str, Any]:
        return {
            "uploads_enabled": hooks.uploads_enabled.get(),
            "can_reset_avatar": lambda member: permissions.can_reset_avatar(viewer(), member),
        }


def composer_upload_notes(sig_id: int | None) -> tuple[str | None, str | None]:
    """What the composer says of uploads before a file is picked: why the viewer may not upload
    at all (said instead of the picker), and why they may attach no image (said beside it),
    each None when the policy allows it (forum.permissions decides both)."""
    user = viewer()
    sig = permissions.get_sig_by_id_for(user, sig_id) if sig_id is not None else None
    blocked = permissions.upload_problem(user, sig)
    if blocked:
        return str(blocked), None
    return None, permissions.image_upload_problem(user, sig)


# --- SIG libraries ------------------------------------------------------------------------------
def _library_sig(slug: str) -> Sig:
    """The SIG of a library page: a 404 to who may not know it, a 403 (join to read) to who
    may not read a members-only SIG, as its topics are."""
    sig = permissions.get_sig_for(viewer(), slug)
    permissions.require_read_sig(viewer(), sig)
    return sig


def _entry(slug: str, file_id: int) -> tuple[LibraryFile, Sig]:
    sig = _library_sig(slug)
    entry, entry_sig = permissions.get_library_file_for(viewer(), file_id)
    if entry_sig.id != sig.id:
        raise NotFound(permissions.NO_SUCH_FILE)
    return entry, sig


def _section_choices(sig: Sig) -> list[tuple[int, str]]:
    sections = db.session.scalars(
        select(LibrarySection)
        .where(LibrarySection.sig_id == sig.id)
        .order_by(LibrarySection.position, LibrarySection.id)
    )
    return [(0, _("(no section)"))] + [(s.id, s.name) for s in sections]


def _page_number() -> int:
    page = request.args.get("page", "1")
    if not page.isdecimal() or not 0 < int(page) < 100_000:
        abort(404)
    return int(page)


@bp.route("/s/<slug>/library")
def library(slug: str) -> Any:
    sig = _library_sig(slug)
    section = request.args.get("section", "")
    page = queries.library_page(
        viewer(),
        sig,
        request.args.get("sort", "newest"),
        int(section) if section.isdecimal() and len(section) < 10 else None,
        _page_number(),
    )
    return render_template("files/library.html", page=page, sig=sig, action=ActionForm())


@bp.route("/s/<slug>/library/<int:file_id>")
def library_file(slug: str, file_id: int) -> Any:
    entry, sig = _entry(slug, file_id)
    page = queries.file_page(viewer(), entry, sig)
    form = LibraryEditForm(obj=None)
    if page.can_curate:
        form.section.choices = _section_choices(sig)
        form.section.data = entry.section_id or 0
        form.title.data = entry.title
        form.description.data = entry.description_raw
        form.keywords.data = entry.keywords
    return render_template(
        "files/library_file.html", page=page, sig=sig, form=form, version_form=VersionForm()
    )


@bp.route("/s/<slug>/library/<int:file_id>/download")
@bp.route("/s/<slug>/library/<int:file_id>/v/<int:number>/download")
def library_download(slug: str, file_id: int, number: int | None = None) -> Any:
    """A file's bytes: a 404 to whoever may not read it (no "join to read" page for a file)."""
    _entry_sig, sig = permissions.get_library_file_for(viewer(), file_id)
    if sig.slug != slug:
        raise NotFound(permissions.NO_SUCH_FILE)
    entry, version, blob = verbs.version_for_download(viewer(), file_id, number)
    served = services.Served(blob, key_for(blob.sha256), blob.content_type, blob.is_image)
    response = send(served, version.name, attachment=True)
    if response.status_code == 200:
        services.count_download(entry.id, version.id)
    return response


@bp.route("/s/<slug>/library/upload", methods=["GET", "POST"])
@login_required
@ratelimits.uploads
def library_upload(slug: str) -> Any:
    sig = _library_sig(slug)
    problem = permissions.library_upload_problem(viewer(), sig)
    if problem:
        raise Forbidden(problem)
    form = LibraryUploadForm()
    form.section.choices = _section_choices(sig)
    if request.method == "GET" and request.args.get("section", "").isdecimal():
        form.section.data = int(request.args["section"])
    status = 200
    if form.validate_on_submit():
        item = request.files.get("file")
        try:
            if item is None or not item.filename:
                raise Invalid("file", services.NO_FILE)
            entry = verbs.upload_to_library(
                viewer(),
                sig.id,
                form.section.data or None,
                form.title.data or "",
                form.description.data or "",
                form.keywords.data or "",
                item.stream,
                item.filename,
            )
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            if entry.is_pending:
                flash(_("Thank you: the file waits for a librarian to look at it."), "info")
            else:
                flash(_("The file is in the library."), "success")
            return redirect(url_for("files.library_file", slug=sig.slug, file_id=entry.id))
    elif request.method == "POST":
        status = 400
    return render_template("files/library_upload.html", sig=sig, form=form), status


def _curate(slug: str, file_id: int, action: Any, done: str) -> Any:
    entry, sig = _entry(slug, file_id)
    flash_outcome(lambda: action(entry), done)
    return redirect(url_for("files.library_file", slug=sig.slug, file_id=entry.id))


@bp.route("/s/<slug>/library/<int:file_id>/approve", methods=["POST"])
@login_required
def library_approve(slug: str, file_id: int) -> Any:
    return _curate(
        slug,
        file_id,
        lambda entry: verbs.approve_file(viewer(), entry.id),
        _("Approved: the file is in the library, and its discussion has begun."),
    )


@bp.route("/s/<slug>/library/<int:file_id>/reject", methods=["POST"])
@login_required
def library_reject(slug: str, file_id: int) -> Any:
    entry, sig = _entry(slug, file_id)
    if flash_outcome(lambda: verbs.reject_file(viewer(), entry.id), _("The file was turned away.")):
        return redirect(url_for("files.library", slug=sig.slug))
    return redirect(url_for("files.library_file", slug=sig.slug, file_id=entry.id))


@bp.route("/s/<slug>/library/<int:file_id>/retire", methods=["POST"])
@login_required
def library_retire(slug: str, file_id: int) -> Any:
    retire = request.form.get("value") != "restore"
    return _curate(
        slug,
        file_id,
        lambda entry: verbs.retire_file(viewer(), entry.id, retire),
        _("Retired: the file is out of the listings.") if retire else _("Back in the library."),
    )


@bp.route("/s/<slug>/library/<int:file_id>/edit", methods=["POST"])
@login_required
def library_edit(slug: str, file_id: int) -> Any:
    entry, sig = _entry(slug, file_id)
    permissions.require_curate_library(viewer(), sig)
    form = LibraryEditForm()
    form.section.choices = _section_choices(sig)
    if form.validate_on_submit():
        try:
            verbs.edit_file(
                viewer(),
                entry.id,
                form.title.data or "",
                form.description.data or "",
                form.keywords.data or "",
                form.section.data or None,
            )
        except ForumError as exc:
            status = form_error(form, exc)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("files.library_file", slug=sig.slug, file_id=entry.id))
    else:
        status = 400
    page = queries.file_page(viewer(), entry, sig)
    return render_template(
        "files/library_file.html", page=page, sig=sig, form=form, version_form=VersionForm()
    ), status


@bp.route("/s/<slug>/library/<int:file_id>/version", methods=["POST"])
@login_required
@ratelimits.uploads
def library_new_version(slug: str, file_id: int) -> Any:
    entry, sig = _entry(slug, file_id)
    form = VersionForm()
    if form.validate_on_submit():
        item = request.files.get("file")

        def add() -> None:
            if item is None or not item.filename:
                raise Invalid("file", services.NO_FILE)
            verbs.add_version(viewer(), entry.id, item.stream, item.filename, form.note.data or "")

        flash_outcome(add, _("The new version is the current one; the older ones are kept."))
    return redirect(url_for("files.library_file", slug=sig.slug, file_id=entry.id))


@bp.route("/s/<slug>/library/manage", methods=["GET", "POST"])
@login_required
def library_manage(slug: str) -> Any:
    sig = _library_sig(slug)
    permissions.require_manage_library(viewer(), sig)
    section_form = SectionForm(prefix="section")
    librarian_form = LibrarianForm(prefix="librarian")
    status = 200
    if request.method == "POST":
        what = request.form.get("what")
        if what == "section" and section_form.validate_on_submit():
            try:
                verbs.create_section(
                    viewer(),
                    sig.id,
                    section_form.name.data or "",
                    section_form.description.data or "",
                )
            except ForumError as exc:
                status = form_error(section_form, exc)
            else:
                flash(_("Section added."), "success")
                return redirect(url_for("files.library_manage", slug=sig.slug))
        elif what == "librarian" and librarian_form.validate_on_submit():
            try:
                member = verbs.appoint_librarian(
                    viewer(), sig.id, librarian_form.username.data or ""
                )
            except ForumError as exc:
                status = form_error(librarian_form, exc)
            else:
                flash(_("%(name)s is a librarian now.", name=member.username), "success")
                return redirect(url_for("files.library_manage", slug=sig.slug))
        else:
            status = 400
    page = queries.library_page(viewer(), sig)
    return render_template(
        "files/library_manage.html",
        sig=sig,
        page=page,
        librarians=queries.librarian_rows(sig),
        section_form=section_form,
        librarian_form=librarian_form,
    ), status


@bp.route("/s/<slug>/library/sections/<int:section_id>/delete", methods=["POST"])
@login_required
def library_delete_section(slug: str, section_id: int) -> Any:
    sig = _library_sig(slug)
    flash_outcome(
        lambda: verbs.delete_section(viewer(), sig.id, section_id),
        _("Section removed; its files are in the library still, in no section."),
    )
    return redirect(url_for("files.library_manage", slug=sig.slug))


@bp.route("/s/<slug>/library/librarians/<int:user_id>/dismiss", methods=["POST"])
@login_required
def library_dismiss(slug: str, user_id: int) -> Any:
    sig = _library_sig(slug)
    flash_outcome(
        lambda: verbs.dismiss_librarian(viewer(), sig.id, user_id),
        _("No longer a librarian here."),
    )
    return redirect(url_for("files.library_manage", slug=sig.slug))


# --- members' pictures --------------------------------------------------------------------------
@bp.route("/avatars/<sha256>/<int:size>.webp")
def avatar_image(sha256: str, size: int) -> Any:
    key = avatars.open_avatar(sha256, size)
    blob = Blob(sha256=sha256, size=0, content_type="image/webp", kind="image")
    served = services.Served(blob, key, "image/webp", True)
    # The address names the bytes: they never change, and anyone may see a member's picture.
    return send(served, f"{size}.webp", cache="public, max-age=31536000, immutable")


@bp.route("/settings/avatar", methods=["POST"])
@login_required
@ratelimits.uploads
def avatar() -> Any:
    item = request.files.get("file")

    def change() -> None:
        if item is None or not item.filename:
            raise Invalid("file", services.NO_FILE)
        avatars.set_avatar(viewer(), item.stream, item.filename)

    flash_outcome(change, _("Your picture is changed."))
    return redirect(url_for("accounts.settings") + "#avatar-h")


@bp.route("/u/<int:user_id>/avatar/reset", methods=["POST"])
@login_required
def avatar_reset(user_id: int) -> Any:
    flash_outcome(
        lambda: avatars.reset_avatar(viewer(), user_id), _("The picture is gone: the letter shows.")
    )
    user = viewer()
    if user is not None and user.id == user_id:
        return redirect(url_for("accounts.settings") + "#avatar-h")
    member = db.session.get(User, user_id)
    return redirect(url_for("accounts.profile", username=member.username) if member else "/")


def topic_page_avatars(page: Any) -> None:
    """The pictures of a topic page's authors (one query): templates/_avatar.html draws an
    author's `avatar_url` instead of their letter."""
    ids = [row.author.id for row in page.posts if row.author is not None]
    found = avatars.avatars_of(ids)
    for row in page.posts:
        if row.author is not None and row.author.id in found:
            row.author.avatar_url = url_for(
                "files.avatar_image", sha256=found[row.author.id], size=64
            )
