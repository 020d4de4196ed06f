"""Configuration: defaults, instance/config.py, FORUM_* environment variables, overrides."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

DEV_SECRET_KEY = "dev-insecure-change-me"
# Where the development server listens (`make run`): links in mail point here while BASE_URL is
# unset. `flask forum dev-server --host/--port` sets it to the address it serves.
DEV_BASE_URL = "http://127.0.0.1:5000"

DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": DEV_SECRET_KEY,
    # Earlier secret keys, newest first, kept while the site moves to a new SECRET_KEY: Flask
    # accepts the sessions they signed, and forum.sealed opens the webhook secrets they sealed
    # (`flask forum reseal-secrets` seals those with the new key). FORUM_SECRET_KEY_FALLBACKS
    # takes a JSON list or keys separated by commas.
    "SECRET_KEY_FALLBACKS": [],
    "SITE_NAME": "Forum",
    # Shown in the reader's language while it is this default (forum.web).
    "SITE_DESCRIPTION": "Special interest groups, the BBS way.",
    # The forum's public address, e.g. https://forum.example.org: links in mail are built on it,
    # never on the request's Host header (which a client chooses), and it is the origin whose
    # pages may open a Socket.IO connection. `make serve` refuses to start without it.
    "BASE_URL": None,
    # Without BASE_URL (development), links are built on this address instead.
    "DEV_BASE_URL": DEV_BASE_URL,
    # How long (seconds) a guest's Atom feed may be cached by readers and proxies (forum.feeds).
    "FEED_MAX_AGE": 300,
    # Addresses per page of sitemap.xml's topic sitemaps (the protocol allows 50,000).
    "SITEMAP_PAGE_SIZE": 10_000,
    # More origins the forum is also served at (e.g. ["https://www.forum.example.org"]): their
    # pages may open Socket.IO connections too, and the CSP's connect-src names them.
    "SOCKETIO_ORIGINS": [],
    # None means "instance/forum.db", resolved against the app's instance folder.
    "DATABASE_URL": None,
    "REDIS_URL": None,
    # An SQLite database's volume with less room than this is reported full by /readyz (the
    # write-ahead log grows to some 40 MB under steady load before it starts over).
    "DATABASE_MIN_FREE_MB": 16,
    # Every Redis call's connect and read timeout (at most 1 s), and how often a process asks a
    # Redis that stopped answering whether it is back (forum.redisconn).
    "REDIS_TIMEOUT": 0.5,
    "REDIS_RETRY_SECONDS": 0.5,
    # Socket.IO: who's online (the Redis channel, SOCKETIO_CHANNEL, is set below).
    "PRESENCE_GRACE_SECONDS": 30,
    "PRESENCE_TICK_SECONDS": 5,
    "PRESENCE_LOOP": True,
    # The most Socket.IO requests a process serves at once; more are answered 503 (None: no
    # limit). The page server sets it below its thread count (forum.ops.gunicorn_conf), so open
    # sockets never take every thread from the pages.
    "SOCKETS_MAX": None,
    "INDEX_DIR": None,
    "POSTS_PER_PAGE": 25,
    "TOPICS_PER_PAGE": 30,
    # The guest page cache (forum.pagecache): how long a page may show what no event names
    # (signatures, the online list), and how many pages each process keeps, at most
    # PAGE_CACHE_ENTRIES pages and PAGE_CACHE_MB megabytes of them. 0 seconds turns it off.
    "PAGE_CACHE_SECONDS": 30,
    # How long a process keeps the site settings it read (forum/settings.py): a change saved in
    # another process shows here within this time; one saved in this process shows at once.
    "SETTINGS_CACHE_SECONDS": 10,
    # How long a process trusts what it knows of the newest announcement (the banner's "is there
    # any recent one?"): one published in this process is seen at once, one published in
    # another within this time (forum/announcements/queries.py).
    "ANNOUNCEMENT_CACHE_SECONDS": 10,
    "PAGE_CACHE_ENTRIES": 512,
    # (A guest's hot set, the index, SIG pages and the newest topics, is far smaller; a topic
    # page of 25 posts is about 30 KB, as is a SIG page. 4 MB rather than 8: under the bench's
    # mix a worker missed as often with 4 as with 8 (767 and 751 misses, two runs each) and
    # ended 3-7 MB lower, under the 150 MB a worker is given: docs/benchmarks.md, "Memory per
    # page worker, twelfth session".)
    "PAGE_CACHE_MB": 4,
    # A page worker gives the C library's free memory back to the system this many seconds after
    # a request ends (glibc's malloc_trim, at most once per this time; forum.ops.memory). 0: never.
    "MEMORY_TRIM_SECONDS": 10,
    "MAX_POST_LENGTH": 30_000,
    # The double-submit rule (forum.duplicates): the same author's same text to the same place
    # (a topic, a SIG's new topic, a conversation, the same recipients, a concern, the same
    # sysops) within this many seconds is not written again. 0 turns it off.
    "DUPLICATE_SECONDS": 120,
    "MAX_TITLE_LENGTH": 200,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # Drafts kept on the server per member (forum.drafts); each holds at most a post's length.
    "DRAFTS_PER_MEMBER": 50,
    "BOOKMARKS_PER_MEMBER": 2000,
    # How many members one post may mention (each mention notifies); a SIG's sysops may mention
    # more. Site settings in the console override both.
    "MENTIONS_PER_POST": 10,
    "MENTIONS_PER_POST_SYSOP": 50,
    # Posts one post may quote (each quote notifies the quoted post's author).
    "QUOTES_PER_POST": 20,
    # Private mail (forum.messages): the most members one conversation holds (a site setting in
    # the console overrides it); whether a member added to a conversation reads what was
    # written before (False: from their addition on); how old an account must be to write
    # private mail (0: any age), on top of the trust level: a new account starts none and adds
    # nobody until basic (forum.permissions.mail_trust_problem); neither holds back a reply in a
    # conversation someone else started (reply_mail_problem).
    "MAIL_MAX_PARTICIPANTS": 20,
    "MAIL_NEW_MEMBER_SEES_HISTORY": False,
    "MAIL_MIN_ACCOUNT_AGE_HOURS": 0,
    "MAIL_PER_PAGE": 25,
    # Uploads (forum.files): where the bytes live (None: instance/uploads/; a directory; or
    # s3://bucket/prefix with UPLOADS_S3_ENDPOINT for MinIO, Ceph or a cloud, credentials from
    # boto3's usual places), and the internal location nginx serves them from once the app
    # has said yes (X-Accel-Redirect; None: the app sends the bytes itself). See deploy/.
    "UPLOADS_URL": None,
    "UPLOADS_S3_ENDPOINT": None,
    "UPLOADS_S3_REGION": None,
    "UPLOADS_ACCEL_PREFIX": None,
    # The defaults of the site settings (the console overrides them): the largest file, the
    # quotas per member and per SIG (0: none), the types found in the bytes that are accepted.
    "UPLOAD_MAX_MB": 8,
    "UPLOAD_QUOTA_MEMBER_MB": 200,
    "UPLOAD_QUOTA_SIG_MB": 2000,
    "UPLOAD_TYPES": (
        "image/png image/jpeg image/gif image/webp application/pdf application/zip "
        "application/gzip application/x-7z-compressed application/x-tar text/plain"
    ),
    # Images: the most pixels, the longest side and the most frames decoded (decompression
    # bombs, endless animations); larger ones are refused with a clear message.
    "IMAGE_MAX_PIXELS": 40_000_000,
    "IMAGE_MAX_SIDE": 12_000,
    "IMAGE_MAX_FRAMES": 200,
    # An upload no post claims (and a deleted post's files) is reaped after this many hours.
    "UPLOAD_ORPHAN_HOURS": 24,
    # How old an account must be to upload (0: any age; the hook for trust levels is
    # forum.permissions.upload_trust_problem).
    "UPLOAD_MIN_ACCOUNT_AGE_HOURS": 0,
    # Library downloads are counted in memory and written by a thread this many seconds after
    # the first one not yet written (0: each download writes its own count).
    "DOWNLOAD_FLUSH_SECONDS": 30,
    "PASSWORD_RESET_MAX_AGE": 3600,
    # Seconds the link that finishes a registration works (registration mails it; see README).
    "REGISTRATION_LINK_MAX_AGE": 24 * 3600,
    # Werkzeug's hash method: "scrypt" (its default work factor), or "scrypt:N:r:p" to tune it.
    "PASSWORD_HASH_METHOD": "scrypt",
    "MAIL_SERVER": None,
    "MAIL_PORT": 587,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_USE_TLS": True,
    "MAIL_SENDER": "forum@localhost",
    # Seconds a notification waits before it is mailed (to members who want it "immediately"):
    # what they read meanwhile is not mailed, and more events of the topic join the same mail.
    "NOTIFY_MAIL_DELAY": 300,
    # Seconds after which notification mail (and a digest) is no use: a "someone replied" mail
    # hours late tells what the member most likely saw on the site (the notification stays in
    # the notification centre), and a morning flood of them after a night's outage helps
    # nobody. Such a mail held for the queue longer is dropped, logged (forum.jobs), and the
    # sweep of lost notification mail looks back this far and no further.
    "NOTIFY_MAIL_MAX_AGE": 6 * 3600,
    # The daily digest goes out at this hour of each member's own time zone, with what they
    # want in it of the last DIGEST_DAYS days (unread, not mailed yet).
    "DIGEST_HOUR": 7,
    "DIGEST_DAYS": 2,
    # The digest's rhythm for members who chose none ("daily", "weekly" or "off"), the day of
    # the weekly one (0 = Monday), and how many topics with news one digest lists at most.
    "DIGEST_FREQUENCY": "daily",
    "DIGEST_WEEKDAY": 0,
    "DIGEST_TOPICS": 10,
    # Reply by email (forum.mailin): notification mail about a topic carries a Reply-To of
    # reply+<signed token>@MAIL_REPLY_DOMAIN (None: the domain of MAIL_SENDER), and is sent
    # with an envelope sender of bounce+<signed token>@ that domain, so bounces and complaints
    # come back to `flask forum mail-in` or the LMTP listener (`flask forum mail-in-server`).
    "MAIL_REPLY_DOMAIN": None,
    # False where nothing routes that domain's mail back to the forum: no Reply-To, and bounces
    # go to MAIL_SENDER as before.
    "MAIL_IN": True,
    "MAILIN_LMTP_HOST": "127.0.0.1",
    "MAILIN_LMTP_PORT": 8024,
    # A changed email address is used once the member opens the link mailed to it, within
    # this many seconds.
    "EMAIL_CHANGE_MAX_AGE": 24 * 3600,
    # Background jobs (forum.jobs, Huey): the queue is an SQLite file (None: instance/jobs.db)
    # unless REDIS_URL is set; `flask forum jobs worker` runs them with JOBS_WORKERS threads.
    # JOBS_IMMEDIATE runs each job at once in the caller's thread (the tests).
    "JOBS_IMMEDIATE": False,
    "JOBS_SQLITE_PATH": None,
    "JOBS_QUEUE_NAME": "forum",
    "JOBS_WORKERS": 2,
    # On SIGTERM a worker lets running jobs finish for this long, then queues them again.
    "JOBS_SHUTDOWN_SECONDS": 20,
    # The nightly clean-up forgets sent mail's keys and failed jobs after this many days.
    "JOBS_KEEP_SENT_DAYS": 30,
    "JOBS_KEEP_FAILED_DAYS": 90,
    # Webhooks (forum.webhooks): each attempt waits this long for an answer; a delivery is tried
    # at most WEBHOOK_MAX_ATTEMPTS times, WEBHOOK_RETRY_DELAY seconds after the first failure,
    # then each time WEBHOOK_RETRY_BACKOFF times longer (30 s, 2, 8, 32 min, about 2 h). After
    # WEBHOOK_FAILURE_LIMIT failed attempts in a row the webhook is disabled (a site setting
    # overrides it). Targets on loopback or private networks are refused unless
    # WEBHOOK_ALLOW_PRIVATE_TARGETS (a site setting too); link-local and cloud metadata
    # addresses always are.
    "WEBHOOK_TIMEOUT": 10,
    "WEBHOOK_MAX_ATTEMPTS": 6,
    "WEBHOOK_RETRY_DELAY": 30,
    "WEBHOOK_RETRY_BACKOFF": 4,
    "WEBHOOK_FAILURE_LIMIT": 20,
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": False,
    # Deliveries (with their attempts) older than this many days are forgotten nightly.
    "WEBHOOK_KEEP_DAYS": 30,
    "RATELIMIT_LOGIN": "10 per minute",
    # Per account, whatever the addresses: after this many failed sign-ins in a row, each next
    # attempt waits 1, 2, 4 … seconds, at most LOGIN_DELAY_MAX, except from a browser the member
    # signed in on before (its device cookie lasts LOGIN_DEVICE_MAX_AGE seconds).
    "LOGIN_FREE_FAILURES": 5,
    "LOGIN_DELAY_MAX": 300,
    "LOGIN_DEVICE_MAX_AGE": 365 * 24 * 3600,
    "RATELIMIT_REGISTER": "5 per hour",
    # A session's "last seen" (settings' list of sessions) is written at most this often.
    "SESSION_TOUCH_SECONDS": 300,
    # Mail a member when their account is signed in to from a browser it was not used on.
    "LOGIN_ALERTS": True,
    # The registration form is refused when sent sooner than this many seconds after it was
    # shown (a signed timestamp in the form; programs fill it in at once), or later than
    # REGISTER_FORM_MAX_AGE seconds. 0 turns the minimum off.
    "REGISTER_MIN_SECONDS": 3,
    "REGISTER_FORM_MAX_AGE": 24 * 3600,
    "RATELIMIT_POST": "20 per minute",
    # Private messages sent, per account (new conversations, replies, added members).
    "RATELIMIT_MAIL": "10 per minute",
    # The composer's preview and draft saves (its script sends one a few seconds after typing
    # stops), per member.
    "RATELIMIT_PREVIEW": "60 per minute",
    "RATELIMIT_DRAFTS": "60 per minute",
    # Reacting and bookmarking, joining and leaving a SIG, per member: a button press each,
    # taken back as easily (the pages and the API spend one budget for each).
    "RATELIMIT_REACTIONS": "60 per minute",
    # Flags on posts and reports of private messages together, per member, the pages and the
    # API alike: each one lands in front of the sysops (and a flag on a SIG's webhooks).
    "RATELIMIT_REPORTS": "10 per minute",
    # A webhook's pings and redeliveries by hand together, per member: each is an HTTP request
    # to the receiver, retried when it fails.
    "RATELIMIT_WEBHOOK_TESTS": "10 per minute",
    # Uploads per member (posts' files, library files, pictures), one budget.
    "RATELIMIT_UPLOAD": "30 per minute",
    # "Download my data" builds a ZIP of all of a member's rows: a few a day per account.
    "RATELIMIT_EXPORT": "3 per day",
    # A moving window: a fixed one lets twice a budget through across a minute's boundary
    # (a web reply at :59 and two mailed ones at :00 were all posted on a "3 per minute" budget).
    "RATELIMIT_STRATEGY": "moving-window",
    "RATELIMIT_HEADERS_ENABLED": True,
    # The JSON API's budget per personal access token (per member for a signed-in browser, per
    # address for a guest); its answers say where each stands (RateLimit-* headers).
    "API_RATE_LIMIT": "300 per 5 minutes",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    # Seconds a "keep me logged in" cookie lasts (Flask-Login's own default is a year).
    "REMEMBER_COOKIE_DURATION": 30 * 24 * 3600,
    "WTF_CSRF_TIME_LIMIT": None,
    # Subscribers that fail after commit are logged; tests set this to re-raise.
    "EVENTS_RAISE": False,
    # Set up Flask-Migrate (`flask db …`). The production server's workers do without it:
    # Alembic costs 11 MB of memory in every worker (forum.ops.gunicorn_conf turns it off).
    "MIGRATIONS": True,
    # "whoosh" (an index on this machine), "postgres" (full-text search in the database: for
    # several servers) or "null"; unset, "postgres" on a PostgreSQL database, else "whoosh".
    "SEARCH_BACKEND": None,
    # On PostgreSQL, write each post's full-text vector whichever backend searches (so a switch
    # to "postgres" finds every post at once). Off: only while "postgres" searches; a forum that
    # switches later runs `flask forum reindex --backend postgres` first.
    "SEARCH_POSTGRES_VECTORS": True,
    # Run `search-sync` when the app starts (the search feature reads it).
    "SEARCH_SYNC_ON_START": True,
    # Where the search queue is applied after a commit: "background" (a thread per process, so a
    # reply never waits on the index) or "inline" (in the committing thread; the tests use it).
    "SEARCH_DRAIN": "background",
    # Seconds the background drain waits after a commit for others to apply them together.
    "SEARCH_DRAIN_DELAY": 0.1,
    # ... and under steady posting, at most one index commit per this many seconds, across all
    # the processes that share the index (forum.search.handlers.Drainer).
    "SEARCH_DRAIN_INTERVAL": 0.5,
    # Reverse proxies in front of the app (1 behind nginx); X-Forwarded-* headers are trusted only
    # with PROXY_HOPS > 0 and only from PROXY_TRUSTED addresses (forum.ops.proxy).
    "PROXY_HOPS": 0,
    "PROXY_TRUSTED": ["127.0.0.1", "::1"],
    # The Redis pub/sub channel of Socket.IO's message queue (one per forum sharing a Redis).
    "SOCKETIO_CHANNEL": "forum-socketio",
    # Rate-limit counters live in Redis when it is configured; if it goes away, count in memory.
    "RATELIMIT_KEY_PREFIX": "forum",
    "RATELIMIT_SWALLOW_ERRORS": True,
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
}


def load(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    """Fill app.config from every source, lowest priority first."""
    app.config.update(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env(prefix="FORUM")
    if overrides:
        app.config.update(overrides)

    app.config["SECRET_KEY_FALLBACKS"] = key_list(app.config.get("SECRET_KEY_FALLBACKS"))
    instance = Path(app.instance_path)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'forum.db'}"
    if not app.config["INDEX_DIR"]:
        app.config["INDEX_DIR"] = str(instance / "index")
    app.config.setdefault("OUTBOX_DIR", str(instance / "outbox"))
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(app.config["DATABASE_URL"])
    if str(app.config.get("BASE_URL") or "").startswith("https://"):
        # A site served over HTTPS never sends its cookies over plain HTTP.
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
        app.config["PREFERRED_URL_SCHEME"] = "https"
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["DATABASE_URL"]))
    if app.config["REDIS_URL"]:
        app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    else:
        app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")


def key_list(value: Any) -> list[str | bytes]:
    """SECRET_KEY_FALLBACKS as a list: from a list, or from one string of keys separated by
    commas or spaces (how an environment variable holds them)."""
    if not value:
        return []
    if isinstance(value, bytes):
        return [value]
    if isinstance(value, str):
        return [key for key in re.split(r"[\s,]+", value) if key]
    if isinstance(value, (list, tuple)):
        return [key if isinstance(key, bytes) else str(key) for key in value if key]
    return [str(value)]


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the short way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # The busy timeout is set on each connection in forum.sqlite; threads share the pool.
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {"pool_pre_ping": True, "pool_recycle": 1800}


def instance_path_from_env() -> str | None:
    return os.environ.get("FORUM_INSTANCE_PATH")


# A host as a browser writes it in an Origin: a name or an IPv4 address, or an IPv6 address.
_HOST_RE = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\]")


def origin_of(url: str | None) -> str | None:
    """`scheme://host[:port]` of an http(s) address, as a browser sends it in an Origin header
    (lower case, no default port, no path), or None for anything else."""
    if not url:
        return None
    try:
        parts = urlsplit(str(url).strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if scheme not in ("http", "https") or not _HOST_RE.fullmatch(host):
        return None
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")
