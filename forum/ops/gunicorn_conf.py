"""gunicorn settings for the forum (`gunicorn -c python:forum.ops.gunicorn_conf wsgi:app`).

Two kinds of server, chosen by FORUM_SERVER_ROLE (forum.ops.serve sets it):

- "pages" (the default): the threaded worker (gthread, as forum.ops.pageworker extends it: a
  request's head is read whole before a thread takes the connection, so a client trickling its
  headers holds no thread). It serves pages, and Socket.IO too when no socket server is in front
  of it (each open WebSocket then holds one of its threads).
- "sockets": Socket.IO only, on gevent (one greenlet per connection, so thousands of idle
  sockets cost little), one worker; emits from the page servers reach it through Redis.

Environment: FORUM_BIND (default 127.0.0.1:8000), FORUM_WORKERS (default 1; keep 1 unless every
client uses the WebSocket transport only, see docs/deployment.md), FORUM_THREADS (default 64),
FORUM_SOCKET_CONNECTIONS (the socket server's most connections at once, default 10000).
"""

from __future__ import annotations

import os
from typing import Any

from forum import ROOT

ROLE = os.environ.get("FORUM_SERVER_ROLE", "pages")

wsgi_app = "wsgi:app"
chdir = str(ROOT)
bind = os.environ.get("FORUM_BIND", "127.0.0.1:8000").split(",")
if ROLE == "sockets":
    worker_class = "gevent"
    # One process holds the sockets: long-polling requests of a client must all reach it.
    workers = 1
    worker_connections = int(os.environ.get("FORUM_SOCKET_CONNECTIONS", "10000"))
    os.environ["FORUM_SOCKETIO_ASYNC_MODE"] = "gevent"
    # Nothing here writes the search index; the page servers catch it up.
    os.environ.setdefault("FORUM_SEARCH_SYNC_ON_START", "false")
else:
    # gthread, with each request head read whole before a thread takes the connection
    # (forum.ops.pageworker): slow clients cost no thread.
    worker_class = "forum.ops.pageworker.PageWorker"
    workers = int(os.environ.get("FORUM_WORKERS", "1"))
    threads = int(os.environ.get("FORUM_THREADS", "64"))
    # When it serves Socket.IO itself, each open socket holds a thread: keep a quarter of them
    # (4 to 16) for pages, whatever the number of tabs.
    for_pages = min(16, max(4, threads // 4))
    os.environ.setdefault("FORUM_SOCKETS_MAX", str(max(1, threads - for_pages)))
# The worker's heartbeat, not a per-request limit: open sockets are fine.
timeout = 30
graceful_timeout = 20
keepalive = 5
# The forum writes its own one-line-per-request log (forum.ops.requestlog).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("FORUM_LOG_LEVEL", "info")
# Let gunicorn set the URL scheme from X-Forwarded-Proto only when nginx (loopback) sends it.
forwarded_allow_ips = os.environ.get("FORUM_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "forum-sockets" if ROLE == "sockets" else "forum"
# Several instances run side by side (one per port): no shared control socket in $HOME.
control_socket_disable = True


# The workers serve requests; schema changes run from the command line (`flask db upgrade`).
os.environ.setdefault("FORUM_MIGRATIONS", "false")


def on_starting(server: Any) -> None:
    """Refuse to start with development settings, even when gunicorn is run by hand."""
    from forum.ops.serve import refuse_if_unfit

    refuse_if_unfit()


def post_worker_init(worker: Any) -> None:
    """Once the worker has loaded the forum: what it loaded (about 190,000 objects: modules,
    classes, mappers, the Jinja environment) moves to the collector's permanent generation, so a
    full collection no longer walks it. A full collection of the loaded forum took 63-73 ms of
    whichever request triggered it (quiet machine; under load 0.5-1.5 s); after the freeze one
    walks only what requests made since (`docs/benchmarks.md`, "Garbage collection")."""
    import gc

    gc.collect()  # (what loading left as garbage goes first: a frozen object is never freed)
    gc.freeze()
