"""Event subscribers: queue index work inside the change's transaction, drain it after commit."""

from __future__ import annotations

import logging

from flask import Flask, current_app

from .. import events
from . import indexer
from .models import KIND_POST, KIND_SIG, KIND_TOPIC

log = logging.getLogger(__name__)


# --- in the producer's transaction: record what the index must catch up with ---------------
def queue_post_created(event: events.PostCreated) -> None:
    if event.visible:  # posts awaiting approval are indexed when approved
        indexer.enqueue(KIND_POST, event.post_id)


def queue_post(event: events.PostEdited | events.PostVisibilityChanged) -> None:
    indexer.enqueue(KIND_POST, event.post_id)


def queue_topic(event: events.TopicChanged) -> None:
    # The topic's current posts, plus the posts that left it (splits and merges list them).
    indexer.enqueue(KIND_TOPIC, event.topic_id)
    if event.post_ids:
        indexer.enqueue(KIND_POST, *event.post_ids)


def queue_sig(event: events.SigChanged) -> None:
    # Visibility is applied at query time; only a language change needs re-analysis, which the
    # drain detects cheaply, so every SigChanged is queued.
    indexer.enqueue(KIND_SIG, event.sig_id)


# --- after commit: apply it ------------------------------------------------------------------
def drain_after_commit(event: events.Event) -> None:
    timeout = float(current_app.config.get("SEARCH_WRITE_TIMEOUT", 5.0))
    result = indexer.drain(timeout=timeout)
    if result.busy:
        log.info("search index busy after %s; left for the next drain", type(event).__name__)


def init_app(app: Flask) -> None:
    phase = "in_transaction"
    events.subscribe(app, events.PostCreated, queue_post_created, phase=phase)
    events.subscribe(app, events.PostEdited, queue_post, phase=phase)
    events.subscribe(app, events.PostVisibilityChanged, queue_post, phase=phase)
    events.subscribe(app, events.TopicChanged, queue_topic, phase=phase)
    events.subscribe(app, events.SigChanged, queue_sig, phase=phase)
    for event_type in (
        events.PostCreated,
        events.PostEdited,
        events.PostVisibilityChanged,
        events.TopicChanged,
        events.SigChanged,
    ):
        events.subscribe(app, event_type, drain_after_commit, phase="after_commit")
