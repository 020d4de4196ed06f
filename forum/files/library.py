"""SIG library verbs: sections (the SIG's sysops), librarians (appointed by them), uploads that
wait for a librarian unless the uploader is trusted, approving (which starts the file's
discussion topic), editing, moving, retiring, new versions that keep the history and counts.
"""

from __future__ import annotations

import re
from typing import IO

from sqlalchemy import delete, func, select

from .. import content, events, permissions
from ..accounts.models import User
from ..db import lock_for_write, transaction
from ..errors import Conflict, Invalid, NotFound, require_at_most
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from ..sigs.models import Sig
from ..timeutil import utcnow
from ..topics import services as topics
from .models import (
    APPROVED,
    PENDING,
    RETIRED,
    Blob,
    Librarian,
    LibraryFile,
    LibrarySection,
    LibraryVersion,
)

MAX_TITLE = 200
MAX_KEYWORDS = 300
MAX_DESCRIPTION = 10_000
MAX_SECTIONS = 100
MAX_SECTION_NAME = 100
MAX_SECTION_DESCRIPTION = 500
MAX_VERSION_NOTE = 500


def _sig(actor: Actor, sig_id: int) -> Sig:
    sig = permissions.get_sig_by_id_for(actor, sig_id)
    permissions.require_read_sig(actor, sig)
    return sig


def _entry_in(actor: Actor, file_id: int) -> tuple[LibraryFile, Sig]:
    return permissions.get_library_file_for(actor, file_id)


# --- sections -----------------------------------------------------------------------------
def _check_section_name(name: str) -> str:
    name = " ".join(content.clean_text(name or "").split())
    if not name:
        raise Invalid("name", _l("Give the section a name."))
    require_at_most("name", name, MAX_SECTION_NAME, "name")
    return name


def create_section(actor: Actor, sig_id: int, name: str, description: str = "") -> LibrarySection:
    sig = _sig(actor, sig_id)
    permissions.require_manage_library(actor, sig)
    name = _check_section_name(name)
    description = " ".join(content.clean_text(description or "").split())
    require_at_most("description", description, MAX_SECTION_DESCRIPTION, "description")
    with transaction() as session:
        count = session.scalar(
            select(func.count()).select_from(LibrarySection).where(LibrarySection.sig_id == sig.id)
        )
        if (count or 0) >= MAX_SECTIONS:
            raise Invalid("name", _l("A library has at most %(num)s sections.", num=MAX_SECTIONS))
        section = LibrarySection(
            sig_id=sig.id, name=name, description=description, position=(count or 0) + 1
        )
        session.add(section)
    return section


def _section(sig: Sig, section_id: int | None) -> LibrarySection | None:
    if section_id is None:
        return None
    section = db.session.get(LibrarySection, section_id)
    if section is None or section.sig_id != sig.id:
        raise Invalid("section", _l("No such section in this library."))
    return section


def rename_section(actor: Actor, sig_id: int, section_id: int, name: str) -> LibrarySection:
    sig = _sig(actor, sig_id)
    permissions.require_manage_library(actor, sig)
    section = _section(sig, section_id)
    assert section is not None
    name = _check_section_name(name)
    with transaction():
        section.name = name
    return section


def delete_section(actor: Actor, sig_id: int, section_id: int) -> None:
    """Files in it stay in the library, in no section."""
    sig = _sig(actor, sig_id)
    permissions.require_manage_library(actor, sig)
    section = _section(sig, section_id)
    with transaction() as session:
        session.delete(section)


# --- librarians ---------------------------------------------------------------------------
def appoint_librarian(actor: Actor, sig_id: int, username: str) -> User:
    sig = _sig(actor, sig_id)
    permissions.require_manage_library(actor, sig)
    assert actor is not None
    name = (username or "").strip().lstrip("@")
    member = db.session.scalar(select(User).where(func.lower(User.username) == name.lower()))
    if member is None or not permissions.is_member(member, sig):
        raise Invalid("username", _l("%(name)s is not a member of this SIG.", name=name[:40]))
    if db.session.get(Librarian, (sig.id, member.id)) is not None:
        raise Conflict(_l("%(name)s is a librarian already.", name=member.username))
    with transaction() as session:
        session.add(Librarian(sig_id=sig.id, user_id=member.id, appointed_by_id=actor.id))
    permissions.forget_librarians(member)
    return member


def dismiss_librarian(actor: Actor, sig_id: int, user_id: int) -> None:
    sig = _sig(actor, sig_id)
    permissions.require_manage_library(actor, sig)
    row = db.session.get(Librarian, (sig.id, user_id))
    if row is None:
        raise NotFound(_l("No such librarian."))
    with transaction() as session:
        session.delete(row)


def librarians(sig_id: int) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(Librarian, Librarian.user_id == User.id)
            .where(Librarian.sig_id == sig_id)
            .order_by(func.lower(User.username))
        )
    )


# --- files --------------------------------------------------------------------------------
def _check_entry(title: str, description: str, keywords: str) -> tuple[str, str, str]:
    title = " ".join(content.clean_text(title or "").split())
    if len(title) < 3:
        raise Invalid("title", _l("Give the file a title of at least 3 characters."))
    require_at_most("title", title, MAX_TITLE, "title")
    description = content.clean_text(description or "").strip()
    require_at_most("description", description, MAX_DESCRIPTION, "description")
    words = [w for w in re.split(r"[\s,;]+", content.clean_text(keywords or "").lower()) if w]
    keywords = " ".join(dict.fromkeys(words))
    require_at_most("keywords", keywords, MAX_KEYWORDS, "keywords")
    return title, description, keywords


def _prepare_upload(actor: User, sig: Sig, stream: IO[bytes], filename: str):  # noqa: ANN202
    from . import services

    prepared = services.prepare(services.read_limited(stream, services.max_bytes()), filename)
    services.check_quota(actor.id, sig.id, prepared.size)
    return prepared


def upload_to_library(
    actor: Actor,
    sig_id: int,
    section_id: int | None,
    title: str,
    description: str,
    keywords: str,
    stream: IO[bytes],
    filename: str,
) -> LibraryFile:
    """A member puts a file in the SIG's library. It waits for a librarian unless the uploader
    is trusted there (a librarian or sysop), in which case it is approved at once."""
    from . import services

    sig = _sig(actor, sig_id)
    permissions.require_library_upload(actor, sig)
    assert actor is not None
    section = _section(sig, section_id)
    title, description, keywords = _check_entry(title, description, keywords)
    prepared = _prepare_upload(actor, sig, stream, filename)
    cooked = content.render(description) if description else None
    trusted = permissions.library_upload_trusted(actor, sig)
    services._keep_bytes(prepared)
    with transaction() as session:
        services._keep_blob_row(prepared)
        now = utcnow()
        entry = LibraryFile(
            sig_id=sig.id,
            section_id=section.id if section else None,
            title=title,
            description_raw=description,
            description_html=cooked.html if cooked else "",
            keywords=keywords,
            uploader_id=actor.id,
            status=PENDING,
            created_at=now,
            updated_at=now,
        )
        session.add(entry)
        session.flush()
        version = LibraryVersion(
            file_id=entry.id,
            sig_id=sig.id,
            number=1,
            sha256=prepared.sha256,
            name=prepared.name,
            size=prepared.size,
            uploader_id=actor.id,
            created_at=now,
        )
        session.add(version)
        session.flush()
        entry.current_version_id = version.id
        events.publish(
            events.LibraryFileAdded(
                file_id=entry.id,
                version_id=version.id,
                sig_id=sig.id,
                uploader_id=actor.id,
                approved=trusted,
            )
        )
        if trusted:
            _approve_in_tx(actor, entry, sig)
    return entry


def _discussion_author(entry: LibraryFile, sig: Sig, approver: User) -> User:
    """The uploader starts the file's topic when they may post in the SIG, else the approver."""
    uploader = db.session.get(User, entry.uploader_id) if entry.uploader_id else None
    if uploader is not None and permissions.post_problem(uploader, sig) is None:
        return uploader
    return approver


def _discussion_body(entry: LibraryFile, sig: Sig) -> str:
    link = f"/s/{sig.slug}/library/{entry.id}"
    version = db.session.get(LibraryVersion, entry.current_version_id)
    name = version.name if version else entry.title
    label = re.sub(r"([\[\]\\`*_<>])", r"\\\1", name)
    text = entry.description_raw.strip()
    return (text + "\n\n" if text else "") + f"📁 [{label}]({link})"


def _approve_in_tx(actor: User, entry: LibraryFile, sig: Sig) -> None:
    now = utcnow()
    entry.status = APPROVED
    entry.approved_at = now
    entry.approved_by_id = actor.id
    entry.updated_at = now
    if entry.topic_id is None:
        author = _discussion_author(entry, sig, actor)
        topic = topics.start_topic(author, sig.id, entry.title, _discussion_body(entry, sig))
        entry.topic_id = topic.id
    events.publish(
        events.LibraryFileChanged(
            file_id=entry.id, sig_id=sig.id, actor_id=actor.id, change="approved"
        )
    )


def _curated(actor: Actor, file_id: int) -> tuple[LibraryFile, Sig, User]:
    entry, sig = _entry_in(actor, file_id)
    permissions.require_curate_library(actor, sig)
    assert actor is not None
    return entry, sig, actor


def approve_file(actor: Actor, file_id: int) -> LibraryFile:
    """A librarian (or a sysop) lets a waiting file into the library; its discussion topic
    starts."""
    entry, sig, user = _curated(actor, file_id)
    if entry.status != PENDING:
        raise Conflict(_l("This file is in the library already."))
    with transaction():
        lock_for_write(LibraryFile, entry.id)
        if entry.status != PENDING:
            raise Conflict(_l("This file is in the library already."))
        _approve_in_tx(user, entry, sig)
    return entry


def reject_file(actor: Actor, file_id: int) -> None:
    """A waiting file is turned away: gone from the library (its bytes reaped later)."""
    entry, sig, user = _curated(actor, file_id)
    if entry.status != PENDING:
        raise Conflict(_l("Only a file that waits for a librarian can be turned away."))
    with transaction() as session:
        entry.current_version_id = None
        session.flush()
        session.execute(delete(LibraryVersion).where(LibraryVersion.file_id == entry.id))
        session.execute(delete(LibraryFile).where(LibraryFile.id == entry.id))
        session.expunge(entry)
        events.publish(
            events.LibraryFileChanged(
                file_id=file_id, sig_id=sig.id, actor_id=user.id, change="rejected"
            )
        )


def edit_file(
    actor: Actor,
    file_id: int,
    title: str,
    description: str,
    keywords: str,
    section_id: int | None,
) -> LibraryFile:
    """Librarians edit the title, the description, the keywords and move it between sections."""
    entry, sig, user = _curated(actor, file_id)
    title, description, keywords = _check_entry(title, description, keywords)
    section = _section(sig, section_id)
    cooked = content.render(description) if description else None
    with transaction():
        moved = entry.section_id != (section.id if section else None)
        entry.title = title
        entry.description_raw = description
        entry.description_html = cooked.html if cooked else ""
        entry.keywords = keywords
        entry.section_id = section.id if section else None
        entry.updated_at = utcnow()
        events.publish(
            events.LibraryFileChanged(
                file_id=entry.id,
                sig_id=sig.id,
                actor_id=user.id,
                change="moved" if moved else "edited",
            )
        )
    return entry


def retire_file(actor: Actor, file_id: int, retire: bool = True) -> LibraryFile:
    """Take a file out of the listings (it stays for its discussion's links and for the
    librarians), or bring it back."""
    entry, sig, user = _curated(actor, file_id)
    if entry.status == PENDING:
        raise Conflict(_l("Approve or turn away a waiting file first."))
    with transaction():
        entry.status = RETIRED if retire else APPROVED
        entry.updated_at = utcnow()
        events.publish(
            events.LibraryFileChanged(
                file_id=entry.id,
                sig_id=sig.id,
                actor_id=user.id,
                change="retired" if retire else "restored",
            )
        )
    return entry


def add_version(
    actor: Actor, file_id: int, stream: IO[bytes], filename: str, note: str = ""
) -> LibraryVersion:
    """A new version: it becomes the current one; the ones before are retired but kept, with
    their downloads, in the file's history (the file's count goes on)."""
    from . import services

    entry, sig, user = _curated(actor, file_id)
    note = " ".join(content.clean_text(note or "").split())
    require_at_most("note", note, MAX_VERSION_NOTE, "note")
    prepared = _prepare_upload(user, sig, stream, filename)
    services._keep_bytes(prepared)
    with transaction() as session:
        lock_for_write(LibraryFile, entry.id)
        now = utcnow()
        number = (
            session.scalar(
                select(func.max(LibraryVersion.number)).where(LibraryVersion.file_id == entry.id)
            )
            or 0
        ) + 1
        services._keep_blob_row(prepared)
        for older in session.scalars(
            select(LibraryVersion).where(
                LibraryVersion.file_id == entry.id, LibraryVersion.retired_at.is_(None)
            )
        ):
            older.retired_at = now
        version = LibraryVersion(
            file_id=entry.id,
            sig_id=sig.id,
            number=number,
            sha256=prepared.sha256,
            name=prepared.name,
            size=prepared.size,
            note=note,
            uploader_id=user.id,
            created_at=now,
        )
        session.add(version)
        session.flush()
        entry.current_version_id = version.id
        entry.updated_at = now
        events.publish(
            events.LibraryFileAdded(
                file_id=entry.id,
                version_id=version.id,
                sig_id=sig.id,
                uploader_id=user.id,
                approved=entry.status == APPROVED,
            )
        )
    return version


def version_for_download(
    actor: Actor, file_id: int, number: int | None = None
) -> tuple[LibraryFile, LibraryVersion, Blob]:
    """The version a reader downloads (the current one by default)."""
    entry, _sig_ = _entry_in(actor, file_id)
    if number is None:
        version = db.session.get(LibraryVersion, entry.current_version_id)
    else:
        version = db.session.scalar(
            select(LibraryVersion).where(
                LibraryVersion.file_id == entry.id, LibraryVersion.number == number
            )
        )
    blob = db.session.get(Blob, version.sha256) if version is not None else None
    if version is None or blob is None:
        raise NotFound(permissions.NO_SUCH_FILE)
    return entry, version, blob
