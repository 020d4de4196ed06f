"""Uploaded files (blobs, by content address), who uploaded them where, SIG libraries with
their sections, files, versions and librarians, and members' pictures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

KIND_IMAGE = "image"
KIND_FILE = "file"

# A library file's life: it waits for a librarian, is in the library, or was withdrawn.
PENDING = "pending"
APPROVED = "approved"
RETIRED = "retired"


class Blob(db.Model):  # type: ignore[name-defined,misc]
    """The bytes kept once per SHA-256 (the storage has them under storage.key_for)."""

    __tablename__ = "file_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column()
    content_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default=KIND_FILE)
    width: Mapped[int | None] = mapped_column()
    height: Mapped[int | None] = mapped_column()
    # Which thumbnails were made ("s,m"; "" for a small image or another file).
    thumbs: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    @property
    def is_image(self) -> bool:
        return self.kind == KIND_IMAGE

    def has_thumb(self, size: str) -> bool:
        return size in self.thumbs.split(",")


class Upload(db.Model):  # type: ignore[name-defined,misc]
    """A member uploaded these bytes under this name, for a post in a SIG. It belongs to the
    post that names its address (`post_id`), set when the post is written or edited; one that
    no post claims for a day is reaped."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("file_blobs.sha256"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    sig_id: Mapped[int | None] = mapped_column(
        ForeignKey("sigs.id", ondelete="SET NULL"), index=True
    )
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When it was last claimed or let go by a post: the reaper counts a day from here.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_uploads_orphans", "post_id", "updated_at"),)


class LibrarySection(db.Model):  # type: ignore[name-defined,misc]
    """A shelf of a SIG's library, defined by the SIG's sysops."""

    __tablename__ = "library_sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LibraryFile(db.Model):  # type: ignore[name-defined,misc]
    """One entry of a SIG's library: its current version, and the versions it had."""

    __tablename__ = "library_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"))
    section_id: Mapped[int | None] = mapped_column(
        ForeignKey("library_sections.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description_raw: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[str] = mapped_column(String(300), default="")
    uploader_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("library_versions.id", use_alter=True, ondelete="SET NULL"), index=True
    )
    # Every version's downloads: a new version keeps the count.
    download_count: Mapped[int] = mapped_column(default=0)
    # The discussion topic, started when a librarian approves the file.
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("topics.id", ondelete="SET NULL"), index=True
    )

    __table_args__ = (
        Index("ix_library_files_sig_newest", "sig_id", "status", "approved_at"),
        Index("ix_library_files_sig_downloads", "sig_id", "status", "download_count"),
    )

    @property
    def is_pending(self) -> bool:
        return self.status == PENDING

    @property
    def is_retired(self) -> bool:
        return self.status == RETIRED


class LibraryVersion(db.Model):  # type: ignore[name-defined,misc]
    """One version of a library file: the bytes, their name, who uploaded them and when."""

    __tablename__ = "library_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(
        ForeignKey("library_files.id", ondelete="CASCADE"), index=True
    )
    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(default=1)
    sha256: Mapped[str] = mapped_column(ForeignKey("file_blobs.sha256"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column()
    note: Mapped[str] = mapped_column(String(500), default="")
    uploader_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    download_count: Mapped[int] = mapped_column(default=0)
    # Replaced by a newer version (kept in the history, still downloadable).
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("file_id", "number", name="uq_library_versions_number"),)


class Librarian(db.Model):  # type: ignore[name-defined,misc]
    """A member a SIG's sysops made a librarian there: approves, edits, moves and retires."""

    __tablename__ = "sig_librarians"

    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    appointed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Avatar(db.Model):  # type: ignore[name-defined,misc]
    """A member's picture: `sha256` names the 128 px image; 32 and 64 px lie beside it."""

    __tablename__ = "member_avatars"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
