"""Read models of the library pages, library search and the pulse's library figures: each in
a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from .. import permissions
from ..accounts.models import User
from ..accounts.queries import iso
from ..extensions import db
from ..permissions import Actor
from ..sigs.models import Sig
from .models import (
    APPROVED,
    PENDING,
    Librarian,
    LibraryFile,
    LibrarySection,
    LibraryVersion,
    Upload,
)
from .services import file_url

PER_PAGE = 25

# Aliases are module constants (docs/architecture.md, "Data rules").
_UPLOADER = aliased(User, name="uploader")
SORTS = ("newest", "downloads")


@dataclass(frozen=True)
class FileRow:
    entry: LibraryFile
    version: LibraryVersion | None
    uploader: str | None
    section: str | None


@dataclass
class SectionRow:
    section: LibrarySection
    count: int


@dataclass
class LibraryPage:
    sig: Sig
    sections: list[SectionRow]
    files: list[FileRow]
    sort: str
    section: LibrarySection | None
    page: int
    has_more: bool
    pending: list[FileRow] = field(default_factory=list)
    unsectioned: int = 0
    can_upload: bool = False
    upload_problem: str | None = None
    can_curate: bool = False
    can_manage: bool = False


def _rows(query: Any) -> list[FileRow]:
    uploader = _UPLOADER
    rows = db.session.execute(
        query.add_columns(LibraryVersion, uploader.username, LibrarySection.name)
        .outerjoin(LibraryVersion, LibraryVersion.id == LibraryFile.current_version_id)
        .outerjoin(uploader, uploader.id == LibraryFile.uploader_id)
        .outerjoin(LibrarySection, LibrarySection.id == LibraryFile.section_id)
    )
    return [FileRow(r[0], r[1], r[2], r[3]) for r in rows]


def library_page(
    user: Actor, sig: Sig, sort: str = "newest", section_id: int | None = None, page: int = 1
) -> LibraryPage:
    """The SIG's library: its sections with their counts, one page of files (newest, or most
    downloaded; all, or one section's), and for its librarians the files that wait. Four
    queries (five for a librarian)."""
    sort = sort if sort in SORTS else "newest"
    counts = dict(
        db.session.execute(
            select(LibraryFile.section_id, func.count())
            .where(LibraryFile.sig_id == sig.id, LibraryFile.status == APPROVED)
            .group_by(LibraryFile.section_id)
        ).all()
    )
    sections = list(
        db.session.scalars(
            select(LibrarySection)
            .where(LibrarySection.sig_id == sig.id)
            .order_by(LibrarySection.position, LibrarySection.id)
        )
    )
    section = next((s for s in sections if s.id == section_id), None)
    query = select(LibraryFile).where(LibraryFile.sig_id == sig.id, LibraryFile.status == APPROVED)
    if section is not None:
        query = query.where(LibraryFile.section_id == section.id)
    if sort == "downloads":
        query = query.order_by(LibraryFile.download_count.desc(), LibraryFile.id.desc())
    else:
        query = query.order_by(LibraryFile.approved_at.desc(), LibraryFile.id.desc())
    page = max(1, page)
    files = _rows(query.offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1))
    can_curate = permissions.can_curate_library(user, sig)
    pending: list[FileRow] = []
    if can_curate:
        pending = _rows(
            select(LibraryFile)
            .where(LibraryFile.sig_id == sig.id, LibraryFile.status == PENDING)
            .order_by(LibraryFile.created_at)
        )
    elif user is not None:
        pending = _rows(
            select(LibraryFile)
            .where(
                LibraryFile.sig_id == sig.id,
                LibraryFile.status == PENDING,
                LibraryFile.uploader_id == user.id,
            )
            .order_by(LibraryFile.created_at)
        )
    problem = permissions.library_upload_problem(user, sig)
    return LibraryPage(
        sig=sig,
        sections=[SectionRow(s, counts.get(s.id, 0)) for s in sections],
        files=files[:PER_PAGE],
        sort=sort,
        section=section,
        page=page,
        has_more=len(files) > PER_PAGE,
        pending=pending,
        unsectioned=counts.get(None, 0),
        can_upload=problem is None,
        upload_problem=problem,
        can_curate=can_curate,
        can_manage=permissions.can_manage_library(user, sig),
    )


@dataclass
class VersionRow:
    version: LibraryVersion
    uploader: str | None


@dataclass
class FilePage:
    sig: Sig
    row: FileRow
    versions: list[VersionRow]
    sections: list[LibrarySection]
    can_curate: bool
    topic_id: int | None


def file_page(user: Actor, entry: LibraryFile, sig: Sig) -> FilePage:
    """One library file: the entry, its versions (newest first), the sections to move it to."""
    [row] = _rows(select(LibraryFile).where(LibraryFile.id == entry.id))
    uploader = _UPLOADER
    versions = [
        VersionRow(v, name)
        for v, name in db.session.execute(
            select(LibraryVersion, uploader.username)
            .outerjoin(uploader, uploader.id == LibraryVersion.uploader_id)
            .where(LibraryVersion.file_id == entry.id)
            .order_by(LibraryVersion.number.desc())
        )
    ]
    can_curate = permissions.can_curate_library(user, sig)
    sections = (
        list(
            db.session.scalars(
                select(LibrarySection)
                .where(LibrarySection.sig_id == sig.id)
                .order_by(LibrarySection.position, LibrarySection.id)
            )
        )
        if can_curate
        else []
    )
    return FilePage(sig, row, versions, sections, can_curate, entry.topic_id)


def librarian_rows(sig: Sig) -> list[tuple[User, Librarian]]:
    return [
        (u, lib)
        for u, lib in db.session.execute(
            select(User, Librarian)
            .join(Librarian, Librarian.user_id == User.id)
            .where(Librarian.sig_id == sig.id)
            .order_by(func.lower(User.username))
        )
    ]


@dataclass(frozen=True)
class LibraryHit:
    row: FileRow
    sig: Sig


def search_library(user: Actor, words: list[str], sig_slug: str | None = None) -> list[LibraryHit]:
    """Library files (in SIGs the reader may read, that they may see) whose title, keywords,
    description or file name hold every word: the search page's `in:library` (one query)."""
    query = (
        select(LibraryFile, Sig)
        .join(Sig, Sig.id == LibraryFile.sig_id)
        .where(
            permissions.readable_sigs_clause(user),
            permissions.library_files_clause(user),
            LibraryFile.status != "retired",
        )
    )
    if sig_slug:
        query = query.where(func.lower(Sig.slug) == sig_slug.lower())
    names = select(LibraryVersion.file_id)
    for word in words:
        like = "%" + word.lower().replace("\\", "").replace("%", "").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                func.lower(LibraryFile.title).like(like, escape="\\"),
                func.lower(LibraryFile.keywords).like(like, escape="\\"),
                func.lower(LibraryFile.description_raw).like(like, escape="\\"),
                LibraryFile.id.in_(
                    names.where(func.lower(LibraryVersion.name).like(like, escape="\\"))
                ),
            )
        )
    uploader = _UPLOADER
    rows = db.session.execute(
        query.add_columns(LibraryVersion, uploader.username, LibrarySection.name)
        .outerjoin(LibraryVersion, LibraryVersion.id == LibraryFile.current_version_id)
        .outerjoin(uploader, uploader.id == LibraryFile.uploader_id)
        .outerjoin(LibrarySection, LibrarySection.id == LibraryFile.section_id)
        .order_by(LibraryFile.download_count.desc(), LibraryFile.id.desc())
        .limit(50)
    )
    return [LibraryHit(FileRow(r[0], r[2], r[3], r[4]), r[1]) for r in rows]


@dataclass(frozen=True)
class LibraryStats:
    uploads: int
    downloads: int
    files: int
    top: list[FileRow]


def library_stats(
    sig_id: int, since: datetime | None = None, until: datetime | None = None
) -> LibraryStats:
    """For the SIG's pulse: files uploaded (in the range), downloads of all its files, the
    files in it, and its five most downloaded. Three queries."""
    added = select(func.count()).select_from(LibraryVersion).where(LibraryVersion.sig_id == sig_id)
    if since is not None:
        added = added.where(LibraryVersion.created_at >= since)
    if until is not None:
        added = added.where(LibraryVersion.created_at < until)
    uploads = db.session.scalar(added) or 0
    downloads, files = db.session.execute(
        select(func.coalesce(func.sum(LibraryFile.download_count), 0), func.count()).where(
            LibraryFile.sig_id == sig_id, LibraryFile.status == APPROVED
        )
    ).one()
    top = _rows(
        select(LibraryFile)
        .where(LibraryFile.sig_id == sig_id, LibraryFile.status == APPROVED)
        .order_by(LibraryFile.download_count.desc(), LibraryFile.id.desc())
        .limit(5)
    )
    return LibraryStats(int(uploads), int(downloads or 0), int(files or 0), top)


def account_uploads(user: User) -> list[dict[str, Any]]:
    """The files the member uploaded (names, sizes, addresses), for their data export
    (hooks.account_data)."""
    return [
        {
            "name": u.name,
            "size": u.size,
            "url": file_url(u.sha256, u.name),
            "sha256": u.sha256,
            "post_id": u.post_id,
            "created_at": iso(u.created_at),
        }
        for u in db.session.scalars(
            select(Upload).where(Upload.user_id == user.id).order_by(Upload.id)
        )
    ]
