"""Where uploaded bytes live: a small interface, a local directory, an S3-compatible store.

Keys are content addresses (`ab/cd/<sha256>` and `<sha256>.<variant>` beside it), so the same
bytes are kept once, and a write of a key that exists changes nothing. A write is whole or
nothing: the local store writes a temporary file in the same directory and renames it into
place (a rename is atomic), S3 shows an object only once all of it arrived. Nothing here knows
Flask or the database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

CHUNK = 64 * 1024


def key_for(sha256: str, variant: str = "") -> str:
    """The storage key of a file (variant "": the file itself; "s.webp", "a64.webp", …)."""
    name = f"{sha256}.{variant}" if variant else sha256
    return f"{sha256[:2]}/{sha256[2:4]}/{name}"


class Storage(Protocol):
    def put(self, key: str, data: bytes | IO[bytes], content_type: str) -> None:
        """Keep these bytes under `key`, whole or not at all; nothing when the key exists."""

    def open(self, key: str) -> IO[bytes]:
        """The bytes under `key`, to read (FileNotFoundError when there are none)."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Forget `key`; nothing when it is not there."""

    def local_path(self, key: str) -> Path | None:
        """The file on this machine's disk, when there is one (for sending it or nginx)."""

    def sweep_partial(self, older_than: float) -> int:
        """Remove what writes cut off long ago left behind; how many."""


class LocalStorage:
    """A directory (instance/uploads/ by default), one file per key."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key outside the store: {key!r}")
        return path

    def put(self, key: str, data: bytes | IO[bytes], content_type: str) -> None:
        target = self._path(key)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, bytes | bytearray):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            # Two writers of the same bytes: whichever renames last replaces identical bytes.
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    def open(self, key: str) -> IO[bytes]:
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def sweep_partial(self, older_than: float) -> int:
        """Remove temporary files older than `older_than` seconds: what a process killed in the
        middle of a write left (never under a real key, so never served)."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for path in self.root.rglob(".part-*"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    def keys(self) -> Iterator[str]:
        """Every key kept (tests, and a check that nothing half-written was left)."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if path.is_file():
                yield path.relative_to(self.root).as_posix()


class S3Storage:
    """An S3-compatible bucket (AWS, MinIO, Ceph, …) through boto3; keys under a prefix.

    The credentials come from boto3's usual places (AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY, a profile, an instance role)."""

    def __init__(
        self, bucket: str, prefix: str = "", endpoint: str | None = None, region: str | None = None
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint or None,
            region_name=region or "us-east-1",
            config=Config(
                connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
            ),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes | IO[bytes], content_type: str) -> None:
        if self.exists(key):
            return
        body = data if isinstance(data, bytes | bytearray) else data.read()
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=body, ContentType=content_type
        )

    def open(self, key: str) -> IO[bytes]:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(key) from exc
            raise
        return answer["Body"]  # type: ignore[no-any-return]

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def local_path(self, key: str) -> Path | None:
        return None

    def sweep_partial(self, older_than: float) -> int:
        return 0  # S3 shows an object only once all of it arrived


def from_config(
    url: str | None, instance_path: str, endpoint: str | None, region: str | None
) -> LocalStorage | S3Storage:
    """The store UPLOADS_URL names: none (instance/uploads/), a directory (file:///path or a
    plain path), or s3://bucket/prefix."""
    if not url:
        return LocalStorage(Path(instance_path) / "uploads")
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError("UPLOADS_URL s3://bucket/prefix needs a bucket")
        return S3Storage(parts.netloc, parts.path, endpoint, region)
    if parts.scheme in ("", "file"):
        return LocalStorage(parts.path if parts.scheme else url)
    raise ValueError(f"UPLOADS_URL: unknown scheme {parts.scheme!r} (s3:// or a directory)")
