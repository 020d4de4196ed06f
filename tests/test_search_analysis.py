"""The one-pass analyser gives exactly what Whoosh's filter chain gives."""

from __future__ import annotations

import random

import pytest
from whoosh.analysis import LowercaseFilter, PyStemmerFilter, RegexTokenizer, StopFilter
from whoosh.lang.stopwords import stoplists

from forum.search.engine.analysis import STEMMERS, WORD_RE, LanguageAnalyzer

pytestmark = pytest.mark.search  # (tests/conftest.py: a real index)

TEXTS = {
    "en": "The modems were running at 2400 baud, and it's a 3.5\" floppy-disk. A I x y ...",
    "de": "Die Katzen schlafen auf dem Rechner; über Äpfel und Straßen. Das ist z.B. gut.",
    "es": "Escuchamos canciones en la radio, y el ordenador está en la pantalla. ¿Qué?",
}


def whoosh_chain(lang: str):  # type: ignore[no-untyped-def]
    chain = RegexTokenizer(WORD_RE) | LowercaseFilter() | StopFilter(stoplist=stoplists[lang])
    return chain | PyStemmerFilter(STEMMERS[lang])


def tokens(analyzer, text: str, **kwargs):  # type: ignore[no-untyped-def]
    keys = ("text", "pos", "startchar", "endchar", "stopped", "original", "boost")
    return [tuple(getattr(t, k, None) for k in keys) for t in analyzer(text, **kwargs)]


@pytest.mark.parametrize("lang", sorted(TEXTS))
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"positions": True, "chars": True},
        {"positions": True, "chars": True, "removestops": False, "keeporiginal": True},
        {"positions": True, "start_pos": 5, "start_char": 7, "mode": "query"},
    ],
)
def test_same_tokens_as_whooshs_chain(lang: str, options: dict) -> None:
    rng = random.Random(lang)
    words = TEXTS["en"].split() + TEXTS["de"].split() + TEXTS["es"].split()
    texts = [TEXTS[lang], "", "   ", "the and of"] + [
        " ".join(rng.choices(words, k=rng.randint(1, 40))) for _ in range(20)
    ]
    for text in texts:
        assert tokens(LanguageAnalyzer(lang), text, **options) == tokens(
            whoosh_chain(lang), text, **options
        ), text


def test_the_analyser_survives_the_index_schema_pickle() -> None:
    import pickle

    analyzer = pickle.loads(pickle.dumps(LanguageAnalyzer("de")))
    assert [t.text for t in analyzer("Die Katzen schlafen")] == ["katz", "schlaf"]
