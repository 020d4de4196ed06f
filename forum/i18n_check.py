"""`make lint`'s translation checks: complete catalogs and no bare text in templates.

1. Every string Babel extracts (babel.cfg) is in each catalog (de, es), translated and not
   fuzzy, with every plural form filled in and the same %(placeholders)s as the English.
2. No template shows text outside a translation call: the checker joins a template's literal
   text (the Jinja lexer's data, with every {{ … }} and {% … %} taken out), reads it as HTML and
   flags text nodes and user-facing attributes (title, alt, placeholder, aria-label,
   data-confirm, a button's value) that hold a word. It also flags string constants that an
   expression prints directly ({{ 'Newest first' }}) or passes to the macros' label arguments.

Run it with `python -m forum.i18n_check`; it prints each problem and exits 1 if there are any.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.pofile import read_po
from jinja2 import Environment, nodes
from jinja2.lexer import TOKEN_DATA

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "forum" / "translations"
TEMPLATES = ROOT / "templates"
LANGUAGES = ("de", "es")
KEYWORDS = ("_l", "lazy_gettext", "lazy_ngettext:1,2", "_n:1,2")

# Literal text a template may show as it is: names, symbols and the forum's own marks.
ALLOWED_TEXT = {
    "English",
    "Deutsch",
    "Español",
    "RSS",
    "Markdown",
    "UTC",
    "ID",
    "OR",  # search syntax, shown as code
}
# Attributes whose value a person reads or hears.
TEXT_ATTRIBUTES = {
    "title",
    "alt",
    "placeholder",
    "aria-label",
    "data-confirm",
    "data-label",
    "label",
}
# Macros whose arguments (by position or name) are text: (name, positions, keywords).
TEXT_ARGUMENTS = {
    "action_button": ((1,), ("label", "confirm")),
    "field": ((), ("hint",)),
}
WORD = re.compile(r"[^\W\d_]{2,}")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")
MARK = "\x00"


# --- 1. the catalogs ------------------------------------------------------------------------
def extract(to: Path) -> None:
    keywords = [arg for k in KEYWORDS for arg in ("-k", k)]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            *keywords,
            "--no-location",
            "-o",
            str(to),
            str(ROOT),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )


def catalog_problems() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        pot_path = Path(tmp) / "messages.pot"
        extract(pot_path)
        with pot_path.open("rb") as f:
            template = read_po(f)
    wanted = {m.id if isinstance(m.id, str) else m.id[0]: m for m in template if m.id}
    for lang in LANGUAGES:
        path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
        if not path.exists():
            yield f"{path.relative_to(ROOT)}: missing (docs/translating.md: add a language)"
            continue
        with path.open("rb") as f:
            catalog = read_po(f, locale=lang)
        have = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
        where = path.relative_to(ROOT)
        for key in sorted(set(wanted) - set(have)):
            yield f"{where}: not in the catalog (run make translations-extract): {key!r}"
        for key, message in have.items():
            if key not in wanted:
                continue  # obsolete: `make translations-extract` drops it
            if message.fuzzy:
                yield f"{where}: fuzzy: {key!r}"
            raw = message.string
            strings = tuple(raw) if isinstance(raw, (tuple, list)) else (raw or "",)
            if not all(strings):
                yield f"{where}: untranslated: {key!r}"
                continue
            ids = tuple(message.id) if isinstance(message.id, tuple) else (str(message.id),)
            expected = set(PLACEHOLDER.findall(" ".join(ids)))
            for text in strings:
                found = set(PLACEHOLDER.findall(text))
                # A singular may write out its number ("ein Beitrag"); named ones must match.
                named = {p for p in expected if "(" in p}
                if not named <= found or found - expected:
                    yield f"{where}: placeholders differ from the English: {key!r} -> {text!r}"


# --- 2. the templates -----------------------------------------------------------------------
class _TextFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        values = dict(attrs)
        for name, value in attrs:
            if value and (
                name in TEXT_ATTRIBUTES
                or (name == "value" and values.get("type") in ("submit", "button", "reset"))
            ):
                self._check(value, f"{tag}[{name}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._check(data, "text")

    def _check(self, text: str, where: str) -> None:
        for piece in text.split(MARK):
            piece = " ".join(piece.split())
            if '="' in piece or piece.startswith("<"):
                continue  # a tag cut by a Jinja construct (<tr{% if … %}>): markup, not text
            if WORD.search(piece) and piece.strip(" .,:;()!?·—–-") not in ALLOWED_TEXT:
                self.found.append(f"{where}: {piece!r}")


def _literal_text(env: Environment, source: str, name: str) -> str:
    """The template's own text, each Jinja construct replaced by a mark."""
    out: list[str] = []
    last_was_data = False
    for _lineno, kind, value in env.lex(source, name):
        if kind == TOKEN_DATA:
            out.append(value)
            last_was_data = True
        elif last_was_data:
            out.append(MARK)
            last_was_data = False
    return "".join(out)


def _constants(node: nodes.Node) -> Iterator[str]:
    """String constants an expression shows as they are (not inside any call)."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, nodes.CondExpr):
        yield from _constants(node.expr1)
        if node.expr2 is not None:
            yield from _constants(node.expr2)
    elif isinstance(node, nodes.Concat):
        for child in node.nodes:
            yield from _constants(child)
    elif isinstance(node, (nodes.Add, nodes.Or, nodes.And)):
        yield from _constants(node.left)
        yield from _constants(node.right)


def _wording(text: str) -> bool:
    """Whether a constant reads as words (not a CSS class, an id or an endpoint)."""
    return bool(WORD.search(text)) and (" " in text.strip() or text[:1].isupper())


def _expression_problems(tree: nodes.Template) -> Iterator[str]:
    for output in tree.find_all(nodes.Output):
        for child in output.nodes:
            if isinstance(child, nodes.TemplateData):
                continue
            for text in _constants(child):
                if _wording(text) and text not in ALLOWED_TEXT:
                    yield f"printed constant: {text!r}"
    for call in tree.find_all(nodes.Call):
        if not isinstance(call.node, nodes.Name) or call.node.name not in TEXT_ARGUMENTS:
            continue
        positions, keywords = TEXT_ARGUMENTS[call.node.name]
        args = [arg for i, arg in enumerate(call.args) if i in positions]
        args += [kw.value for kw in call.kwargs if kw.key in keywords]
        for arg in args:
            for text in _constants(arg):
                if WORD.search(text) and text not in ALLOWED_TEXT:
                    yield f"{call.node.name}() argument: {text!r}"


def template_problems(root: Path = TEMPLATES) -> Iterator[str]:
    env = Environment(extensions=["jinja2.ext.i18n"])
    for path in sorted(root.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        name = str(path.relative_to(root))
        finder = _TextFinder()
        finder.feed(_literal_text(env, source, name))
        finder.close()
        problems = finder.found + list(_expression_problems(env.parse(source, name)))
        for problem in problems:
            yield f"templates/{name}: text outside a translation call: {problem}"


def compile_stale() -> list[Path]:
    """Compile each catalog whose .mo is missing or older than its .po (what `make
    translations` does), for a test run started without make. Written whole, then moved into
    place, so parallel test workers never read half a file."""
    import os

    from babel.messages.mofile import write_mo

    done = []
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        with tempfile.NamedTemporaryFile(dir=po.parent, delete=False, suffix=".tmp") as out:
            write_mo(out, catalog)
        os.replace(out.name, mo)
        done.append(mo)
    return done


def main() -> int:
    problems = list(template_problems()) + list(catalog_problems())
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} translation problem(s); see docs/translating.md.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
