from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Integer
from apiflask.validators import Range
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_PER_PAGE = 200


class PageQuery(Schema):
    page = Integer(load_default=1, validate=Range(min=1))
    per_page = Integer(load_default=50, validate=Range(min=1, max=MAX_PER_PAGE))


def paginate(session: Session, statement: Select, page: int, per_page: int) -> tuple[list, dict]:
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    items = list(session.scalars(statement.limit(per_page).offset((page - 1) * per_page)))
    pages = max(1, -(-total // per_page))
    return items, {"page": page, "per_page": per_page, "total": total, "pages": pages,
                   "next": page + 1 if page < pages else None, "prev": page - 1 if page > 1 else None}
