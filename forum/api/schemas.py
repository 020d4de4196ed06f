"""The JSON shapes of /api/v1: what each operation takes and answers (pydantic models, from
which forum.api.spec writes the OpenAPI document).

Inputs are strict (a number is not a string, unknown fields are refused); outputs are the
stable, documented shapes. Times are ISO 8601 in UTC, ids are integers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..db import MAX_ID
from ..i18n import LANGUAGES
from ..messages.models import MAIL_FROM_EVERYONE, MAIL_FROM_SYSOPS
from ..notifications.digest import FREQUENCIES
from ..notifications.mail import CATEGORIES as MAIL_CATEGORIES
from ..notifications.mail import CHOICES as MAIL_CHOICES
from ..theme import THEMES

# A body is stored as text: its bound here is generous, and the service says the site's own
# (smaller) limit with the length sent. A short text is stored in a column of its own length
# (VARCHAR(n), which PostgreSQL refuses to overflow): its bound here is the service's, which
# the column holds and the page's form says too (tests/test_field_limits.py).
MAX_BODY = 100_000
MAX_TITLE = 200  # MAX_TITLE_LENGTH's default: topics.title
MAX_REASON = 500  # moderation.common.MAX_REASON: a reason, a flag's or a report's note
MAX_QUERY = 500

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class Input(BaseModel):
    """A request body: strict types, no fields beyond the documented ones."""

    model_config = ConfigDict(strict=True, extra="forbid")


class Query(BaseModel):
    """Query-string arguments (text on the wire, so not strict), no unknown ones."""

    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- errors ---------------------------------------------------------------------------------
class ErrorDetail(Output):
    field: str | None = Field(None, description="The input field at fault, when there is one.")
    type: str | None = Field(
        None,
        description="What is wrong, for programs: pydantic's error type (missing, "
        "extra_forbidden, string_pattern_mismatch, string_too_long, int_parsing, …).",
    )
    message: str = Field(description="What is wrong, in the reader's language.")


class ExistingItem(Output):
    """What a request sent twice made the first time (the double-submit rule)."""

    kind: str = Field(description="topic, post, conversation, message or concern.")
    id: int = Field(description="The item's id.")
    url: str = Field(
        description="Where to read it in the API: the topic, the post, the conversation, or "
        "the concern (a message: the conversation or concern that holds it)."
    )


class ErrorInfo(Output):
    status: int = Field(description="The HTTP status, repeated.")
    title: str = Field(description="A short title, in the reader's language.")
    message: str = Field(description="What went wrong, in the reader's language.")
    field: str | None = Field(None, description="The input field at fault, when there is one.")
    details: list[ErrorDetail] | None = Field(
        None, description="Every problem found in the input (validation errors)."
    )
    existing: ExistingItem | None = Field(
        None,
        description="A 409 for the same text sent again to the same place by the same member "
        "within a couple of minutes (a double submit): nothing new was written, and this is "
        "what the first request made.",
    )


class ErrorBody(Output):
    """Every error: `{"error": {"status", "title", "message", …}}`."""

    error: ErrorInfo


# --- shared parts ---------------------------------------------------------------------------
class MemberRef(Output):
    """A member. Where a member may be absent (`MemberRef | None`, a name `str | None`), null
    stands for an account that is gone or was deleted by its member (the pages' "Former
    member", accounts.former): a deleted account's placeholder name is never given; lists of
    members leave it out."""

    id: int
    username: str


# The description of every "who" that may be null (MemberRef's docstring says why).
WHO = "null: someone whose account is gone or deleted (a former member)."


class SigRef(Output):
    id: int
    slug: str
    name: str


class Membership(Output):
    role: Literal["member", "sysop"]
    joined_at: datetime


# --- SIGs -----------------------------------------------------------------------------------
class Sig(Output):
    id: int
    slug: str
    name: str
    description: str
    visibility: Literal["public", "members", "private"]
    language: str
    archived: bool
    is_support: bool
    topic_count: int
    post_count: int
    member_count: int
    last_posted_at: datetime | None
    url: str = Field(description="The SIG's page.")
    membership: Membership | None = Field(description="The reader's membership, if any.")
    can_read: bool = Field(description="Whether the reader may read its topics.")


class SigDetail(Sig):
    can_start_topic: bool
    write_problem: str | None = Field(description="Why the reader may not write here, if so.")
    join: Literal["member", "open", "closed"] = Field(
        description="member: the reader is in it; open: PUT membership joins it; closed: the "
        "reader may not join it (a private SIG is joined by request, from its page)."
    )


class SigList(Output):
    items: list[Sig]


class MembershipResult(Output):
    status: Literal["joined", "left"]
    sig: SigRef


# --- topics ---------------------------------------------------------------------------------
class Topic(Output):
    id: int
    sig: SigRef
    title: str
    slug: str
    author: MemberRef | None = Field(description=WHO)
    created_at: datetime
    last_posted_at: datetime
    last_poster: MemberRef | None = Field(None, description=WHO)
    post_count: int = Field(description="Posts every reader sees, the first one included.")
    pinned: bool
    locked: bool
    deleted: bool = Field(description="Only its SIG's sysops see deleted topics.")
    url: str


class TopicDetail(Topic):
    first_post_id: int | None
    can_reply: bool
    reply_problem: str | None = Field(description="Why the reader may not reply, if so.")


class TopicList(Output):
    items: list[Topic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next topics; null at the end."
    )


class TopicsQuery(Query):
    cursor: str | None = Field(
        None,
        max_length=40,
        pattern=r"^[01]-[0-9]{1,19}-[0-9]{1,12}$",
        description="`next_cursor` of the previous answer.",
    )
    limit: int = Field(25, ge=1, le=100)


class NewTopic(Input):
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown.")


# --- posts ----------------------------------------------------------------------------------
class PostPermissions(Output):
    edit: bool
    delete: bool
    flag: bool
    moderate: bool = Field(description="Hide, unhide, lock, move: the reader is its SIG's sysop.")


class Post(Output):
    id: int
    topic_id: int
    number: int = Field(description="Its place in the topic, from 1; numbers are never reused.")
    author: MemberRef | None = Field(description=WHO)
    reply_to_post_id: int | None
    body_raw: str = Field(description="The Markdown as written.")
    body_html: str = Field(description="The cooked, sanitized HTML.")
    status: Literal["visible", "pending", "hidden", "deleted"]
    hidden_by: Literal["flags", "sysop"] | None = Field(
        description="Who hid the post: flags (members' flags weighed enough; no sysop has "
        "looked at it yet), sysop, or null when it is not hidden."
    )
    hide_reason: str | None = Field(
        description="The reason a sysop typed when hiding it; null when they typed none, "
        "when members' flags hid it, or when it is not hidden."
    )
    created_at: datetime
    edited_at: datetime | None
    edit_count: int
    url: str
    permissions: PostPermissions


class PostList(Output):
    items: list[Post]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next posts; null at the end."
    )


class PostsQuery(Query):
    cursor: str | None = Field(
        None,
        max_length=12,
        pattern=r"^[0-9]{1,12}$",
        description="`next_cursor` of the last answer.",
    )
    limit: int = Field(25, ge=1, le=100)


class NewPost(Input):
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown.")
    reply_to_post_id: Id | None = Field(None, description="The post this one answers.")


class PostEdit(Input):
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown.")
    title: str | None = Field(
        None, min_length=1, max_length=MAX_TITLE, description="A new title (first posts only)."
    )


# --- members --------------------------------------------------------------------------------
class Member(Output):
    id: int
    username: str
    role: Literal["member", "sysop"]
    created_at: datetime
    post_count: int
    topic_count: int
    signature: str
    bio_html: str
    sigs: list[SigRef] = Field(description="The SIGs they belong to that the reader may see.")
    url: str


class Standing(Output):
    banned: bool
    suspended_until: datetime | None
    silenced_until: datetime | None
    approval: Literal["approved", "pending", "refused"]
    problem: str | None = Field(description="Why they may not write, if so.")


class Me(Member):
    email: str
    language: str | None
    timezone: str
    standing: Standing
    unread_notifications: int
    scopes: list[str] = Field(
        description="What this request may do: the token's scopes, or every scope the member "
        "may hold for a signed-in browser."
    )


# --- my ignored members and preferences ----------------------------------------------------
class IgnoredList(Output):
    items: list[MemberRef] = Field(
        description="The members I ignore, by username (a former member left out)."
    )


class IgnoreResult(Output):
    member: MemberRef | None = Field(description=WHO)
    ignored: bool = Field(description="Whether I ignore them now.")


def _unchanged(description: str, **schema: Any) -> Any:
    """A field a PATCH may leave out (it then keeps the member's choice); null is not a value.
    What the JSON schema says it takes (`schema`: enum, minimum, …) is documented here and
    checked by the feature's own service, whose message a refusal carries (as the settings
    page's forms do)."""

    def extra(shown: dict[str, Any]) -> None:
        shown.pop("default", None)
        shown.update(schema)

    return Field(None, description=description, json_schema_extra=extra)


MailChoice = Literal["off", "now", "digest"]
MAIL_CHOICE = list(MAIL_CHOICES)
MAIL_CHOICE_TEXT = "off; now: a mail a few minutes after it; digest: in the digest."


class MailPreferences(Output):
    """Mail per kind of notification, as /settings offers it."""

    mention: MailChoice = Field(description="When someone mentions me.")
    reply: MailChoice = Field(description="When someone replies to me.")
    quote: MailChoice = Field(description="When someone quotes me.")
    watched: MailChoice = Field(description="New posts and topics I watch.")
    moderation: MailChoice = Field(
        description="What sysops decided about my posts, flags and requests."
    )
    private_message: MailChoice = Field(description="When someone writes me private mail.")
    reaction: MailChoice = Field(description="When someone reacts to my post.")
    reminder: MailChoice = Field(description="Reminders of posts I bookmarked.")
    concern: MailChoice = Field(
        description="Answers to my concerns, and those I handle as a sysop."
    )


class DigestPreferences(Output):
    frequency: Literal["daily", "weekly", "off"]
    hour: int = Field(description="The hour it comes, 0–23, on my clock (`timezone`).")
    weekday: int = Field(description="The day a weekly digest comes: 0 Monday … 6 Sunday.")


class NotificationPreferences(Output):
    watch_topics_i_post_in: bool = Field(description="Starting or replying to a topic watches it.")
    mail: MailPreferences
    digest: DigestPreferences


class PrivateMailPreferences(Output):
    accept_from: Literal["everyone", "sysops"] = Field(
        description="everyone: every member but those I ignore; sysops: the sysop only "
        "(private mail off)."
    )
    notify: bool = Field(description="Notify me of new private mail.")


class Preferences(Output):
    """What a member changes in /settings beside their profile, password and address."""

    language: Literal["en", "de", "es"] | None = Field(
        description="The pages' and mail's language; null: as the browser asks."
    )
    timezone: str = Field(description="An IANA time zone name, such as Europe/Berlin.")
    theme: Literal["system", "light", "dark"] | None = Field(
        description="The pages' colours; null: not chosen (this browser's choice)."
    )
    keyboard_shortcuts: bool = Field(
        description="The pages answer single keys (j/k, r, /, ?); false: they never do."
    )
    notifications: NotificationPreferences
    private_mail: PrivateMailPreferences


# The features' own lists, which the answers' types spell out.
assert set(MailPreferences.model_fields) == set(MAIL_CATEGORIES)
assert set(get_args(MailChoice)) == set(MAIL_CHOICES)
assert set(get_args(DigestPreferences.model_fields["frequency"].annotation)) == set(FREQUENCIES)


class PartIn(Input):
    """A part of a PATCH body: sent, it names at least one thing to change (as the body)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})


class MailPreferencesIn(PartIn):
    mention: str = _unchanged(MAIL_CHOICE_TEXT, enum=MAIL_CHOICE)
    reply: str = _unchanged(MAIL_CHOICE_TEXT, enum=MAIL_CHOICE)
    quote: str = _unchanged(MAIL_CHOICE_TEXT, enum=MAIL_CHOICE)
    watched: str = _unchanged(MAIL_CHOICE_TEXT, enum=MAIL_CHOICE)
    moderation: str = _unchanged(MAIL_CHOICE_TEXT, enum=MAIL_CHOICE)
    private_message: str = _unchanged(MAIL_CHOICE_TEXT, enum=MAIL_CHOICE)
    reaction: str = _unchanged(MAIL_CHOICE_TEXT, enum=MAIL_CHOICE)
    reminder: str = _unchanged(MAIL_CHOICE_TEXT, enum=MAIL_CHOICE)
    concern: str = _unchanged(MAIL_CHOICE_TEXT, enum=MAIL_CHOICE)


class DigestPreferencesIn(PartIn):
    frequency: str = _unchanged("daily, weekly or off.", enum=list(FREQUENCIES))
    hour: int = _unchanged("0–23, on my clock.", minimum=0, maximum=23)
    weekday: int = _unchanged("0 Monday … 6 Sunday (a weekly digest).", minimum=0, maximum=6)


class NotificationPreferencesIn(PartIn):
    watch_topics_i_post_in: bool = _unchanged("Starting or replying to a topic watches it.")
    mail: MailPreferencesIn = _unchanged("The kinds to change; the others keep their choice.")
    digest: DigestPreferencesIn = _unchanged("What to change of the digest.")


class PrivateMailPreferencesIn(PartIn):
    accept_from: str = _unchanged(
        "everyone (but those I ignore), or sysops (private mail off).",
        enum=[MAIL_FROM_EVERYONE, MAIL_FROM_SYSOPS],
    )
    notify: bool = _unchanged("Notify me of new private mail.")


class PreferencesIn(Input):
    """Only what is sent changes (at least one part); a refusal of any part changes nothing."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    language: str | None = _unchanged(
        "en, de or es; null: as the browser asks.", enum=[*LANGUAGES, None]
    )
    timezone: str = _unchanged(
        "An IANA time zone name, such as Europe/Berlin; empty: UTC.", maxLength=64
    )
    theme: str = _unchanged("system, light or dark.", enum=list(THEMES))
    keyboard_shortcuts: bool = _unchanged("Single-key shortcuts on the pages, or none.")
    notifications: NotificationPreferencesIn = _unchanged("What to change of them.")
    private_mail: PrivateMailPreferencesIn = _unchanged("What to change of it.")


# --- notifications --------------------------------------------------------------------------
class Notification(Output):
    id: int
    kind: str
    text: str = Field(description="The sentence the notification center shows.")
    url: str
    excerpt: str
    read: bool
    created_at: datetime


class NotificationList(Output):
    items: list[Notification]
    page: int
    next_page: int | None
    unread: int


class PageQuery(Query):
    page: int = Field(1, ge=1, le=10_000)


class ReadResult(Output):
    marked: int = Field(description="How many notifications were marked read.")
    unread: int


# --- search ---------------------------------------------------------------------------------
class SearchQuery(Query):
    q: str = Field(min_length=1, max_length=MAX_QUERY)
    page: int = Field(1, ge=1, le=50)
    sort: Literal["relevance", "newest"] = "relevance"


class TopicRef(Output):
    id: int
    title: str


class SigName(Output):
    slug: str
    name: str


class SearchHit(Output):
    post_id: int
    number: int
    topic: TopicRef
    sig: SigName
    author: str | None = Field(description=WHO)
    created_at: datetime
    is_first: bool
    excerpt_html: str = Field(description="Sanitized HTML, the matched words in <mark>.")
    url: str


class SearchResults(Output):
    q: str
    page: int
    pages: int
    total: int
    total_exact: bool
    items: list[SearchHit]
    notices: list[str]
    error: str | None


# --- moderation -----------------------------------------------------------------------------
class ReactionIn(Input):
    emoji: str = Field(
        min_length=1, max_length=16, description="One of the site's reactions (a site setting)."
    )


class ReactionCount(Output):
    emoji: str
    count: int


class Reactions(Output):
    post_id: int
    counts: list[ReactionCount] = Field(description="Each offered emoji, in the site's order.")
    mine: str | None = Field(description="The caller's own reaction, if any.")


class FlagIn(Input):
    reason: Literal["spam", "abuse", "off_topic", "other"]
    note: str = Field("", max_length=MAX_REASON, description="Required for `other`.")


class FlagResult(Output):
    id: int
    post_id: int
    reason: str


class ReasonIn(Input):
    reason: str = Field("", max_length=MAX_REASON)


class MoveIn(Input):
    sig: Slug = Field(description="The slug of the SIG to move the topic to.")
    reason: str = Field("", max_length=MAX_REASON)


class SplitIn(Input):
    posts: list[Id] = Field(
        max_length=10_000, description="The ids of the replies to move into the new topic."
    )
    and_later: bool = Field(False, description="And every reply after the first one chosen.")
    title: str = Field(min_length=1, max_length=MAX_TITLE, description="The new topic's title.")
    sig: Slug | None = Field(
        None,
        description="The slug of the SIG for the new topic (one the caller moderates); "
        "without it, the topic's own.",
    )
    reason: str = Field("", max_length=MAX_REASON)


class SuspendIn(Input):
    until: AwareDatetime = Field(strict=False, description="ISO 8601 with a time zone.")
    reason: str = Field(min_length=1, max_length=MAX_REASON)
    sig: Slug | None = Field(
        None, description="Suspend in this SIG (its sysops); without it, site-wide (the sysop)."
    )


class SuspendResult(Output):
    member: MemberRef
    sig: SigRef | None
    until: datetime


# --- announcements --------------------------------------------------------------------------
class Announcement(Output):
    id: int
    title: str
    body_raw: str = Field(description="Markdown, as posted.")
    body_html: str
    sig: SigRef | None = Field(description="null: a site-wide announcement.")
    author: MemberRef | None = Field(description=WHO)
    created_at: datetime = Field(description="When it was posted.")
    starts_at: datetime = Field(description="When the banner begins to show it.")
    ends_at: datetime = Field(
        description="When the banner stops showing it (ended early: when it was ended); it "
        "stays listed after."
    )
    state: Literal["scheduled", "showing", "ended"] = Field(
        description="At the time of the answer: scheduled (starts_at is ahead), showing, or ended."
    )
    can_end: bool = Field(
        description="Whether the caller may end it now (its SIG's sysops, the sysop; not once "
        "it has ended)."
    )
    url: str


class AnnouncementList(Output):
    items: list[Announcement] = Field(description="The latest start first: scheduled ones on top.")
    page: int
    next_page: int | None


class NewAnnouncement(Input):
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown.")
    sig: Slug | None = Field(
        None,
        description="The slug of a SIG the caller is a sysop of; without it, site-wide (the "
        "sysop).",
    )
    starts_at: AwareDatetime | None = Field(
        None,
        strict=False,
        description="ISO 8601 with a time zone. Without it, or a time already past: now. A "
        "later start is scheduled: it shows, and is published, then.",
    )
    ends_at: AwareDatetime | None = Field(
        None,
        strict=False,
        description="ISO 8601 with a time zone, after the start and in the future. Without it: "
        "30 days after the start.",
    )


# --- member care ----------------------------------------------------------------------------
MAX_SUBJECT = 200  # MAX_TITLE_LENGTH's default: conversations.subject
ConcernState = Literal["open", "waiting", "resolved"]


class ConcernSummary(Output):
    id: int
    subject: str
    sig: SigRef | None = Field(
        description="The SIG whose sysops it was written to; null: the site's sysops."
    )
    to_whom: str = Field(
        description="“the sysops of <SIG>” or “the site's sysops”, in the reader's language."
    )
    state: ConcernState = Field(
        description="open: the sysops' turn; waiting: for the member, after an answer; resolved."
    )
    appeal: bool = Field(
        description="A ban appeal: written on /care/appeal by a member banned site-wide."
    )
    created_at: datetime
    last_activity_at: datetime
    url: str = Field(description="The concern's page.")


class ConcernList(Output):
    items: list[ConcernSummary] = Field(description="The newest activity first, 50 at most.")


class ConcernMessage(Output):
    id: int
    from_sysops: bool = Field(
        description="Written by one of the sysops (members read “the sysops”)."
    )
    author: str | None = Field(
        description="The sysop who wrote it, shown to the concern's sysops only; null for its "
        "member, and for the member's own messages."
    )
    hidden: bool
    body_raw: str | None = Field(description="The Markdown as written; null when hidden.")
    body_html: str | None = Field(description="The cooked, sanitized HTML; null when hidden.")
    created_at: datetime


class SysopNote(Output):
    id: int
    author: str | None
    body_raw: str
    body_html: str
    created_at: datetime


class ConcernPost(Output):
    id: int
    topic: TopicRef | None
    url: str


class ConcernHandling(Output):
    """What the concern's sysops see beside its messages (the page's “Handling”)."""

    member: MemberRef | None = Field(description="Who wrote it; " + WHO)
    assignee: MemberRef | None = Field(description="The sysop it is assigned to, if any.")
    sysops: list[MemberRef] = Field(
        description="Who may take it: the sysops it went to, and the site's sysops always."
    )
    notes: list[SysopNote] = Field(
        description="The sysops' private notes; the member never sees them."
    )
    due_at: datetime = Field(description="The first answer is due by then.")
    first_response_at: datetime | None
    escalated_at: datetime | None = Field(description="When the global sysop was told, if so.")
    overdue: bool


class ConcernDetail(ConcernSummary):
    source: Literal["written", "page"] = Field(
        description="written: from a form or the API; page: a page of the sysops on duty."
    )
    post: ConcernPost | None = Field(description="The post it is about, if the reader may see it.")
    resolved_at: datetime | None
    helped: bool | None = Field(description="The member's answer to “did it help?”, if given.")
    can_rate: bool = Field(description="Whether the reader may answer “did it help?” now.")
    messages: list[ConcernMessage]
    handling: ConcernHandling | None = Field(
        description="For the concern's sysops only; null for its member."
    )


class NewConcern(Input):
    sig: Slug | None = Field(
        None, description="The slug of the SIG whose sysops to write to; null: the site's sysops."
    )
    subject: str = Field(min_length=1, max_length=MAX_SUBJECT)
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown.")
    post_id: Id | None = Field(None, description="A post (in that SIG) it is about.")


class ConcernMessageIn(Input):
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown.")
    resolve: bool = Field(
        False,
        description="Answer and resolve at once: the concern's sysops, with the moderate scope.",
    )


class NoteIn(Input):
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown.")


class AssignIn(Input):
    assignee: str | None = Field(
        max_length=100, description="The username of one of its sysops; null: nobody."
    )


class StateIn(Input):
    state: ConcernState


class RatingIn(Input):
    helped: bool


class InboxQuery(Query):
    state: Literal["open", "waiting", "resolved", "overdue"] = Field(
        "open", description="overdue: unanswered past the first-response deadline."
    )
    sig: Slug | None = Field(None, description="One SIG's concerns only.")
    appeal: bool = Field(
        False, description="Ban appeals only (the counts are then of appeals alone)."
    )


class InboxConcern(Output):
    id: int
    subject: str
    member: MemberRef | None = Field(description=WHO)
    sig: SigRef | None
    to_whom: str
    state: ConcernState
    assignee: MemberRef | None
    overdue: bool
    appeal: bool = Field(
        description="A ban appeal: written on /care/appeal by a member banned site-wide."
    )
    last_activity_at: datetime
    url: str


class WaitingPage(Output):
    id: int
    member: MemberRef | None = Field(description=WHO)
    sig: SigRef
    body: str
    created_at: datetime
    url: str


class InboxCounts(Output):
    open: int
    waiting: int
    resolved: int
    overdue: int
    appeals: int = Field(description="The ban appeals among the concerns in `state`.")


class ConcernInbox(Output):
    state: Literal["open", "waiting", "resolved", "overdue"]
    sig: SigRef | None
    appeal: bool = Field(description="Whether these are the ban appeals alone.")
    counts: InboxCounts
    items: list[InboxConcern] = Field(description="Overdue ones first, then by last activity.")
    pages: list[WaitingPage] = Field(description="Pages of the sysops on duty nobody took yet.")


# Paging the sysops on duty, duty, a SIG's deadlines (forum.care: the SIG page's care box).
MAX_PAGE_TEXT = 500  # care.services.PAGE_TEXT_LIMIT
MAX_HOURS = 100_000  # the page's form; the service allows 1 to 8,760


class SigCareHandling(Output):
    """What a SIG's sysops see of its care box."""

    on_duty: bool = Field(description="Whether I am on duty here (members may page me).")
    page_sound: bool = Field(description="Whether my pages ring with a sound (on the pages).")
    response_hours: int = Field(description="The first answer to a concern is due after this.")
    escalate_hours: int = Field(description="Unanswered after this, the global sysop is told.")
    open_count: int = Field(description="The SIG's open concerns.")


class SigCare(Output):
    """A SIG's care box, as its page shows it to the reader."""

    sig: SigRef
    sysop_here: bool = Field(description="A sysop is on duty in the SIG now.")
    can_write: bool = Field(description="Whether I may write to its sysops.")
    can_page: bool = Field(description="Whether I may page its sysops on duty now.")
    is_sysop: bool = Field(description="Whether I handle its concerns.")
    handling: SigCareHandling | None = Field(description="For its sysops only; null otherwise.")


class DutyIn(Input):
    on: bool = Field(description="true: go on duty (for the site's care_duty_hours); false: off.")
    sound: bool | None = Field(
        None,
        description="Going on duty: whether my pages ring with a sound on the forum's pages; "
        "null keeps my choice.",
    )


class DeadlinesIn(Input):
    response_hours: int = Field(ge=0, le=MAX_HOURS, description="First response within (hours).")
    escalate_hours: int = Field(
        ge=0, le=MAX_HOURS, description="Tell the global sysop after (hours)."
    )


class Duty(Output):
    sig: SigRef
    until: datetime = Field(description="On duty until then, unless I go off duty sooner.")


class DutyList(Output):
    items: list[Duty] = Field(description="The SIGs I am on duty in now, by name.")
    page_sound: bool = Field(description="Whether my pages ring with a sound (on the pages).")


class NewPage(Input):
    body: str = Field(
        min_length=1, max_length=MAX_PAGE_TEXT, description="In a few words, what it is about."
    )


class SysopPage(Output):
    """A page of the sysops on duty, as its member or the SIG's sysops read it."""

    id: int
    sig: SigRef
    member: MemberRef | None = Field(description="Who paged; " + WHO)
    body: str
    state: Literal["waiting", "taken", "expired"] = Field(
        description="waiting: nobody took it yet; taken: a sysop took it (the concern is live "
        "between the two); expired: nobody took it in time, and it became an open concern."
    )
    created_at: datetime
    expires_at: datetime = Field(description="Untaken by then, it becomes an open concern.")
    taken_at: datetime | None
    can_take: bool = Field(description="Whether I may take it (its SIG's sysops, while waiting).")
    concern_id: int | None = Field(description="The concern it became, once taken or expired.")
    concern_url: str | None = Field(description="That concern's page.")
    url: str = Field(description="The page's page.")


class WaitingPageList(Output):
    items: list[WaitingPage] = Field(description="The oldest first, 50 at most.")


# --- private mail ---------------------------------------------------------------------------
Username = Annotated[str, Field(min_length=1, max_length=100)]


class MailboxQuery(Query):
    folder: Literal["inbox", "archive"] = Field(
        "inbox",
        description="archive: the conversations I archived (a new message brings one back).",
    )
    page: int = Field(1, ge=1, le=10_000, description="30 conversations a page.")
    q: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Search my conversations' subjects and messages (50 at most, newest first; "
        "`folder` and `page` are then ignored).",
    )


class ConversationSummary(Output):
    id: int
    subject: str
    kind: Literal["private", "concern"] = Field(
        description="private: private mail; concern: my concern to the sysops, read through "
        "/concerns (its page is the concern's)."
    )
    participants: list[str] = Field(
        description="The other participants' names (a concern's sysops are not participants; "
        "a former member is left out)."
    )
    unread: bool = Field(description="It has messages I have not read.")
    archived: bool
    last_message_at: datetime
    last_author: str | None = Field(
        description="Who wrote the newest message I may read (null for a concern's, and for "
        "a former member)."
    )
    excerpt: str = Field(description="Its first words, as text; empty when hidden.")
    url: str = Field(description="The conversation's page.")


class ConversationList(Output):
    items: list[ConversationSummary] = Field(description="Unread first, then the newest.")
    folder: Literal["inbox", "archive"]
    page: int
    next_page: int | None
    unread: int = Field(description="My conversations with unread messages (the “Mail” badge).")
    q: str | None = Field(description="The search, when `q` was given.")


class ConversationQuery(Query):
    page: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="Without it, the page with my first unread message (or the last).",
    )


class ConversationMessage(Output):
    id: int
    kind: Literal["text", "added", "left"] = Field(
        description="text: a message; added: `author` added `target`; left: `author` left."
    )
    author: str | None = Field(description=WHO)
    target: str | None = Field(description="Who was added (`added` only); " + WHO)
    unread: bool = Field(description="Someone else's message I had not read before this read.")
    folded: bool = Field(
        description="Written by a member I ignore: the page folds it (its words are still here)."
    )
    hidden: bool = Field(description="Hidden by the sysop after a report: its words are gone.")
    body_raw: str | None = Field(
        description="The Markdown as written; null when hidden or not text."
    )
    body_html: str | None = Field(
        description="The cooked, sanitized HTML; null when hidden or not text."
    )
    created_at: datetime
    can_report: bool = Field(description="Whether I may report it to the sysop.")


class ConversationDetail(Output):
    id: int
    subject: str
    participants: list[MemberRef] = Field(
        description="Everyone in it now, me included (a former member is left out)."
    )
    messages: list[ConversationMessage] = Field(description="This page's, oldest first.")
    page: int
    pages: int
    first_unread_id: int | None = Field(description="My first unread message on this page.")
    history_hidden: bool = Field(description="I was added later, and read it from that point on.")
    archived: bool
    can_write: bool
    write_problem: str | None = Field(description="Why I may not write in it, if so.")
    can_add: bool = Field(
        description="Whether I may add members to it (the page's rule; it may be full: "
        "max_participants)."
    )
    max_participants: int = Field(description="The most members it may hold, me included.")
    url: str = Field(description="The conversation's page.")


class NewConversation(Input):
    to: list[Username] = Field(
        min_length=1, max_length=100, description="The usernames of the members to write to."
    )
    subject: str = Field(min_length=1, max_length=MAX_SUBJECT)
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown.")


class MailMessageIn(Input):
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown.")


class ParticipantIn(Input):
    username: Username


class ArchiveIn(Input):
    archived: bool = Field(description="true: archive it; false: back to the inbox.")


class MessageReportIn(Input):
    reason: Literal["spam", "abuse", "other"]
    note: str = Field("", max_length=MAX_REASON, description="Required for `other`.")


class MessageReportResult(Output):
    id: int
    message_id: int
    reason: str
