"""Posts (recurring duties at sites) over HTTP: list, create, read and change them, their weekly patterns, and
one-off extra shifts at a post. Officers work on their street's posts; commanders alone mark one protected."""
from __future__ import annotations

from datetime import time

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from mobilize.models import Post, ShiftPattern, Site
from mobilize.models._types import utcnow
from mobilize.peacetime import generation, posts
from mobilize.peacetime.errors import NotFound
from mobilize.web import db
from mobilize.web.api import api
from mobilize.web.api.auth import check_street, require_command, token_auth
from mobilize.web.api.pagination import paginate
from mobilize.web.api.roster.access import by_street, checked_post, checked_shift, require_writer
from mobilize.web.api.roster.context import actor, aware, commit, roster_config
from mobilize.web.api.roster.views import pattern_view, post_view, shift_view
from mobilize.web.api.roster_schemas import (
    PatternIn,
    PatternOut,
    PostFilter,
    PostIn,
    PostOut,
    PostPage,
    PostPatch,
    ShiftIn,
    ShiftOut,
)


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@api.get("/posts")
@api.auth_required(token_auth)
@api.input(PostFilter, location="query")
@api.output(PostPage)
@api.doc(responses={403: "An officer asked about another street."})
def list_posts(query_data):
    """Posts (recurring duties at sites), optionally of one street or site."""
    statement = (select(Post).join(Site).options(selectinload(Post.site).selectinload(Site.street),
                                                 selectinload(Post.role), selectinload(Post.patterns))
                 .order_by(Site.street_id, Post.id))
    statement = by_street(statement, Site.street_id, query_data["street"])
    for key in ("site_id", "active", "protected"):
        if query_data[key] is not None:
            statement = statement.where(getattr(Post, key) == query_data[key])
    items, pagination = paginate(db(), statement, query_data["page"], query_data["per_page"])
    return {"items": [post_view(p) for p in items], "pagination": pagination}


@api.post("/posts")
@api.auth_required(token_auth)
@api.input(PostIn)
@api.output(PostOut, status_code=201)
@api.doc(responses={403: "Viewers may not; officers only in their street and never a protected post.",
                     409: "The site already has a post of that name."})
def create_post(json_data):
    """A new post at a site (officers: on their street; only commanders mark it protected)."""
    require_writer()
    site = db().get(Site, json_data["site_id"])
    if site is not None:
        check_street(site.street_id)
    if json_data["protected"]:
        require_command()
    post = posts.create_post(db(), actor=actor(), now=utcnow(), **json_data)
    commit()
    return post_view(checked_post(post.id))


@api.get("/posts/<int:post_id>")
@api.auth_required(token_auth)
@api.output(PostOut)
@api.doc(responses={403: "The post is in another street than the officer's."})
def get_post(post_id: int):
    return post_view(checked_post(post_id))


@api.patch("/posts/<int:post_id>")
@api.auth_required(token_auth)
@api.input(PostPatch)
@api.output(PostOut)
@api.doc(responses={403: "Viewers may not; officers only in their street; `protected` is for commanders.",
                     409: "Another post of the site has that name."})
def update_post(post_id: int, json_data):
    """Change a post; `protected` is for commanders."""
    require_writer()
    checked_post(post_id)
    if "protected" in json_data:
        require_command()
    posts.update_post(db(), post_id, actor=actor(), now=utcnow(), **json_data)
    commit()
    return post_view(checked_post(post_id))


@api.post("/posts/<int:post_id>/patterns")
@api.auth_required(token_auth)
@api.input(PatternIn)
@api.output(PatternOut, status_code=201)
@api.doc(responses={403: "Viewers may not; officers only in their street."})
def add_pattern(post_id: int, json_data):
    """A weekly pattern (local times); by default the coming weeks' shifts are created at once."""
    require_writer()
    checked_post(post_id)
    now, cfg = utcnow(), roster_config()
    pattern = posts.add_pattern(db(), post_id, weekdays=json_data["weekdays"],
                                start_time=_hhmm(json_data["start_time"]), end_time=_hhmm(json_data["end_time"]),
                                slots=json_data["slots"], valid_from=json_data["valid_from"],
                                valid_until=json_data["valid_until"], actor=actor(), now=now, cfg=cfg)
    created = None
    if json_data["generate"]:
        created = generation.generate_shifts(db(), now, cfg, post_ids=[post_id]).created
    commit()
    return pattern_view(db().get(ShiftPattern, pattern.id), created)


@api.delete("/patterns/<int:pattern_id>")
@api.auth_required(token_auth)
@api.output(PatternOut)
@api.doc(responses={403: "Viewers may not; officers only in their street."})
def deactivate_pattern(pattern_id: int):
    """Stop a pattern (shifts already generated stay; cancel them one by one if needed)."""
    require_writer()
    pattern = db().get(ShiftPattern, pattern_id)
    if pattern is None:
        raise NotFound(f"no pattern {pattern_id}")
    checked_post(pattern.post_id)
    posts.deactivate_pattern(db(), pattern_id, actor=actor(), now=utcnow())
    commit()
    return pattern_view(db().get(ShiftPattern, pattern_id))


@api.post("/posts/<int:post_id>/shifts")
@api.auth_required(token_auth)
@api.input(ShiftIn)
@api.output(ShiftOut, status_code=201)
@api.doc(responses={403: "Viewers may not; officers only in their street.",
                     409: "The post is inactive or already has a shift starting then."})
def add_shift(post_id: int, json_data):
    """A one-off extra shift at the post."""
    require_writer()
    checked_post(post_id)
    shift = posts.add_extra_shift(db(), post_id, starts_at=aware(json_data["starts_at"]),
                                  ends_at=aware(json_data["ends_at"]), slots=json_data["slots"],
                                  actor=actor(), now=utcnow(), cfg=roster_config())
    commit()
    return shift_view(checked_shift(shift.id))
