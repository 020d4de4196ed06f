"""The yardstick: a bare Flask page that renders the same 25 posts as the topic page with ONE
query and a small template, served by the same gunicorn setup in the same run."""

from __future__ import annotations

import os

from flask import Flask, abort, render_template_string, request
from sqlalchemy import create_engine, text

from forum.config import engine_options, normalize_database_url

_URL = os.environ["FORUM_DATABASE_URL"]
engine = create_engine(normalize_database_url(_URL), **engine_options(_URL))
app = Flask(__name__)

QUERY = text(
    "SELECT p.number, p.body_html, p.created_at, u.username "
    "FROM posts p LEFT JOIN users u ON u.id = p.user_id "
    "WHERE p.topic_id = :topic AND p.number > :after "
    "ORDER BY p.number LIMIT 25"
)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Topic {{ topic_id }}</title></head>
<body><main><h1>Topic {{ topic_id }}</h1>
{% for post in posts %}
<article id="post-{{ post.number }}">
  <header><a href="/u/{{ post.username }}">{{ post.username }}</a>
  <time datetime="{{ post.created_at }}">{{ post.created_at }}</time></header>
  <div class="post-body">{{ post.body_html|safe }}</div>
</article>
{% endfor %}
</main></body></html>"""


@app.route("/bare/<int:topic_id>")
def bare(topic_id: int) -> str:
    page = request.args.get("page", 1, type=int)
    with engine.connect() as conn:
        posts = conn.execute(QUERY, {"topic": topic_id, "after": (page - 1) * 25}).all()
    if not posts:
        abort(404)
    return render_template_string(PAGE, topic_id=topic_id, posts=posts)
