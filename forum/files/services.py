"""Upload verbs: keep a file for a post, let posts claim the files they show, serve a file to
those who may read it, count library downloads, reap what nothing uses.

Bytes go to the storage before the rows that name them commit (a row never names bytes that
are not there); a failed upload leaves at most bytes no row names, under their content
address, which the next upload of the same bytes reuses.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any
from urllib.parse import quote

from flask import Flask, current_app
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from .. import jobs, permissions, settings
from ..db import on_commit, transaction, upsert
from ..errors import Forbidden, Invalid, NotFound
from ..extensions import db
from ..hooks import AppSlot
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from ..timeutil import utcnow
from ..topics.models import Post
from . import processing
from .models import KIND_IMAGE, Avatar, Blob, LibraryFile, LibraryVersion, Upload
from .processing import Limits, Processed, Refused
from .storage import Storage, from_config, key_for

log = logging.getLogger(__name__)

SHA_RE = re.compile(r"^[0-9a-f]{64}$")
# A file's address in a post's Markdown: /files/<sha256>/<name>.
FILE_URL_RE = re.compile(r"/files/([0-9a-f]{64})/")
# Never accepted, whatever the allow-list says: they are pages or programs.
NEVER = frozenset(
    {"text/html", "image/svg+xml", "application/x-msdownload", "application/x-executable"}
)
IMAGE_TYPES = frozenset(processing.IMAGE_FORMATS.values())
NO_FILE = _l("Choose a file to upload.")

_STORAGE: AppSlot[Storage] = AppSlot("forum.files.storage")


def storage() -> Storage:
    """This app's store (UPLOADS_URL), made on first use."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return _STORAGE.setdefault(
        app,
        lambda: from_config(
            app.config.get("UPLOADS_URL"),
            app.instance_path,
            app.config.get("UPLOADS_S3_ENDPOINT"),
            app.config.get("UPLOADS_S3_REGION"),
        ),
    )


def limits() -> Limits:
    config = current_app.config
    return Limits(
        max_bytes=max_bytes(),
        max_pixels=int(config["IMAGE_MAX_PIXELS"]),
        max_side=int(config["IMAGE_MAX_SIDE"]),
        max_frames=int(config["IMAGE_MAX_FRAMES"]),
    )


def max_bytes() -> int:
    return max(1, settings.get_int("upload_max_mb")) * 1024 * 1024


def allowed_types() -> set[str]:
    return set(str(settings.get("upload_types") or "").split()) - NEVER


def _refusal(exc: Refused) -> Invalid:
    """The member's words for why the file was refused."""
    config = current_app.config
    messages = {
        "undecodable": _l("The image could not be read: it is damaged, or not an image."),
        "format": _l("Only PNG, JPEG, GIF and WebP images are accepted."),
        "side": _l(
            "The image is too wide or too tall: at most %(side)s pixels a side.",
            side=config["IMAGE_MAX_SIDE"],
        ),
        "pixels": _l(
            "The image has too many pixels: at most %(millions)s million.",
            millions=int(config["IMAGE_MAX_PIXELS"]) // 1_000_000,
        ),
        "frames": _l(
            "The animation has too many frames: at most %(frames)s.",
            frames=config["IMAGE_MAX_FRAMES"],
        ),
    }
    return Invalid("file", messages.get(exc.code, _l("The file could not be read.")))


@dataclass
class Prepared:
    """A file checked and made ready to keep: its address, cleaned name and bytes."""

    sha256: str
    name: str
    processed: Processed

    @property
    def size(self) -> int:
        return len(self.processed.data)


def read_limited(stream: IO[bytes], limit: int) -> bytes:
    """Read at most `limit` bytes; a longer file is refused before more of it is read."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise Invalid(
            "file",
            _l("The file is larger than %(mb)s MB.", mb=limit // (1024 * 1024) or 1),
        )
    return data


def prepare(data: bytes, name: str, *, images_only: bool = False) -> Prepared:
    """Sniff, check against the allow-list, re-encode an image: what would be kept."""
    if not data:
        raise Invalid("file", _l("The file is empty."))
    if len(data) > max_bytes():
        raise Invalid(
            "file", _l("The file is larger than %(mb)s MB.", mb=settings.get_int("upload_max_mb"))
        )
    found = processing.sniff(data[:4096])
    if found in ("text/html", "image/svg+xml"):
        raise Invalid("file", _l("HTML and SVG files are not accepted: they can carry scripts."))
    if images_only and found not in IMAGE_TYPES:
        raise Invalid("file", _l("Only PNG, JPEG, GIF and WebP images are accepted."))
    if found not in allowed_types():
        raise Invalid(
            "file", _l("Files of this type (%(type)s) are not accepted here.", type=found)
        )
    try:
        if found in IMAGE_TYPES:
            processed = processing.process_image(data, limits())
        else:
            processed = Processed(data=data, content_type=found, kind="file")
    except Refused as exc:
        raise _refusal(exc) from exc
    sha = hashlib.sha256(processed.data).hexdigest()
    return Prepared(sha, processing.clean_name(name, processed.content_type), processed)


def _keep_bytes(prepared: Prepared) -> None:
    """Thumbnails first, the file last: a file in the store has its thumbnails beside it."""
    store = storage()
    for size, data in prepared.processed.thumbs.items():
        store.put(key_for(prepared.sha256, f"{size}.webp"), data, "image/webp")
    store.put(key_for(prepared.sha256), prepared.processed.data, prepared.processed.content_type)


def _keep_blob_row(prepared: Prepared) -> None:
    p = prepared.processed
    upsert(
        Blob,
        {
            "sha256": prepared.sha256,
            "size": prepared.size,
            "content_type": p.content_type,
            "kind": p.kind,
            "width": p.width,
            "height": p.height,
            "thumbs": ",".join(sorted(p.thumbs)),
            "created_at": utcnow(),
        },
        index_elements=["sha256"],
    )


def used_bytes(user_id: int | None = None, sig_id: int | None = None) -> int:
    """What one member's uploads, or one SIG's, take (posts' files and library versions)."""
    if user_id is not None:
        posts = select(func.coalesce(func.sum(Upload.size), 0)).where(Upload.user_id == user_id)
        library = select(func.coalesce(func.sum(LibraryVersion.size), 0)).where(
            LibraryVersion.uploader_id == user_id
        )
    else:
        posts = select(func.coalesce(func.sum(Upload.size), 0)).where(Upload.sig_id == sig_id)
        library = select(func.coalesce(func.sum(LibraryVersion.size), 0)).where(
            LibraryVersion.sig_id == sig_id
        )
    return int(db.session.scalar(posts) or 0) + int(db.session.scalar(library) or 0)


def check_quota(user_id: int, sig_id: int | None, size: int) -> None:
    member_mb = settings.get_int("upload_quota_member_mb")
    if member_mb and used_bytes(user_id=user_id) + size > member_mb * 1024 * 1024:
        raise Invalid(
            "file",
            _l("This upload would take you past your %(mb)s MB of uploads.", mb=member_mb),
        )
    sig_mb = settings.get_int("upload_quota_sig_mb")
    if sig_id is not None and sig_mb and used_bytes(sig_id=sig_id) + size > sig_mb * 1024 * 1024:
        raise Invalid(
            "file", _l("This upload would take the SIG past its %(mb)s MB of uploads.", mb=sig_mb)
        )


def keep(prepared: Prepared) -> None:
    """Put the bytes in the store and their row in the current transaction."""
    _keep_bytes(prepared)
    _keep_blob_row(prepared)


def upload_file(actor: Actor, sig_id: int | None, stream: IO[bytes], name: str) -> Upload:
    """Keep a file a member uploads for a post in a SIG (sig_id None: a private place such as
    their settings). It belongs to no post until a post shows its address."""
    sig = permissions.get_sig_by_id_for(actor, sig_id) if sig_id is not None else None
    if sig is not None:
        permissions.require_read_sig(actor, sig)
    permissions.require_upload(actor, sig)
    assert actor is not None
    prepared = prepare(read_limited(stream, max_bytes()), name)
    # A new account that may show no image in a post is told so now, not when it posts (the
    # trust levels' limit; a post with more images than it may hold is refused by
    # topics.services through the same policy).
    problem = permissions.image_upload_problem(actor, sig)
    if prepared.processed.kind == KIND_IMAGE and problem:
        raise Forbidden(problem)
    check_quota(actor.id, sig.id if sig else None, prepared.size)
    _keep_bytes(prepared)
    with transaction() as session:
        _keep_blob_row(prepared)
        upload = Upload(
            sha256=prepared.sha256,
            user_id=actor.id,
            sig_id=sig.id if sig else None,
            name=prepared.name,
            size=prepared.size,
        )
        session.add(upload)
    return upload


def upload_markdown(upload: Upload, blob: Blob | None = None) -> str:
    """What the composer inserts: an image, or a link to the file."""
    blob = blob or db.session.get(Blob, upload.sha256)
    label = re.sub(r"([\[\]\\`*_<>])", r"\\\1", upload.name)
    url = file_url(upload.sha256, upload.name)
    if blob is not None and blob.kind == KIND_IMAGE:
        return f"![{label}]({url})"
    return f"[{label}]({url})"


def file_url(sha256: str, name: str) -> str:
    return f"/files/{sha256}/{quote(name, safe='')}"


def attach_to_body(actor: Actor, sig_id: int, files: list[Any], body: str) -> str:
    """The no-JavaScript composer: keep each chosen file and add its Markdown to the text.
    (hooks.attach_files; `files` are Werkzeug FileStorage objects, empty ones skipped.)"""
    chosen = [f for f in files if getattr(f, "filename", "")]
    if not chosen:
        return body
    lines = []
    for item in chosen:
        upload = upload_file(actor, sig_id, item.stream, item.filename or "file")
        lines.append(upload_markdown(upload))
    text = (body or "").rstrip()
    return (text + "\n\n" if text else "") + "\n".join(lines) + "\n"


# --- posts claim the files they show --------------------------------------------------------
def referenced_files(raw: str) -> list[str]:
    found: list[str] = []
    for sha in FILE_URL_RE.findall(raw or ""):
        if sha not in found:
            found.append(sha)
    return found


def claim_for_post(post_id: int, *, new: bool = False) -> None:
    """Inside the post's transaction: the post owns an upload of each file its text shows that
    its author uploaded; uploads it no longer shows are let go (reaped after a day unless a
    post claims them again). A file the author never uploaded (an address copied from another
    post) is claimed by nothing here, so it is readable only where its own post is.

    `new`: the post was written in this transaction, so it holds no upload yet (and a new post
    that shows no file costs no statement)."""
    post = db.session.get(Post, post_id)
    if post is None or post.user_id is None:
        return
    wanted = referenced_files(post.body_raw)
    if new and not wanted:
        return
    now = utcnow()
    held = [] if new else list(db.session.scalars(select(Upload).where(Upload.post_id == post.id)))
    for upload in held:
        if upload.sha256 not in wanted:
            upload.post_id = None
            upload.updated_at = now
    have = {u.sha256 for u in held if u.sha256 in wanted}
    missing = [sha for sha in wanted if sha not in have]
    if not missing:
        return
    own = list(
        db.session.scalars(
            select(Upload)
            .where(Upload.user_id == post.user_id, Upload.sha256.in_(missing))
            .order_by(Upload.post_id.is_not(None), Upload.id)
        )
    )
    for sha in missing:
        candidates = [u for u in own if u.sha256 == sha]
        if not candidates:
            continue
        first = candidates[0]
        if first.post_id is None:
            first.post_id = post.id
            first.updated_at = now
        else:
            # Shown by another of the author's posts too: each post holds an upload of its own,
            # so deleting one post leaves the other's file in place.
            db.session.add(
                Upload(
                    sha256=sha,
                    user_id=post.user_id,
                    sig_id=first.sig_id,
                    post_id=post.id,
                    name=first.name,
                    size=0,  # counted once, in the quota, by the first upload
                    updated_at=now,
                )
            )


# --- reading ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Served:
    """What the view sends: the blob, the storage key and type of the variant asked for."""

    blob: Blob
    key: str
    content_type: str
    is_image: bool


def open_file(actor: Actor, sha256: str, size: str | None = None) -> Served:
    """The file at /files/<sha256>/…, for a reader who may read it; NotFound otherwise, the same
    as for bytes never uploaded."""
    if not SHA_RE.match(sha256 or "") or not permissions.can_read_file(actor, sha256):
        raise NotFound(permissions.NO_SUCH_FILE)
    return _served(sha256, size)


def _served(sha256: str, size: str | None) -> Served:
    blob = db.session.get(Blob, sha256)
    if blob is None:
        raise NotFound(permissions.NO_SUCH_FILE)
    if size and blob.is_image and blob.has_thumb(size):
        return Served(blob, key_for(sha256, f"{size}.webp"), "image/webp", True)
    return Served(blob, key_for(sha256), blob.content_type, blob.is_image)


def attachments_of(post_ids: Iterable[int]) -> dict[int, list[tuple[Upload, Blob]]]:
    """The files each post holds (one query), in the order they were uploaded."""
    ids = sorted(set(post_ids))
    if not ids:
        return {}
    found: dict[int, list[tuple[Upload, Blob]]] = {}
    rows = db.session.execute(
        select(Upload, Blob)
        .join(Blob, Blob.sha256 == Upload.sha256)
        .where(Upload.post_id.in_(ids))
        .order_by(Upload.id)
    )
    for upload, blob in rows:
        assert upload.post_id is not None
        found.setdefault(upload.post_id, []).append((upload, blob))
    return found


def image_sizes(shas: set[str]) -> dict[str, tuple[int, int, bool]]:
    """For the content pipeline: each known image's width, height and whether it has a medium
    thumbnail (content.render's image resolver)."""
    wanted = sorted(s for s in shas if SHA_RE.match(s))
    if not wanted:
        return {}
    return {
        b.sha256: (b.width or 0, b.height or 0, b.has_thumb("m"))
        for b in db.session.scalars(
            select(Blob).where(Blob.sha256.in_(wanted), Blob.kind == KIND_IMAGE)
        )
    }


# --- library downloads, counted in memory and written in batches -----------------------------
class DownloadCounts:
    """Downloads per library version not yet written: a download (a GET) writes no row. A
    thread of the process writes them DOWNLOAD_FLUSH_SECONDS after the first one it holds, all
    in one transaction; a write that fails keeps them for the next try, and the process writes
    what it holds when it exits, once the thread's write in progress is done (stop). Only a
    process killed outright loses counts: at most that many seconds of them.
    DOWNLOAD_FLUSH_SECONDS = 0 writes each download in its own request."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.pending: dict[tuple[int, int], int] = {}
        self.lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, file_id: int, version_id: int) -> None:
        with self.lock:
            key = (file_id, version_id)
            self.pending[key] = self.pending.get(key, 0) + 1
        if float(self.app.config["DOWNLOAD_FLUSH_SECONDS"]) <= 0:
            try:
                self.write()
            except SQLAlchemyError as exc:  # the download goes on; the count waits for the next
                log.warning("could not write library download counts (kept for later): %s", exc)
                db.session.rollback()
            return
        self._ensure_writer()
        self._wake.set()

    def take(self) -> dict[tuple[int, int], int]:
        with self.lock:
            taken, self.pending = self.pending, {}
            return taken

    def put_back(self, counts: dict[tuple[int, int], int]) -> None:
        with self.lock:
            for key, n in counts.items():
                self.pending[key] = self.pending.get(key, 0) + n

    def write(self) -> int:
        """Write what is held in one transaction; how many downloads that was. A failed write
        puts them back and raises."""
        taken = self.take()
        if not taken:
            return 0
        try:
            _write_downloads(taken)
        except BaseException:
            self.put_back(taken)
            raise
        return sum(taken.values())

    def _ensure_writer(self) -> None:
        """Start the writer, once in each process (a forked worker starts its own), and again
        after a stop."""
        if self._pid == os.getpid():
            return
        with self.lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="forum-downloads", daemon=True
            )
            self._thread.start()
            atexit.unregister(self.stop)  # (once, whether or not a parent process registered)
            atexit.register(self.stop)

    def stop(self, timeout: float = 30.0) -> bool:
        """End the writer once its write in progress is done, then write what is held here;
        a later download starts another writer. At exit (gunicorn's worker exit included), and
        before an app's connection pool is closed (tests/conftest.py): the thread, a daemon, is
        otherwise cut off mid-write at exit, the counts it took lost and its connection never
        closed, or gives its connection back to a closed pool. Whether the thread ended within
        `timeout`."""
        with self.lock:
            thread, self._thread = self._thread, None
            self._pid = 0
            self._stop.set()
        self._wake.set()
        ended = True
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            ended = not thread.is_alive()
        self._write_in_app()
        return ended

    def _run(self, stop: threading.Event) -> None:
        while True:
            self._wake.wait()
            # A stop cuts the wait short: stop() writes what is held once this thread is gone.
            if stop.wait(float(self.app.config["DOWNLOAD_FLUSH_SECONDS"])):
                return
            self._wake.clear()
            if not self._write_in_app():
                self._wake.set()  # kept: tried again after another wait

    def _write_in_app(self) -> bool:
        try:
            with self.app.app_context():
                try:
                    self.write()
                finally:
                    db.session.remove()
        except Exception as exc:  # noqa: BLE001 - the counts are kept; the thread must live on
            log.warning("could not write library download counts (kept for later): %s", exc)
            return False
        return True


_DOWNLOADS: AppSlot[DownloadCounts] = AppSlot("forum.files.downloads")


def _downloads() -> DownloadCounts:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return _DOWNLOADS.setdefault(app, lambda: DownloadCounts(app))


def count_download(file_id: int, version_id: int) -> None:
    _downloads().add(file_id, version_id)


def stop_download_writer(app: Flask, timeout: float = 30.0) -> bool:
    """Stop the app's download count writer, if it runs one, after its write in progress, and
    write what it holds (DownloadCounts.stop): before its connection pool is closed
    (tests/conftest.py). Whether the thread ended in time."""
    counts = _DOWNLOADS.get(app)
    return counts is None or counts.stop(timeout)


def flush_downloads() -> int:
    """Write the downloads this process holds now (a test; the writer does it otherwise)."""
    return _downloads().write()


def _write_downloads(counts: dict[tuple[int, int], int]) -> None:
    per_file: dict[int, int] = {}
    with transaction():
        for (file_id, version_id), n in sorted(counts.items()):
            db.session.execute(
                update(LibraryVersion)
                .where(LibraryVersion.id == version_id)
                .values(download_count=LibraryVersion.download_count + n)
            )
            per_file[file_id] = per_file.get(file_id, 0) + n
        for file_id, n in sorted(per_file.items()):
            db.session.execute(
                update(LibraryFile)
                .where(LibraryFile.id == file_id)
                .values(download_count=LibraryFile.download_count + n)
            )


# --- reaping ----------------------------------------------------------------------------------
def _blob_in_use(sha_column: Any) -> Any:
    return (
        exists().where(Upload.sha256 == sha_column)
        | exists().where(LibraryVersion.sha256 == sha_column)
        | exists().where(Avatar.sha256 == sha_column)
    )


def _forget_bytes(shas: list[str]) -> None:
    """After the commit that dropped their rows: remove the bytes, unless a new upload of the
    same bytes has brought a row back meanwhile."""
    if not shas:
        return
    back = set(db.session.scalars(select(Blob.sha256).where(Blob.sha256.in_(shas))))
    back |= set(db.session.scalars(select(Avatar.sha256).where(Avatar.sha256.in_(shas))))
    store = storage()
    for sha in shas:
        if sha in back:
            continue
        for variant in ("", "s.webp", "m.webp"):
            store.delete(key_for(sha, variant))
        for size in processing.AVATAR_SIZES:
            store.delete(key_for(sha, f"a{size}.webp"))


def _removed(result: Any) -> int:
    """The rows a DELETE removed (a CursorResult's rowcount; Result does not type it)."""
    return int(result.rowcount or 0)


def reap(now: Any = None) -> dict[str, int]:
    """Uploads no post claimed for UPLOAD_ORPHAN_HOURS, and those of posts deleted that long
    ago, go; then every file nothing uses any more, with its bytes."""
    now = now or utcnow()
    cutoff = now - timedelta(hours=float(current_app.config["UPLOAD_ORPHAN_HOURS"]))
    with transaction() as session:
        orphans = _removed(
            session.execute(
                delete(Upload).where(Upload.post_id.is_(None), Upload.updated_at < cutoff)
            )
        )
        deleted_posts = select(Post.id).where(
            Post.deleted_at.is_not(None), Post.deleted_at < cutoff
        )
        of_deleted = _removed(
            session.execute(delete(Upload).where(Upload.post_id.in_(deleted_posts)))
        )
        unused = list(
            session.scalars(
                select(Blob.sha256).where(Blob.created_at < cutoff, ~_blob_in_use(Blob.sha256))
            )
        )
        if unused:
            session.execute(delete(Blob).where(Blob.sha256.in_(unused), ~_blob_in_use(Blob.sha256)))
            on_commit(lambda: _forget_bytes(unused))
    # A write cut off by a killed process leaves a temporary file beside the keys.
    partial = storage().sweep_partial((now - cutoff).total_seconds())
    if orphans or of_deleted or unused or partial:
        log.info(
            "files reaped: %d unclaimed uploads, %d of deleted posts, %d files, %d partial writes",
            orphans,
            of_deleted,
            len(unused),
            partial,
        )
    return {"orphans": orphans, "deleted_posts": of_deleted, "files": len(unused)}


@jobs.periodic(jobs.crontab(minute="17"))
def reap_files() -> dict[str, int]:
    """Hourly, in the jobs worker: the reaper."""
    return reap()


def forget_member_in_tx(user_id: int) -> None:
    """The member deleted their account: their picture goes, in that transaction (its bytes
    with the next reap, when nothing else uses them). Their uploads stay with their posts."""
    db.session.execute(delete(Avatar).where(Avatar.user_id == user_id))
