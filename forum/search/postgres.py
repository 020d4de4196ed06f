"""PostgreSQL full-text search: a SearchBackend for forums that run on several servers.

Every post has a row in `post_vectors`, written by the statement after the one that writes the
post, in the same transaction (`write_vectors`, called by handlers.py inside the change's
transaction): committed means searchable, on every server, with no queue, no drain and no files.
Its vector holds the topic's title (weight A, on the first post only) and the body (weight B),
analysed with the SIG's text search configuration (english, german, spanish; simple for any
other language); a GIN index finds the posts with the query's words.

Who may read what is decided in the same SQL as the match: the policy's clauses
(permissions.public_posts_clause, readable_sigs_clause through `SigScope.readable`), so a
count, a page or an excerpt never includes a post the reader may not read. (A capped search
takes its window of the newest candidates from the vectors, then asks the clauses of those:
its "At least N" counts the readable ones among them.)

The query grammar (parsing.py) becomes one tsquery per configuration, built only from
plainto_tsquery / phraseto_tsquery of bound parameters and tsquery_and/or/not (a prefix is
to_tsquery of a word that parsing.py checked is letters and digits only): a member's text never
becomes tsquery syntax, so nothing they type can change the query's shape. Each post is matched
with its own configuration's query (a stop word of one language is left out of that language's
query only, as with Whoosh). A search reads the newest slice of the forum first (of a `sig:` SIG:
each vector carries its post's date and SIG), as many posts as PostgreSQL's statistics say hold
the matches it needs, the GIN index's bitmap ANDed with the slice's dates so that only the
matches in the slice are read; a slice with too few is widened, at last to every post. Matches
are counted up to COUNTED_MATCHES (beyond, "At least N"); newest first lists the newest of them;
best match is ts_rank (titles count twice a body) among the newest SEARCH_RANKED_MATCHES, and
says so; a phrase is checked in the newest posts with its words, as Whoosh's; `in:title` has a
GIN index of the titles' words (`_search` has the measurements). Excerpts are ts_headline of
the page's hits only. "Did you mean" looks for near words (pg_trgm) in `search_words`, the words
of each SIG, among the SIGs the reader may read. A search's statements stop after
STATEMENT_TIMEOUT_MS and are planned to use the GIN index (`_time_limit`).

Another kind of document (an attachment's text, a library item) would get a table of its own
beside `post_vectors`, written in its own transaction the same way, and a walk of its own beside
`_search`'s (matched by `_Query.matching()`); the interface (documents.py) carries hits by id
either way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    String,
    Text,
    and_,
    any_,
    case,
    cast,
    column,
    delete,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, REGCONFIG, TSQUERY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError

from ..accounts.models import User
from ..db import transaction
from ..extensions import db
from ..i18n import gettext as _
from ..permissions import public_posts_clause
from ..sigs.models import Sig
from ..topics.models import Post, Topic
from .documents import (
    EXCERPT_CHARS,
    BackendHit,
    BackendResults,
    DrainClock,
    PostDocument,
    SearchRejected,
    SigScope,
    plain_excerpt,
)
from .models import TITLE_WEIGHTS, PostVector, SearchWord
from .parsing import Clause, ParsedQuery

CONFIGS = {"en": "english", "de": "german", "es": "spanish"}
ALL_CONFIGS = ("english", "german", "spanish", "simple")
RANKED_MATCHES = 2000  # as the Whoosh backend: best match ranks the newest this many matches
# Matches counted at most: past this many the page says "At least 2,000 posts found." (see
# _search for why, measured).
COUNTED_MATCHES = 2000
# ts_rank's weights for D, C, B, A: a title (A) counts twice a body (B), as TITLE_BOOST in Whoosh.
WEIGHTS = "{0.1, 0.2, 0.5, 1.0}"
NORMALIZATION = 1  # divide by 1 + log(length): a long post does not win by length alone
HEADLINE_CHARS = 50_000  # of a body, as Whoosh's excerpts: ts_headline parses all it is given
# A ranked or newest-first search reads the newest slice of the forum first, as many posts as
# PostgreSQL's estimate of its words' frequency says hold `window` candidates (the matches it
# counts, plus one), SLICE_MARGIN times that for chance; a slice with fewer tries one as much
# wider as its share of them says, and the SLICE_TRIES-th try reads them all (see _search).
SLICE_MARGIN = 1.5
# A slice of more than this share of the posts is every post: finding its cut would read most
# of the dates' index ('gapipa', 3,700 matches: 88,000 entries, 10-35 ms) to save little.
SLICE_MOST = 0.5
SLICE_TRIES = 3
# A capped search reads its window of the newest candidates from the vectors alone, and asks
# the policy's clauses of those only (ninth session, 2026-12-07: joining every match to its
# post, topic and SIG first was a third of a common pair's CPU, 'running power' 41 -> 29 ms):
# the count is then "At least" the readable ones among them. Past this many candidates the
# clauses turned away, the search is read again with the clauses first.
POLICY_SLACK = 20
REBUILD_BATCH = 2000
WORD_CHARS = (3, 64)  # the lengths of words kept for "did you mean"
MAINTENANCE_LOCK = 0x5EA2C4  # pg_advisory_lock key: one reindex at a time
# A search's statements end after this long: a query built to be slow (twenty short prefixes,
# say) gets a message instead of holding a connection and a CPU.
STATEMENT_TIMEOUT_MS = 5000
# ts_headline marks matches with these (Unicode private use characters, removed from the text
# first); the result is escaped and they become <mark> tags.
START, STOP = "\ue000", "\ue001"
HEADLINE_ALL = f"HighlightAll=true, StartSel={START}, StopSel={STOP}"
HEADLINE_FRAGMENTS = (
    f'MaxFragments=2, MaxWords=24, MinWords=10, FragmentDelimiter=" … ", '
    f"StartSel={START}, StopSel={STOP}"
)
PREFIX_RE = re.compile(r"\w+")


def config_for(language: str) -> str:
    return CONFIGS.get(language, "simple")


def _config_expr(language: Any) -> ColumnElement[str]:
    return case(*((language == code, name) for code, name in CONFIGS.items()), else_="simple")


# --- writing, inside the transaction that changes the post ----------------------------------
def write_vectors(where: ColumnElement[bool], words: bool = True) -> None:
    """(Re)write the vectors of the posts matching `where` (SQL on Post, Topic, Sig) from what
    the transaction holds now; with `words`, add their words to the SIG's lexicon."""
    session = db.session
    session.flush()  # the post, its topic and its SIG as this transaction has them
    config = _config_expr(Sig.language)
    regconfig = cast(config, REGCONFIG)
    title = case((Post.id == Topic.first_post_id, Topic.title), else_="")
    vector = func.setweight(func.to_tsvector(regconfig, title), _weight("A")).op("||")(
        func.setweight(func.to_tsvector(regconfig, Post.body_html), _weight("B"))
    )
    rows = (
        select(Post.id, config, vector, Post.created_at, Topic.sig_id)
        .join(Topic, Topic.id == Post.topic_id)
        .join(Sig, Sig.id == Topic.sig_id)
        .where(where)
        .order_by(Post.id)  # (rows locked in one order: no deadlock between two writers)
    )
    names = ["post_id", "config", "vector", "created_at", "sig_id"]
    stmt = pg_insert(PostVector).from_select(names, rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[PostVector.post_id],
        set_={name: stmt.excluded[name] for name in names[1:]},
    )
    session.execute(stmt)
    if words:
        add_words(where)


def _weight(letter: str) -> ColumnElement[Any]:
    return literal_column(f"'{letter}'::\"char\"")


def _words_select(where: ColumnElement[bool], counted: bool) -> Any:
    title = case((Post.id == Topic.first_post_id, Topic.title), else_="")
    text = func.concat(title, " ", Post.body_html)
    # The simple configuration: words as written, lower-cased; HTML tags and entities are not
    # words to PostgreSQL's parser.
    words = (
        func.unnest(
            func.tsvector_to_array(func.to_tsvector(literal("simple").cast(REGCONFIG), text))
        )
        .table_valued("word")
        .render_derived()
    )
    low, high = WORD_CHARS
    stmt = (
        select(Topic.sig_id, words.c.word, func.count() if counted else literal(1))
        .select_from(Post)
        .join(Topic, Topic.id == Post.topic_id)
        .join(words, true())
        .where(
            where,
            public_posts_clause(),
            Topic.deleted_at.is_(None),
            func.length(words.c.word).between(low, high),
            words.c.word.bool_op("~")(r"^\D"),  # no numbers
        )
        .group_by(Topic.sig_id, words.c.word)
        .order_by(Topic.sig_id, words.c.word)  # (in one order: no deadlock between writers)
    )
    return stmt


def add_words(where: ColumnElement[bool]) -> None:
    """Add the words of the readable posts matching `where` to their SIG's lexicon (new words
    only: a word already there is not written, so busy SIGs do not contend for its row)."""
    stmt = pg_insert(SearchWord).from_select(
        ["sig_id", "word", "posts"], _words_select(where, counted=False)
    )
    db.session.execute(stmt.on_conflict_do_nothing())


def rewrite_sig(sig_id: int) -> None:
    """A SIG's language changed: its posts are analysed again (in the same transaction)."""
    language = db.session.scalar(select(Sig.language).where(Sig.id == sig_id))
    if language is None:
        return
    stale = db.session.scalar(
        select(PostVector.post_id)
        .join(Post, Post.id == PostVector.post_id)
        .join(Topic, Topic.id == Post.topic_id)
        .where(Topic.sig_id == sig_id, PostVector.config != config_for(language))
        .limit(1)
    )
    if stale is not None:
        write_vectors(Topic.sig_id == sig_id)


# --- reading --------------------------------------------------------------------------------
def _regconfig(name: str) -> ColumnElement[Any]:
    return literal(name).cast(REGCONFIG)


def _clause_query(clause: Clause, config: str, loose: bool = False) -> ColumnElement[Any]:
    cfg = _regconfig(config)
    if clause.prefix:
        if not PREFIX_RE.fullmatch(clause.text):
            # (parsing.py lets only letters and digits through as a prefix)
            raise SearchRejected(_("“%(word)s*” cannot be searched as a prefix.", word=clause.text))
        # The word's stem and the word as written, each a prefix (as the Whoosh backend).
        term = literal(f"'{clause.text.lower()}':*")
        return func.tsquery_or(
            func.to_tsquery(cfg, term, type_=TSQUERY),
            func.to_tsquery(_regconfig("simple"), term, type_=TSQUERY),
            type_=TSQUERY,
        )
    if clause.kind == "phrase" and not loose:
        return func.phraseto_tsquery(cfg, literal(clause.text, Text), type_=TSQUERY)
    return func.plainto_tsquery(cfg, literal(clause.text, Text), type_=TSQUERY)


def _combine(fn: str, parts: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    out = parts[0]
    for part in parts[1:]:
        out = getattr(func, fn)(out, part, type_=TSQUERY)
    return out


class _Query:
    """A ParsedQuery as tsqueries, one per text search configuration in use: `positive` (the
    words a post must have; "" where they are all stop words there), `negative` (the excluded
    ones) and `full` (both). Built by PostgreSQL from bound parameters in one round trip, then
    passed back as tsquery values: constants to the planner, parsed once, not once a row."""

    def __init__(self, parsed: ParsedQuery) -> None:
        self.parsed = parsed
        self.positive: dict[str, str] = {}
        self.negative: dict[str, str] = {}
        self.full: dict[str, str] = {}
        # With a phrase: its words, in any places (what the GIN index answers exactly).
        self.loose: dict[str, str] = {}
        self.configs: list[str] = []
        if parsed.clauses:
            self._compile()
        else:
            self.configs = self._configs_in_use()

    def _compile(self) -> None:
        groups: list[list[Clause]] = []
        for clause in self.parsed.clauses:
            if clause.or_with_previous and groups:
                groups[-1].append(clause)
            else:
                groups.append([clause])
        columns: list[ColumnElement[Any]] = []
        for config in ALL_CONFIGS:
            musts = []
            nots = []
            for group in groups:
                options = [_clause_query(c, config) for c in group if not c.negated]
                if options:
                    musts.append(_combine("tsquery_or", options))
                nots += [_clause_query(c, config) for c in group if c.negated]
            pos = _combine("tsquery_and", musts) if musts else None
            neg = _combine("tsquery_or", nots) if nots else None
            full = pos
            if pos is not None and neg is not None:
                full = func.tsquery_and(pos, func.tsquery_not(neg, type_=TSQUERY), type_=TSQUERY)
            loose = None
            if self.has_phrase:
                words = [
                    _combine("tsquery_or", [_clause_query(c, config, True) for c in options])
                    for options in ([c for c in group if not c.negated] for group in groups)
                    if options
                ]
                loose = _combine("tsquery_and", words) if words else None
            for expr in (pos, neg, full, loose):
                value = cast(expr, Text) if expr is not None else literal("", Text)
                columns.append(value.label(f"q{len(columns)}"))
        row = db.session.execute(select(*columns, _languages_in_use())).one()
        for n, config in enumerate(ALL_CONFIGS):
            got = row[4 * n : 4 * n + 4]
            self.positive[config], self.negative[config], self.full[config] = got[:3]
            if self.has_phrase:
                self.loose[config] = got[3]
        self.configs = [config_for(language) for language in row[-1]]

    def _configs_in_use(self) -> list[str]:
        languages = db.session.scalar(select(_languages_in_use())) or []
        return [config_for(language) for language in languages]

    @property
    def has_phrase(self) -> bool:
        return any(c.kind == "phrase" and not c.negated for c in self.parsed.clauses)

    @property
    def ranked(self) -> bool:
        return self.parsed.has_text

    def per_row(self, config_col: Any) -> ColumnElement[Any]:
        """The full tsquery of the row's configuration."""
        whens = [(config_col == c, _tsquery(self.full[c])) for c in ALL_CONFIGS if self.full[c]]
        return case(*whens, else_=_tsquery("")) if whens else _tsquery("")

    def matching(self, loose: bool = False, by_config: bool = True) -> ColumnElement[bool]:
        """The condition on PostVector of the posts this query finds (words, exclusions,
        in:title): one arm per configuration in use, each testing that configuration's tsquery
        only (no row is tested against another language's), ORed: the GIN index answers each
        arm (a BitmapOr), or a walk of the posts by date tests each row (see _search)."""
        # Configurations whose tsquery is the same (english and spanish both keep "modem")
        # share one arm, `config IN (...)`: one GIN scan for them, not one each (29,000
        # matches of 'modem monitor' were read twice, 15 ms each, under load).
        tested: dict[tuple[bool, str], list[str]] = {}
        for c in sorted(set(self.configs)):
            if not self.parsed.has_text:
                # Only exclusions and filters: every post without the excluded words.
                tested.setdefault((False, self.negative.get(c) or ""), []).append(c)
                continue
            pos, full = self.positive[c], self.full[c]
            if not pos:
                continue  # only stop words in this language: it finds nothing there
            if loose and self.loose.get(c):
                full = self.loose[c]
            # One condition the GIN index answers, exclusions included (`a & !b`: it has a
            # word to look up). Not `@@ pos AND @@ full`: PostgreSQL multiplies the two
            # conditions' frequencies, expected a quarter of the matches of 'graphics
            # -drucker' and read every post for its newest 2,000 (24,786 rows, 98 ms). With
            # in:title, the titles' own GIN index (ix_post_vectors_title): a few matches, not
            # every post with the words in its body.
            tested.setdefault((True, full), []).append(c)
        arms: list[ColumnElement[bool]] = []
        for (has, tsquery), configs in tested.items():
            arm: ColumnElement[bool] = (
                PostVector.config == configs[0]
                if len(configs) == 1
                else PostVector.config == any_(literal(configs, ARRAY(String)))
            )
            if not by_config:
                # (For _estimate: a language's stems are mostly in its own posts' vectors,
                # but PostgreSQL would multiply in the share of posts in that language.)
                arm = true()
            if tsquery:
                test = self._vector().bool_op("@@")(_tsquery(tsquery))
                arm = and_(arm, test if has else not_(test))
            arms.append(arm)
        if not arms:
            return false()
        return or_(*arms) if len(arms) > 1 else arms[0]

    def _vector(self) -> ColumnElement[Any]:
        if self.parsed.in_title:  # (the expression of ix_post_vectors_title)
            return func.ts_filter(PostVector.vector, literal_column(TITLE_WEIGHTS))
        return PostVector.vector  # type: ignore[return-value]


def _tsquery(text: str) -> ColumnElement[Any]:
    """A tsquery PostgreSQL itself made (_Query), bound as a value."""
    return cast(literal(text, Text), TSQUERY)


def _languages_in_use() -> ColumnElement[Any]:
    """The SIGs' languages, as an array (a handful of rows)."""
    return func.array(select(Sig.language).distinct().scalar_subquery())


def _sized(parsed: ParsedQuery) -> bool:
    """Whether PostgreSQL's statistics say how many posts hold the query's words: for words
    and phrases ANDed, yes (each lexeme's own frequency); for a prefix, an exclusion or an OR,
    its estimate is a guess: the first slice was too small for 15 of the bench's 200 searches
    (member, best match; 13 of them such searches) and the second statement cost more than the
    first, while reading every post newest first stops as soon as it has its candidates
    ('bil*' 149 -> 87 ms, 'keyboard -amiga' 88 -> 59,
    'pantalla OR zoravik' 105 -> 57; 100,000 posts, one process, quiet machine, 2026-12-06)."""
    return not any(c.prefix or c.negated or c.or_with_previous for c in parsed.clauses)


def _scope_clause(scope: SigScope) -> ColumnElement[bool]:
    """The posts a search may return: readable (the policy's clauses), in the scope's SIGs."""
    parts: list[ColumnElement[bool]] = [public_posts_clause(), Topic.deleted_at.is_(None)]
    if scope.readable is not None:
        parts.append(scope.readable)
    if scope.allowed is not None:
        parts.append(Topic.sig_id.in_(sorted(scope.allowed)))
    elif scope.excluded:
        parts.append(Topic.sig_id.not_in(sorted(scope.excluded)))
    return and_(*parts)


def _sig_narrowing(scope: SigScope) -> list[ColumnElement[bool]]:
    """The scope's SIGs on the vectors' own sig_id: where to look, before the policy's clauses
    decide (a vector's SIG is its topic's, rewritten when the topic moves; _scope_clause
    still checks the post, its topic and SIG after). The SIGs left out, as a filter on the
    rows read: an `IN` of the readable ones PostgreSQL ANDed as a bitmap of every post of
    them (100,000 entries, 7 ms for a member who may read every SIG)."""
    if scope.excluded:
        return [PostVector.sig_id.not_in(sorted(scope.excluded))]
    return []


def _filters(parsed: ParsedQuery) -> list[ColumnElement[bool]]:
    return [*_post_filters(parsed), *_dates(parsed)]


def _post_filters(parsed: ParsedQuery) -> list[ColumnElement[bool]]:
    """author: and in:title, on Post and Topic."""
    out: list[ColumnElement[bool]] = []
    if parsed.author:
        author = select(User.id).where(func.lower(User.username) == parsed.author.lower())
        out.append(Post.user_id.in_(author.scalar_subquery()))
    if parsed.in_title:
        out.append(Post.id == Topic.first_post_id)
    return out


def _dates(parsed: ParsedQuery) -> list[ColumnElement[bool]]:
    """after: and before: on the vectors' dates (their posts', indexed with them)."""
    out: list[ColumnElement[bool]] = []
    if parsed.after:
        out.append(PostVector.created_at >= parsed.after)
    if parsed.before:
        out.append(PostVector.created_at < parsed.before)
    return out


class PostgresBackend:
    """Searches the `post_vectors` of the forum's own database (see the module docstring)."""

    def __init__(
        self, ranked_matches: int = RANKED_MATCHES, counted_matches: int = COUNTED_MATCHES
    ) -> None:
        self.ranked_matches = ranked_matches
        self.counted_matches = counted_matches

    # -- the parts of the interface that keep a separate index: nothing to do here ----------
    @contextmanager
    def writer(self, timeout: float = 5.0) -> Iterator[_NoWriter]:
        yield _NoWriter()

    @contextmanager
    def draining(self, timeout: float = 5.0) -> Iterator[DrainClock]:
        # Nothing feeds the queue with this backend; rows left by Whoosh are simply let go
        # (indexer.whoosh_epoch tells a Whoosh index it missed changes).
        yield DrainClock()

    @contextmanager
    def maintenance(self) -> Iterator[None]:
        with db.engine.connect() as conn:
            conn.execute(select(func.pg_advisory_lock(MAINTENANCE_LOCK)))
            try:
                yield
            finally:
                conn.execute(select(func.pg_advisory_unlock(MAINTENANCE_LOCK)))
                conn.commit()

    def reset(self) -> None:
        """Nothing to throw away: a rebuild rewrites every vector while search goes on."""

    def close(self) -> None:
        pass

    def check(self) -> str:
        """ "missing" before the first fill, "outdated" while some post has no vector."""
        posts = select(Post.id).where(
            ~select(PostVector.post_id).where(PostVector.post_id == Post.id).exists()
        )
        if db.session.scalar(posts.limit(1)) is None:
            return "ok"
        if db.session.scalar(select(PostVector.post_id).limit(1)) is None:
            return "missing"
        return "outdated"

    def rebuild(
        self,
        docs: Iterable[PostDocument],
        progress: Callable[[int], None] | None = None,
        procs: int = 1,
    ) -> int:
        """Write every post's vector again, REBUILD_BATCH posts a transaction (the forum goes
        on serving; a post written meanwhile has its vector already). `docs` is not read: the
        database is this backend's source, read set-wise in SQL."""
        session = db.session
        session.commit()
        with transaction() as tx:
            tx.execute(delete(SearchWord))
        count = 0
        last = 0
        while True:
            ids = list(
                session.scalars(
                    select(Post.id).where(Post.id > last).order_by(Post.id).limit(REBUILD_BATCH)
                )
            )
            if not ids:
                break
            where = Post.id.between(ids[0], ids[-1])
            with transaction():
                write_vectors(where, words=False)
                stmt = pg_insert(SearchWord).from_select(
                    ["sig_id", "word", "posts"], _words_select(where, counted=True)
                )
                session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[SearchWord.sig_id, SearchWord.word],
                        set_={"posts": SearchWord.posts + stmt.excluded.posts},
                    )
                )
            count += len(ids)
            last = ids[-1]
            if progress:
                progress(len(ids))
        return count

    # -- searching --------------------------------------------------------------------------
    def search(
        self,
        parsed: ParsedQuery,
        scope: SigScope,
        *,
        newest: bool,
        offset: int,
        limit: int,
        rank_all: bool = False,
    ) -> BackendResults:
        with _time_limit():
            return self._search(parsed, scope, newest, offset, limit, rank_all)

    def _search(
        self,
        parsed: ParsedQuery,
        scope: SigScope,
        newest: bool,
        offset: int,
        limit: int,
        rank_all: bool,
    ) -> BackendResults:
        query = _Query(parsed)
        terms = (
            {"text": {c.text for c in parsed.clauses if not c.negated}} if parsed.has_text else {}
        )

        # Issue 26: 100,000 posts, bench/search_bench.py's 200 searches; EXPLAIN (ANALYZE,
        # BUFFERS) on a copy of its database, 2 shared cores. What made a common word cost 1.7 s
        # at p99 was visiting every match: an exact count and a sort by date (or a rank) of all
        # of them ('modem': 99,999 matches, 1.8 s, 61,000 buffers). Kept, with what each saved:
        # - The count stops at COUNTED_MATCHES + 1 (a LIMIT under the count): "At least 2,000"
        #   beyond, as Whoosh's counts; exact below, where it is cheap.
        # - One condition on post_vectors (the languages' tsqueries ORed, PostgreSQL makes a
        #   BitmapOr of the GIN scans), not a UNION of one SELECT per language: the union
        #   could not be walked in date order (it was hashed whole, then joined: 1.7 s for
        #   'modem' newest first), the one condition is tested row by row while the posts are
        #   walked newest first (ix_posts_created_cover backwards): 'modem' newest 8.8 ms, 21
        #   rows read. A rare word ('zoravik', 111 matches) still takes the bitmap and sorts.
        # - Best match ranks the newest SEARCH_RANKED_MATCHES found by that same walk, counted
        #   in the same CTE (`n`, their place by date): 'modem' 117 ms, 'kosi' (5,587 matches)
        #   211 ms under load 12, against 1.5-2 s.
        # - ts_rank reads each ranked vector by its key after the walk (2,000 lookups, 2-20 ms
        #   in the plans) rather than carrying 900-byte rows through the walk and its sort.
        # - A phrase is checked among the newest posts with its words ("printer network": the
        #   planner, pricing `<->` like `&`, expected 24,163 matches and walked all 100,000
        #   posts for 1,550, 505 ms; bounded, 65 ms): what is found there is a floor.
        # - Counting newest-first matches from a CTE read by each figure (three InitPlans ran
        #   the count three times: 'daleku' 98 -> 28 ms).
        # - PLANNER_SETTINGS (no parallel workers, rows priced as in memory), measured there.
        # Then (2026-12-06, the bench's database VACUUMed as autovacuum would have; load 2-7):
        # the walk read a post and its vector for every post it passed, and for a pair of common
        # words ('testing graphics', 13,000 matches) PostgreSQL took the bitmap of all the
        # matches and joined every one (12,967 rows, 110 ms; 'in:title' read every vector with
        # the word, 47-105 ms). Now:
        # - The vectors carry their post's date and SIG (0032): a search reads the newest slice
        #   of the forum first (`post_vectors.created_at >= cut`, which PostgreSQL ANDs with
        #   the GIN bitmap before reading a row), so only the matches in the slice are read and
        #   joined: 'testing graphics' 12,967 rows -> 2,610; `sig:` slices that SIG.
        # - The slice's size from PostgreSQL's own estimate of the words' frequency (_estimate,
        #   one EXPLAIN, no row read), SLICE_MARGIN more; too few candidates there: once wider
        #   by what it found, then every post. An author's posts are read whole.
        # - Exclusions in the one GIN condition (`a & !b`), languages with the same tsquery in
        #   one arm (one GIN scan, not one each), in:title through ix_post_vectors_title
        #   ('graphics in:title' 47 -> 1.4 ms), topics checked from ix_topics_id_cover.
        # - Excerpts from arrays (one cached statement; a VALUES list was compiled each time,
        #   6 ms), "did you mean" looks for near words only for unknown ones (30 ms).
        # What is left (EXPLAIN ANALYZE at load 5-7): the GIN bitmap of two common words (5-25
        # ms: it reads every match's entry, however few are in the slice), the 2,000-3,000 rows
        # read and joined in the slice (30-60 ms), ts_rank of 2,000 (5-10 ms), app 12-20 ms.
        # Not tried: ts_rank_cd (ts_rank ranks already), precomputed weights, a narrower
        # vectors table (TOASTed vectors would make the slice's rows small but every rank and
        # phrase check a detoast), GIN fastupdate (a setting for writes).
        # Then (2026-12-07, ninth session; bench/pg_search_cpu.py, the server process's own CPU
        # per search over the bench's 200): the statement below was 85 % of a search's
        # PostgreSQL CPU, and it joined every match to its post, topic and SIG before taking
        # the newest `window` ('running power': 7,659 matches joined for 2,001). Now:
        # - The window is taken from the vectors alone (the reader's SIGs by the vectors'
        #   sig_id, as a filter: an `IN` of every readable SIG was ANDed as a bitmap of all
        #   100,000 posts, 7 ms), and only its rows are joined for the policy's exact clauses
        #   (POLICY_SLACK): 'running power' 41 -> 29 ms, 'programming drucker' 45 -> 31.
        # - Tried, no use: TOASTing the vectors out of line (toast_tuple_target = 128): rows
        #   under 2 kB are never moved out, whatever the target, so the heap stays 99 MB.

        def matches(where: ColumnElement[bool]) -> Any:
            return (
                select(Post.id, Post.topic_id, PostVector.created_at, PostVector.config)
                .select_from(PostVector)
                .join(Post, Post.id == PostVector.post_id)
                .join(Topic, Topic.id == Post.topic_id)
                .join(Sig, Sig.id == Topic.sig_id)
                .where(where, _scope_clause(scope), *_filters(parsed))
            )

        def rank(rows: Any) -> ColumnElement[Any]:
            vector = select(PostVector.vector).where(PostVector.post_id == rows.c.id)
            return func.ts_rank(
                literal_column(f"'{WEIGHTS}'::float4[]", ARRAY(Float)),
                vector.scalar_subquery(),
                query.per_row(rows.c.config),
                NORMALIZATION,
            )

        session = db.session
        found = query.matching()
        # Counted and ranked: the matches among the newest `window` candidates, the posts with
        # the query's words (with a phrase, in any places: each is checked, as Whoosh does).
        if query.has_phrase:
            candidates, hit = query.matching(loose=True), found
        else:
            candidates, hit = found, true()
        newest_first = (PostVector.created_at.desc(), PostVector.post_id.desc())
        among = None if rank_all else self.ranked_matches or None
        ranked = query.ranked and not newest
        if ranked and among is None:
            # Every match ranked (the reader asked, or SEARCH_RANKED_MATCHES is 0): each one
            # is visited anyway, so the count is exact.
            every = matches(found).cte("m")
            total = select(func.count()).select_from(every).scalar_subquery().label("total")
            stmt = select(every.c.id, every.c.topic_id, every.c.created_at, every.c.config, total)
            stmt = stmt.order_by(rank(every).desc(), every.c.created_at.desc(), every.c.id.desc())
            rows = session.execute(stmt.offset(offset).limit(limit)).all()
            got = rows[0] if rows else session.execute(select(total)).one()
            count, exact, ranked_among = int(got.total or 0), True, None
        else:
            window = (max(self.counted_matches, among or 0) if ranked else self.counted_matches) + 1
            # The newest slice of the forum (of the SIG, with `sig:`) first, wider until it
            # holds `window` candidates; an author's posts are few, and read whole, and so is
            # the forum for words PostgreSQL cannot count beforehand (_sized).
            sig = next(iter(scope.allowed)) if scope.allowed and len(scope.allowed) == 1 else None
            size: int | None = None  # the slice: the newest this many posts (None: every one)
            searched = 0.0
            if not parsed.author and _sized(parsed):
                expected, searched = self._estimate(
                    query.matching(loose=query.has_phrase, by_config=False), sig, parsed
                )
                size = max(window, int(window * SLICE_MARGIN * searched / max(expected, 1)))
            tries = 0
            # The window read from the vectors first, then the policy's clauses on it (below);
            # an author's posts, or a window the clauses thinned, with the clauses first.
            early = not parsed.author
            while True:
                tries += 1
                if size is not None and (size >= searched * SLICE_MOST or tries >= SLICE_TRIES):
                    size = None  # (most of the forum: every post, without finding the cut)
                cut = self._cut(parsed, size, sig) if size is not None else None
                sliced = [
                    *([PostVector.sig_id == sig] if sig is not None else []),
                    *([PostVector.created_at >= cut] if cut is not None else []),
                ]
                n = func.row_number().over(order_by=newest_first).label("n")
                if not early:
                    # The policy's clauses (and an author: their matches are few among the
                    # newest candidates) before the window.
                    top = matches(candidates).where(*sliced)
                    top = top.add_columns(hit.label("hit"), n).order_by(*newest_first)
                    top = top.limit(window).cte("top")
                    read = top
                else:
                    # The newest `window` candidates from the vectors alone (their SIGs
                    # narrowed to the readable ones by the vectors' sig_id), and only those
                    # joined to their posts, topics and SIGs for the policy's exact clauses.
                    read = (
                        select(
                            PostVector.post_id,
                            PostVector.created_at,
                            PostVector.config,
                            hit.label("hit"),
                            n,
                        )
                        .where(candidates, *sliced, *_dates(parsed), *_sig_narrowing(scope))
                        .order_by(*newest_first)
                        .limit(window)
                        .cte("read")
                    )
                    top = (
                        select(
                            Post.id,
                            Post.topic_id,
                            read.c.created_at,
                            read.c.config,
                            read.c.hit,
                            read.c.n,
                        )
                        .select_from(read)
                        .join(Post, Post.id == read.c.post_id)
                        .join(Topic, Topic.id == Post.topic_id)
                        .join(Sig, Sig.id == Topic.sig_id)
                        .where(_scope_clause(scope), *_post_filters(parsed))
                        .cte("top")
                    )
                counts = {"total": func.count().filter(top.c.hit)}
                if ranked:
                    counts["in_rank"] = func.count().filter(and_(top.c.hit, top.c.n <= among))
                figures = [
                    select(value).select_from(top).scalar_subquery().label(name)
                    for name, value in counts.items()
                ]
                figures += [
                    select(func.count()).select_from(read).scalar_subquery().label("checked"),
                    select(func.count()).select_from(top).scalar_subquery().label("kept"),
                ]
                stmt = select(top.c.id, top.c.topic_id, top.c.created_at, top.c.config)
                if ranked:
                    stmt = stmt.where(top.c.hit, top.c.n <= among)
                    stmt = stmt.order_by(rank(top).desc(), top.c.created_at.desc(), top.c.id.desc())
                else:
                    stmt = stmt.where(top.c.hit).order_by(top.c.n)
                rows = session.execute(stmt.add_columns(*figures).offset(offset).limit(limit)).all()
                got = rows[0] if rows else session.execute(select(*figures)).one()
                checked = int(got.checked or 0)
                if early and checked >= window and checked - int(got.kept or 0) > POLICY_SLACK:
                    # More of the window's candidates than POLICY_SLACK hidden, deleted or out
                    # of the reader's SIGs: a floor that low would say little. Again, the
                    # clauses first (the count as before this shape).
                    early = False
                    continue
                if checked >= window or size is None or cut is None:
                    break
                # Fewer than estimated: the slice's share of candidates says how wide a slice
                # holds `window` of them.
                size = int(size * window * SLICE_MARGIN / max(checked, 1))
            count = int(got.total or 0)
            exact = checked < window
            in_ranking = int(got.in_rank or 0) if ranked else count
            if not exact:
                count = min(count, window - 1)
            ranked_among = None
            if ranked and among and (not exact or count > in_ranking):
                ranked_among = in_ranking
            if not ranked and len(rows) < limit and not exact:
                # The page reaches past the window's matches (a phrase whose words are common
                # and seldom side by side, or a page far down): the matches, newest first.
                page = matches(found).order_by(*newest_first).offset(offset).limit(limit)
                rows = session.execute(page).all()
        if not rows and not count and not exact and offset == 0:
            # A phrase none of the newest candidates holds (its words are common, side by
            # side rarely): its newest matches, as many as the page shows.
            rows = session.execute(matches(found).order_by(*newest_first).limit(limit)).all()
            count, ranked_among = len(rows), None
        hits = [
            BackendHit(
                post_id=r.id, topic_id=r.topic_id, language=r.config, created_at=r.created_at
            )
            for r in rows
        ]
        common = self._common(parsed) if not count and parsed.has_text else []
        return BackendResults(
            hits=hits,
            total=count,
            total_exact=exact,
            ranked_among=ranked_among,
            terms=terms,
            common=common,
            context=query,
        )

    def _estimate(
        self, candidates: ColumnElement[bool], sig: int | None, parsed: ParsedQuery
    ) -> tuple[float, float]:
        """PostgreSQL's estimates, from ANALYZE's statistics and without reading a row, of the
        vectors with the query's words and of the vectors searched (of that SIG; within
        after: and before:): how wide a first slice holds `window` candidates. One EXPLAIN."""
        where = [*_dates(parsed), *([PostVector.sig_id == sig] if sig is not None else [])]
        both = union_all(
            select(PostVector.post_id).where(candidates, *where),
            select(PostVector.post_id).where(*where),
        )
        conn = db.session.connection()
        compiled = both.compile(dialect=conn.dialect)
        plan = conn.exec_driver_sql(
            f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params
        ).scalar_one()
        if isinstance(plan, str):  # (a driver that hands back the text)
            plan = json.loads(plan)
        try:
            first, second = plan[0]["Plan"]["Plans"]
            return float(first["Plan Rows"]), float(second["Plan Rows"])
        except (KeyError, IndexError, TypeError, ValueError):
            # (A plan of another shape: a branch PostgreSQL knew was empty, say.) Every post.
            return 1.0, 0.0

    def _cut(self, parsed: ParsedQuery, size: int, sig: int | None) -> datetime | None:
        """The date of the `size`-th newest post (of that SIG; within after: and before:),
        where a slice of the newest `size` begins; None when there are fewer (every post)."""
        stmt = (
            select(PostVector.created_at)
            .where(*_dates(parsed), *([PostVector.sig_id == sig] if sig is not None else []))
            .order_by(PostVector.created_at.desc())
            .offset(size - 1)
            .limit(1)
        )
        return db.session.scalar(stmt)  # type: ignore[no-any-return]

    def _common(self, parsed: ParsedQuery) -> list[str]:
        """The query's words that some language leaves out as stop words (one query)."""
        words = [c.text for c in parsed.clauses if not c.negated and not c.prefix]
        if not words:
            return []
        checks = [
            func.numnode(func.plainto_tsquery(_regconfig(c), literal(w, Text), type_=TSQUERY)) == 0
            for w in words
            for c in ALL_CONFIGS[:3]
        ]
        flags = db.session.execute(select(*checks)).one()
        out = []
        for i, word in enumerate(words):
            if any(flags[i * 3 : i * 3 + 3]) and word.lower() not in out:
                out.append(word.lower())
        return out

    def excerpt(
        self, results: BackendResults, hit: BackendHit, text: str, *, title: bool = False
    ) -> Markup:
        got = self.excerpts(results, [(hit, text if title else None, "" if title else text)])
        return (got[0][0] or Markup("")) if title else got[0][1]

    def excerpts(
        self, results: BackendResults, items: list[tuple[BackendHit, str | None, str]]
    ) -> list[tuple[Markup | None, Markup]]:
        """ts_headline of the page's hits, in one query."""
        query = results.context
        if not items or not isinstance(query, _Query) or not query.parsed.has_text:
            return [
                (plain_excerpt(t, title=True) if t is not None else None, plain_excerpt(b))
                for _h, t, b in items
            ]
        # The page's texts as four arrays, unnested: one statement of the same shape for every
        # page, which SQLAlchemy compiles once (a VALUES list of 20 rows took 6 ms a search).
        arrays = (
            literal(list(range(len(items))), ARRAY(Integer)),
            literal([hit.language for hit, _t, _b in items], ARRAY(String)),
            literal([_clean(title or "") for _h, title, _b in items], ARRAY(Text)),
            literal([_clean(body[:HEADLINE_CHARS]) for _h, _t, body in items], ARRAY(Text)),
        )
        rows = (
            func.unnest(*arrays)
            .table_valued(
                column("n", Integer),
                column("config", String),
                column("title", Text),
                column("body", Text),
            )
            .render_derived(name="h")
        )
        q = query.per_row(rows.c.config)
        cfg = cast(rows.c.config, REGCONFIG)
        body_options = case(
            (func.length(rows.c.body) <= EXCERPT_CHARS, HEADLINE_ALL), else_=HEADLINE_FRAGMENTS
        )
        stmt = select(
            rows.c.n,
            func.ts_headline(cfg, rows.c.title, q, HEADLINE_ALL),
            func.ts_headline(cfg, rows.c.body, q, body_options),
        ).order_by(rows.c.n)
        out: list[tuple[Markup | None, Markup]] = []
        for (_hit, title, body), (_n, title_hl, body_hl) in zip(
            items, db.session.execute(stmt).all(), strict=True
        ):
            out.append(
                (
                    _marked(title_hl, title, title=True) if title is not None else None,
                    _marked(body_hl, body),
                )
            )
        return out

    def suggest(
        self, parsed: ParsedQuery, prefer: str | None = None, scope: SigScope | None = None
    ) -> ParsedQuery | None:
        """Each word no readable SIG has, replaced by the nearest word one has (pg_trgm
        similarity, then how many posts have it). `prefer` is not used: the words are the
        forum's own, in whichever language."""
        wanted = [
            c.text.lower()
            for c in parsed.clauses
            if c.kind == "word"
            and not c.negated
            and not c.prefix
            and len(c.text) >= WORD_CHARS[0]
            and PREFIX_RE.fullmatch(c.text)
        ]
        if not wanted:
            return None
        sigs = select(Sig.id)
        if scope is not None:
            sigs = sigs.where(
                *([scope.readable] if scope.readable is not None else []),
                *([Sig.id.in_(sorted(scope.allowed))] if scope.allowed is not None else []),
            )
        asked = func.unnest(literal(wanted, ARRAY(Text))).table_valued("w").render_derived()
        known = (
            select(SearchWord.word)
            .where(SearchWord.word == asked.c.w, SearchWord.sig_id.in_(sigs))
            .exists()
        )
        near = (
            select(SearchWord.word)
            .where(SearchWord.word.bool_op("%")(asked.c.w), SearchWord.sig_id.in_(sigs))
            .order_by(func.similarity(SearchWord.word, asked.c.w).desc(), SearchWord.posts.desc())
            .limit(1)
            .scalar_subquery()
        )
        # (The near word only for a word no readable SIG has: a CASE runs its subquery only
        # when reached, and the trigram search is the costly part, 30 ms at 100,000 posts.)
        nearest_ = case((known, None), else_=near)
        rows = db.session.execute(select(asked.c.w, known, nearest_)).all()
        found = {w: (k, n) for w, k, n in rows}
        changed = False
        clauses = []
        for clause in parsed.clauses:
            known_, nearest = found.get(clause.text.lower(), (True, None))
            if not known_ and nearest and clause.kind == "word" and not clause.negated:
                clauses.append(clause.replace(text=nearest))
                changed = True
            else:
                clauses.append(clause)
        return parsed.replace(clauses=tuple(clauses)) if changed else None

    def word_for(self, stem: str, texts: Iterable[str], prefer: str | None = None) -> str | None:
        return None  # suggest() gives words as written already

    def indexed_post_ids(self) -> set[int]:
        """The posts a search can find (readable, with a vector)."""
        stmt = (
            select(PostVector.post_id)
            .join(Post, Post.id == PostVector.post_id)
            .join(Topic, Topic.id == Post.topic_id)
            .where(public_posts_clause(), Topic.deleted_at.is_(None))
        )
        return set(db.session.scalars(stmt))

    def has_other_language(self, sig_id: int, language: str) -> bool:
        stmt = (
            select(PostVector.post_id)
            .join(Post, Post.id == PostVector.post_id)
            .join(Topic, Topic.id == Post.topic_id)
            .where(Topic.sig_id == sig_id, PostVector.config != config_for(language))
            .limit(1)
        )
        return db.session.scalar(stmt) is not None


class _NoWriter:
    """The queue's writer: nothing to write (the vectors are written with the posts)."""

    def upsert(self, doc: PostDocument) -> None:
        pass

    def remove_post(self, post_id: int) -> None:
        pass

    def remove_topic(self, topic_id: int) -> None:
        pass

    def remove_sig(self, sig_id: int) -> None:
        pass


# How a search's statements are planned (set for them only, see _time_limit):
PLANNER_SETTINGS = {
    # The GIN index, not a sequential scan of every vector of a language: PostgreSQL prices
    # `@@` as if free (a sequential scan was ten times slower here).
    "enable_seqscan": "off",
    # The cost above would otherwise make it compile each search (300 ms).
    "jit": "off",
    # Issue 26, 100,000 posts on 2 shared cores: two workers took 20-40 ms to start (Gather
    # Merge's first row) for a statement that is then 10-30 ms of work; a web request's
    # search keeps to one core.
    "max_parallel_workers_per_gather": "0",
    # The rows are in memory: with the default 4.0 the planner hashed every post (100,000 index
    # entries, 235 ms) to join 5,000 matches; priced as in memory it looks each one up by key
    # ('bil*' best match 368 -> 110 ms, 'graphics connection' 520 -> 351 ms; EXPLAIN ANALYZE).
    "random_page_cost": "1.1",
    # Planned for this search's own words and slice, every time. psycopg prepares a statement
    # run five times, and PostgreSQL then may plan it once for any parameters (a generic plan):
    # a warm worker searched a rare word beside common ones with the plan made for common
    # words ('design kifagu ordenador' 155 ms in a warm process, 13 ms in a fresh one; the
    # bench's 200 searches, newest first, p99 133 -> see docs/benchmarks.md).
    "plan_cache_mode": "force_custom_plan",
}


@contextmanager
def _time_limit() -> Iterator[None]:
    """The search's statements under STATEMENT_TIMEOUT_MS (until the request's read
    transaction ends); one that runs out raises SearchRejected.

    And planned as PLANNER_SETTINGS says (the GIN index, no JIT, no parallel workers, rows
    priced as in memory). Only for these statements: RESET after them."""
    session = db.session
    session.execute(
        select(
            func.set_config("statement_timeout", str(STATEMENT_TIMEOUT_MS), True),
            *(func.set_config(name, value, True) for name, value in PLANNER_SETTINGS.items()),
        )
    )
    try:
        yield
        session.execute(text("; ".join(f"RESET {name}" for name in PLANNER_SETTINGS)))
    except OperationalError as exc:
        # Imported here: this module is loaded on SQLite too, where psycopg is not otherwise
        # imported (about 10 MB in every worker); on PostgreSQL the driver has loaded it.
        from psycopg.errors import QueryCanceled

        if not isinstance(exc.orig, QueryCanceled):
            raise
        session.rollback()
        raise SearchRejected(
            _("This search took too long. Try fewer words, or longer ones before a *.")
        ) from None


def _clean(text: str) -> str:
    return text.replace(START, " ").replace(STOP, " ")


def _marked(headline: str | None, text: str, *, title: bool = False) -> Markup:
    """ts_headline's text escaped, its marks as <mark>; without a mark, the text's start."""
    if not headline or START not in headline:
        return plain_excerpt(_clean(text), title=title)
    html = str(escape(headline)).replace(START, "<mark>").replace(STOP, "</mark>")
    return Markup(html)


# --- what handlers.py calls inside a change's transaction -----------------------------------
def post_written(post_id: int) -> None:
    """A post was created or edited."""
    write_vectors(Post.id == post_id)


def post_shown(post_id: int) -> None:
    """A post's visibility changed: its vector stays (readability is checked when searching);
    a post now readable adds its words to the lexicon."""
    db.session.flush()
    add_words(Post.id == post_id)


def topic_changed(topic_id: int, post_ids: tuple[int, ...]) -> None:
    """A topic was retitled, moved, split or merged: its first post (the title) and the posts
    that changed topic or SIG."""
    first = select(Topic.first_post_id).where(Topic.id == topic_id).scalar_subquery()
    write_vectors(or_(Post.id == first, Post.id.in_(post_ids)) if post_ids else Post.id == first)
