"""Text analysis for one language in one pass.

It gives exactly what Whoosh's chain RegexTokenizer(WORD_RE) | LowercaseFilter() |
StopFilter(stoplist) | PyStemmerFilter(stemmer) gives (tests/test_search_analysis.py compares
them), without a generator and a method call per filter per word: indexing a post, analysing a
query and marking the words of an excerpt all spend most of their time here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import Stemmer
from whoosh.analysis import Token, Tokenizer
from whoosh.lang.stopwords import stoplists

WORD_RE = r"\w+(?:[.']\w+)*"
STEMMERS = {"en": "english", "de": "german", "es": "spanish"}
MIN_WORD = 2  # shorter words are stop words (as Whoosh's StopFilter)
STEM_CACHE = 50_000


class LanguageAnalyzer(Tokenizer):
    """Words, lower-cased, without the language's stop words, stemmed by Snowball (PyStemmer).
    As Whoosh's StopFilter, positions count the words that are kept."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._setup()

    def _setup(self) -> None:
        self._words = re.compile(WORD_RE)
        self._stops = frozenset(stoplists[self.lang])
        stemmer = Stemmer.Stemmer(STEMMERS[self.lang])
        stemmer.maxCacheSize = STEM_CACHE
        self._stem = stemmer.stemWord

    def __getstate__(self) -> dict[str, Any]:
        return {"lang": self.lang}  # (the schema is pickled into the index: no stemmer)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.lang = state["lang"]
        self._setup()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LanguageAnalyzer) and other.lang == self.lang

    def __hash__(self) -> int:
        return hash(("LanguageAnalyzer", self.lang))

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        # (Any: whoosh3's Token declares only some of the attributes analysers give it.)
        t: Any = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        stops, stem = self._stops, self._stem
        pos = None  # the position of the last word kept
        for n, match in enumerate(self._words.finditer(value)):
            original = match.group(0)
            word = original.lower()
            stopped = len(word) < MIN_WORD or word in stops
            if stopped:
                if removestops:
                    continue
                t.text = word
                if positions:
                    t.pos = start_pos + n
            else:
                t.text = stem(word)
                if positions:
                    pos = start_pos + n if pos is None else pos + 1
                    t.pos = pos
            t.stopped = stopped
            t.boost = 1.0
            if keeporiginal:
                t.original = original
            if chars:
                t.startchar = start_char + match.start()
                t.endchar = start_char + match.end()
            yield t
