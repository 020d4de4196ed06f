"""Uploads: files and images in posts, SIG libraries with their librarians, members' pictures;
content-addressed storage (a directory or S3), served under the permission of what uses them."""

from __future__ import annotations

from flask import Blueprint, Flask, request

bp = Blueprint("files", __name__)

# The routes that take files: their requests may be as large as the largest upload (the rest
# of the site keeps MAX_CONTENT_LENGTH).
UPLOAD_ENDPOINTS = frozenset(
    {
        "files.upload",
        "files.library_upload",
        "files.library_new_version",
        "files.avatar",
        "topics.reply",
        "topics.new_topic",
        "topics.edit",
    }
)


def init_app(app: Flask) -> None:
    from .. import hooks
    from . import handlers, queries, services, views

    app.register_blueprint(bp)
    hooks.image_sizes.provide(app, services.image_sizes)
    hooks.account_data.add(app, "uploads", queries.account_uploads)
    hooks.attach_files.provide(app, services.attach_to_body)
    hooks.uploads_enabled.provide(app, lambda: True)
    hooks.topic_page.add(app, views.topic_page_extras)
    hooks.topic_page.add(app, views.topic_page_avatars)
    hooks.profile_sections.add(app, "files/_avatar_profile.html")
    hooks.settings_sections.add(app, "files/_avatar_settings.html")
    handlers.init_app(app)
    views.init_templates(app)

    def larger_uploads() -> None:
        if (
            request.endpoint in UPLOAD_ENDPOINTS
            and request.method == "POST"
            and request.mimetype == "multipart/form-data"
        ):
            # Room for the largest file and the form around it; the services check the file.
            request.max_content_length = services.max_bytes() * 4 + 1024 * 1024

    # Before the form is read by anything (forum.web checks every form for NUL characters).
    app.before_request_funcs.setdefault(None, []).insert(0, larger_uploads)
