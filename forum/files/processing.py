"""What an uploaded file is, and what of it is kept: no Flask, no database.

Types come from the bytes, never from the name (`sniff`). Images are decoded and encoded again
with Pillow (`process_image`): what is kept is pixels, so EXIF and GPS, comments, colour-profile
tricks and anything appended to the file (a GIF that is also a page of HTML) are gone. Limits on
bytes, pixels, sides and frames are checked before any pixel is decoded. Names are cleaned for
showing and for Content-Disposition (`clean_name`).
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

# Pillow is imported where an image is decoded, not here: a page worker loads this module (the
# search page's and the topic's attachments ask what an upload is) but decodes no image until
# someone uploads one, and Pillow cost every worker 1.8 MB at start-up (1 MB of it heap;
# docs/benchmarks.md, "Memory per page worker, ninth session").
if TYPE_CHECKING:
    from PIL import Image

# Image formats decoded and kept in their own format (WebP for the thumbnails and avatars).
IMAGE_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/gzip": ".gz",
    "application/x-7z-compressed": ".7z",
    "application/x-tar": ".tar",
    "text/plain": ".txt",
}
# Names of text files that a browser or a desktop would run or render: kept as plain text.
RISKY_EXTENSIONS = frozenset(
    ".html .htm .xhtml .shtml .svg .svgz .xml .xsl .js .mjs .hta .vbs .bat .cmd .ps1 .exe .com "
    ".scr .msi .jar .php .phtml .swf .url .lnk .desktop .reg".split()
)
# Thumbnail sizes: the longest side in pixels (s: lists and the library; m: inline in posts).
THUMB_SIZES = {"s": 320, "m": 1024}
AVATAR_SIZES = (32, 64, 128)
MAX_NAME = 120


class Refused(Exception):
    """The file may not be kept: `code` for tests and logs, `message` for the member."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 8 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_side: int = 12_000
    max_frames: int = 200


@dataclass
class Processed:
    """What is stored: the bytes (re-encoded for an image), their type and size, thumbnails."""

    data: bytes
    content_type: str
    kind: str  # "image" or "file"
    width: int | None = None
    height: int | None = None
    thumbs: dict[str, bytes] = field(default_factory=dict)


# --- sniffing -----------------------------------------------------------------------------
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"PK\x05\x06", 0, "application/zip"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", 0, "application/x-7z-compressed"),
    (b"ustar", 257, "application/x-tar"),
    (b"MZ", 0, "application/x-msdownload"),
    (b"\x7fELF", 0, "application/x-executable"),
)
_MARKUP = re.compile(
    rb"<\s*(?:!doctype\s+html|html|head|body|script|iframe|object|embed|svg|meta|a\s|img\s"
    rb"|style|link|\?xml)",
    re.I,
)


def sniff(head: bytes) -> str:
    """The type of a file from its first bytes (4 KiB is plenty): a known signature, else
    HTML/SVG/XML when it looks like markup anywhere in the head, else text when it is UTF-8
    without NULs, else application/octet-stream."""
    for magic, offset, mime in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    found = _MARKUP.search(head)
    if found:
        return "image/svg+xml" if b"svg" in found.group(0).lower() else "text/html"
    if b"\x00" in head:
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut off at the end of the head is still text.
        if exc.start < len(head) - 4:
            return "application/octet-stream"
    return "text/plain"


# --- names --------------------------------------------------------------------------------
_BIDI_AND_INVISIBLE = re.compile(
    "[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UNSAFE = re.compile(r'[\\/:*?"<>|#%&;`$]')


def clean_name(name: str, content_type: str | None = None) -> str:
    """A file name fit to show and to send back: the last path part, NFC, no control,
    direction-override or invisible characters, no characters that mean something in a path
    or a URL, no leading dots, at most MAX_NAME characters (the extension kept), and an
    extension that agrees with the type found in the bytes."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = _CONTROL.sub("", _BIDI_AND_INVISIBLE.sub("", name))
    name = _UNSAFE.sub("_", name)
    name = " ".join(name.split()).lstrip(". ").rstrip(". ")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = ("." + ext.lower()) if ext else ""
    if len(ext) > 10:
        stem, ext = name, ""
    wanted = EXTENSIONS.get(content_type or "")
    if content_type == "text/plain":
        if ext in RISKY_EXTENSIONS:
            stem, ext = stem + ext.replace(".", "_"), ".txt"
    elif wanted and ext != wanted and not (wanted == ".jpg" and ext == ".jpeg"):
        if ext:
            stem = stem + ext.replace(".", "_")
        ext = wanted
    stem = stem[: MAX_NAME - len(ext)].rstrip(". ") or "file"
    return stem + ext


# --- images -------------------------------------------------------------------------------
def _open(data: bytes, limits: Limits) -> Image.Image:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Refused("pixels", "The image has too many pixels.") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise Refused("undecodable", "The image could not be read.") from exc
    if image.format not in IMAGE_FORMATS:
        raise Refused("format", "Only PNG, JPEG, GIF and WebP images are accepted.")
    width, height = image.size
    if width < 1 or height < 1:
        raise Refused("undecodable", "The image could not be read.")
    if max(width, height) > limits.max_side:
        raise Refused("side", "The image is too wide or too tall.")
    if width * height > limits.max_pixels:
        raise Refused("pixels", "The image has too many pixels.")
    return image


def _frame_count(image: Image.Image, limit: int) -> int:
    """Frames counted one by one, stopping past the limit (a 50,000-frame GIF is not walked)."""
    count = 0
    try:
        while True:
            image.seek(count)
            count += 1
            if count > limit:
                return count
    except EOFError:
        pass
    image.seek(0)
    return count


def process_image(data: bytes, limits: Limits) -> Processed:
    """Decode and encode again, in the image's own format; thumbnails in WebP."""
    image = _open(data, limits)
    fmt = image.format
    assert fmt is not None
    frames = _frame_count(image, limits.max_frames) if getattr(image, "is_animated", False) else 1
    if frames > limits.max_frames:
        raise Refused("frames", "The animation has too many frames.")
    if frames * image.size[0] * image.size[1] > limits.max_pixels * 2:
        raise Refused("pixels", "The animation has too many pixels.")
    try:
        out = io.BytesIO()
        if frames > 1:
            kept = _reencode_animation(image, out, fmt)
        else:
            kept = _reencode_still(image, out, fmt)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise Refused("undecodable", "The image could not be read.") from exc
    width, height = kept.size
    thumbs = {}
    for key, side in THUMB_SIZES.items():
        if max(width, height) > side:
            thumbs[key] = _thumbnail(kept, side)
    return Processed(
        data=out.getvalue(),
        content_type=IMAGE_FORMATS[fmt],
        kind="image",
        width=width,
        height=height,
        thumbs=thumbs,
    )


def _fresh(frame: Image.Image) -> Image.Image:
    """Pixels only: a new image holding the frame's pixels, with no metadata at all."""
    mode = frame.mode
    if mode not in ("RGB", "RGBA", "L", "LA", "P"):
        mode = "RGBA" if "A" in frame.getbands() or "transparency" in frame.info else "RGB"
    pixels = frame.convert(mode) if mode != frame.mode else frame.copy()
    pixels.info = {}
    if mode == "P" and "transparency" in frame.info:
        pixels = frame.convert("RGBA")
        pixels.info = {}
    return pixels


def _reencode_still(image: Image.Image, out: IO[bytes], fmt: str) -> Image.Image:
    from PIL import ImageOps

    image.load()
    upright = ImageOps.exif_transpose(image) or image  # turned as the camera meant, then EXIF goes
    pixels = _fresh(upright)
    if fmt == "JPEG":
        pixels = pixels.convert("RGB")
        pixels.save(out, "JPEG", quality=88, optimize=True)
    elif fmt == "WEBP":
        pixels.save(out, "WEBP", quality=88)
    elif fmt == "GIF":
        pixels.save(out, "GIF")
    else:
        pixels.save(out, "PNG", optimize=True)
    return pixels


def _reencode_animation(image: Image.Image, out: IO[bytes], fmt: str) -> Image.Image:
    frames: list[Image.Image] = []
    durations: list[int] = []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        frames.append(image.convert("RGBA"))
        durations.append(int(image.info.get("duration", 100) or 100))
    for frame in frames:
        frame.info = {}
    first, rest = frames[0], frames[1:]
    save_format = "WEBP" if fmt == "WEBP" else "GIF"
    first.save(
        out, save_format, save_all=True, append_images=rest, duration=durations, loop=0, disposal=2
    )
    return first


def _thumbnail(image: Image.Image, side: int) -> bytes:
    from PIL import Image

    copy = image.convert("RGBA") if image.mode in ("P", "LA") else image.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    copy.info = {}
    out = io.BytesIO()
    copy.save(out, "WEBP", quality=82)
    return out.getvalue()


def scaled(width: int, height: int, side: int) -> tuple[int, int]:
    """The size of an image shown with its longest side at most `side`."""
    longest = max(width, height)
    if longest <= side:
        return width, height
    ratio = side / longest
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def avatar_images(data: bytes, limits: Limits) -> dict[int, bytes]:
    """A member's picture cropped square about its centre, in AVATAR_SIZES, as WebP."""
    from PIL import Image, ImageOps

    image = _open(data, limits)
    if getattr(image, "is_animated", False) and _frame_count(image, limits.max_frames) > 1:
        image.seek(0)
    try:
        image.load()
        upright = ImageOps.exif_transpose(image) or image
        pixels = _fresh(upright).convert("RGBA")
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise Refused("undecodable", "The image could not be read.") from exc
    side = min(pixels.size)
    square = ImageOps.fit(pixels, (side, side), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    found: dict[int, bytes] = {}
    for size in AVATAR_SIZES:
        out = io.BytesIO()
        resized = square.resize((size, size), Image.Resampling.LANCZOS)
        resized.info = {}
        resized.save(out, "WEBP", quality=85)
        found[size] = out.getvalue()
    return found
