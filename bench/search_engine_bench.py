"""What each change of the search's engine room (forum/search/engine/) buys over plain whoosh3.

    python bench/search_engine_bench.py [--posts 20000] [--repeat 200]

Builds the same posts (85 words on average, the search bench's vocabulary) into an index of
the engine and into a plain whoosh3 index (FileStorage, W3Codec, Whoosh's analyser chain, BM25F),
then measures, one change at a time, in this process (CPU time, so another busy process on the
machine moves the figures less than the wall clock):

- codec: loading one block of 128 postings pickled with protocol 2 (whoosh3) or 5 (the engine),
  and its size;
- codec: skipping a common word's matcher to its last document (whoosh3 reads every block's
  header on the way; the engine bisects the headers it read once);
- storage: heap memory a searcher holds after reading a few common words (whoosh3 copies each
  segment file it maps into a BytesIO; the engine reads the map);
- analysis: analysing 1,000 posts in one pass or through Whoosh's chain of filters;
- matching: a two-word phrase with the engine's Phrase or Whoosh's;
- ranking: the best 20 posts for the commonest word, by the engine (BM25 with the length in the
  weights, block bounds) or by whoosh3 (BM25F);

and the installed whoosh3 version beside the one the codec patches.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import pickle
import random
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def cpu_us(fn: Callable[[], Any], repeat: int) -> float:
    """Median CPU time of fn() in microseconds, over `repeat` calls in batches."""
    fn()
    samples = []
    for _ in range(max(5, repeat // 10)):
        t = time.process_time()
        for _ in range(10):
            fn()
        samples.append((time.process_time() - t) / 10 * 1e6)
    samples.sort()
    return samples[len(samples) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    from search_bench import POST_WORDS, SEED, vocabulary
    from whoosh import fields, index, query
    from whoosh.analysis import LowercaseFilter, PyStemmerFilter, RegexTokenizer, StopFilter
    from whoosh.codec.whoosh3 import W3LeafMatcher
    from whoosh.filedb.filestore import FileStorage
    from whoosh.lang.stopwords import stoplists

    from forum.search.backend import WhooshBackend
    from forum.search.documents import PostDocument
    from forum.search.engine import codec, matching, ranking
    from forum.search.engine.analysis import WORD_RE, LanguageAnalyzer
    from forum.search.engine.storage import IndexStorage

    rng = random.Random(SEED)
    words = vocabulary(rng)
    cum, total = [], 0.0
    for rank in range(len(words)):
        total += 1 / (rank + 1) ** 1.05
        cum.append(total)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    bodies = [
        " ".join(rng.choices(words, cum_weights=cum, k=rng.randint(*POST_WORDS)))
        for _ in range(args.posts)
    ]
    one_pass = LanguageAnalyzer("en")
    common_stems = [token.text for token in one_pass(" ".join(words[:20]))]
    common = common_stems[0]  # "modem", in most posts

    folder = Path(tempfile.mkdtemp(prefix="search-engine-bench-"))
    try:
        t = time.perf_counter()
        ours = WhooshBackend(folder / "engine")
        ours.rebuild(
            PostDocument(n, n, 1, "retro", "ada", "en", start + timedelta(seconds=n), False, "", b)
            for n, b in enumerate(bodies, start=1)
        )
        built_ours = time.perf_counter() - t
        chain = (
            RegexTokenizer(WORD_RE)
            | LowercaseFilter()
            | StopFilter(stoplist=stoplists["en"])
            | PyStemmerFilter("english")
        )
        t = time.perf_counter()
        plain_schema = fields.Schema(
            post_id=fields.ID(stored=True), body_en=fields.TEXT(analyzer=chain, phrase=True)
        )
        (folder / "plain").mkdir()
        plain_ix = index.create_in(str(folder / "plain"), plain_schema)
        w = plain_ix.writer(limitmb=512)
        for n, body in enumerate(bodies, start=1):
            w.add_document(post_id=str(n), body_en=body)
        w.commit()
        built_plain = time.perf_counter() - t
        print(f"{args.posts:,} posts; whoosh3 {importlib.metadata.version('whoosh3')} installed, "
              f"the codec patches {codec.WHOOSH3_VERSION}; built in {built_ours:.1f} s "
              f"(engine) and {built_plain:.1f} s (plain whoosh3, one process)\n")  # fmt: skip
        rows: list[tuple[str, str, str, str]] = []

        # codec: one block's load, protocol 2 against 5.
        searcher = ours.index._searcher()
        m = searcher.reader().postings("body_en", common)
        m._read_ids()
        m._read_weights()
        m._read_values()
        block = (tuple(m._ids), tuple(m._weights), tuple(m._values))
        old, new = pickle.dumps(block, 2), pickle.dumps(block, codec.PROTOCOL)
        rows.append(
            (
                f"load one block of {len(block[0])} postings (bytes)",
                f"{cpu_us(lambda: pickle.loads(old), args.repeat):.1f} µs ({len(old):,})",
                f"{cpu_us(lambda: pickle.loads(new), args.repeat):.1f} µs ({len(new):,})",
                "codec.py",
            )
        )

        # codec: skipping to the last document of a common word's list.
        reader = searcher.reader()
        info = reader.term_info("body_en", common)
        offset, length = info.extent()
        fmt = reader.schema["body_en"].format
        postfile = reader.postings("body_en", common)._postfile
        last = info.max_id()

        def skip_whoosh() -> None:
            W3LeafMatcher(postfile, offset, length, fmt).skip_to(last)

        def skip_ours() -> None:
            codec._LeafMatcher(postfile, offset, length, fmt).skip_to(last)

        probe = codec._LeafMatcher(postfile, offset, length, fmt)
        blocks = len(codec._blocks(postfile, probe._startoffset, probe._baseoffset)[0])
        rows.append(
            (
                f"skip to the last of {info.doc_frequency():,} postings ({blocks} blocks)",
                f"{cpu_us(skip_whoosh, args.repeat):.0f} µs",
                f"{cpu_us(skip_ours, args.repeat):.0f} µs",
                "codec.py",
            )
        )

        # storage: what a searcher keeps on the heap after reading common words.
        def heap(storage: Any, name: str) -> float:
            gc.collect()
            tracemalloc.start()
            ix = storage.open_index()
            with ix.searcher() as s:
                for stem in common_stems:
                    list(s.reader().postings(name, stem).all_ids())
                kept = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            ix.close()
            return kept / 2**20

        plain_heap = heap(FileStorage(str(folder / "engine")), "body_en")
        ours_heap = heap(IndexStorage(str(folder / "engine")), "body_en")
        rows.append(
            (
                "heap a searcher holds after reading 20 common words",
                f"{plain_heap:.1f} MB",
                f"{ours_heap:.1f} MB",
                "storage.py",
            )
        )

        # analysis: 1,000 posts.
        sample = bodies[:1000]

        def analyse(analyzer: Any) -> Callable[[], None]:
            def run() -> None:
                for body in sample:
                    for _token in analyzer(body, positions=True):
                        pass

            return run

        rows.append(
            (
                "analyse 1,000 posts",
                f"{cpu_us(analyse(chain), 20) / 1000:.1f} ms",
                f"{cpu_us(analyse(one_pass), 20) / 1000:.1f} ms",
                "analysis.py",
            )
        )

        # matching: a phrase of two common words.
        stems = common_stems[1:3]
        whooshs = query.Phrase("body_en", stems)
        mine = matching.Phrase("body_en", stems)
        found = len(list(searcher.docs_for_query(mine)))
        assert found == len(list(searcher.docs_for_query(whooshs)))
        rows.append(
            (
                f'phrase "{" ".join(stems)}" ({found:,} posts)',
                f"{cpu_us(lambda: list(searcher.docs_for_query(whooshs)), 20) / 1000:.1f} ms",
                f"{cpu_us(lambda: list(searcher.docs_for_query(mine)), 20) / 1000:.1f} ms",
                "matching.py",
            )
        )

        # ranking: the best 20 posts for the commonest word.
        term = query.Term("body_en", common)
        with plain_ix.searcher() as plain:

            def top_whoosh() -> None:
                plain.search(term, limit=20)

            def top_ours() -> None:
                ranking._top(searcher, term, ranking.Plan([term], True, None, None), 20, 0.0)

            rows.append(
                (
                    f"best 20 of {info.doc_frequency():,} posts with {common!r}",
                    f"{cpu_us(top_whoosh, 20) / 1000:.1f} ms",
                    f"{cpu_us(top_ours, 20) / 1000:.1f} ms",
                    "ranking.py",
                )
            )
        ours.close()
        plain_ix.close()

        print(f"{'CPU time, median':<52}{'whoosh3':>18}{'engine':>18}   where")
        for name, plain_, engine_, where in rows:
            print(f"{name:<52}{plain_:>18}{engine_:>18}   {where}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
