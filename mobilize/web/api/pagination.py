from __future__ import annotations

from apiflask import Schema
from apiflask.validators import Range
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from mobilize.web.api.fields import QueryInteger
from mobilize.web.converters import DATABASE_INT_MAX

MAX_PER_PAGE = 200
# The query's OFFSET, (page - 1) * per_page, is a 64-bit integer in the databases: a page past this one would
# overflow it (a 500 from the driver); it is a 422 naming the parameter instead.
MAX_PAGE = DATABASE_INT_MAX // MAX_PER_PAGE


class PageQuery(Schema):
    page = QueryInteger(load_default=1, validate=Range(min=1, max=MAX_PAGE))
    per_page = QueryInteger(load_default=50, validate=Range(min=1, max=MAX_PER_PAGE))


def paginate(session: Session, statement: Select, page: int, per_page: int) -> tuple[list, dict]:
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    items = list(session.scalars(statement.limit(per_page).offset((page - 1) * per_page)))
    pages = max(1, -(-total // per_page))
    return items, {"page": page, "per_page": per_page, "total": total, "pages": pages,
                   "next": page + 1 if page < pages else None, "prev": page - 1 if page > 1 else None}
