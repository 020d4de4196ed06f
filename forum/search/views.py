"""/search: a GET form, a stable URL, results the reader may see."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from .. import i18n
from ..web import viewer
from . import bp, queries


@bp.route("/search")
def search() -> Any:
    page_arg = request.args.get("page", "1")
    page = int(page_arg) if page_arg.isdecimal() and len(page_arg) < 6 else 1
    result = queries.search_page(
        viewer(),
        request.args.get("q", "")[:20_000],
        page,
        request.args.get("sort", "relevance"),
        language=i18n.language(),
        rank_all=request.args.get("rank") == "all",
        zone=i18n.select_timezone(),
    )
    return render_template("search/results.html", result=result, sorts=queries.SORTS)
