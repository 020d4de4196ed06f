"""Small text helpers shared by services."""

from __future__ import annotations

import re
import unicodedata


def slugify(text: str, max_length: int = 80, fallback: str = "topic") -> str:
    """An ASCII URL slug: "Grüße aus Köln!" -> "gruesse-aus-koeln"."""
    text = text.replace("ß", "ss").replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    text = text.replace("Ä", "Ae").replace("Ö", "Oe").replace("Ü", "Ue")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = slug[:max_length].rstrip("-")
    return slug or fallback
