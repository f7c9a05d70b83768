"""Wartime recruitment orders (招募令): the service layer.

Drafts and their validation (`drafts`), the lifecycle (`lifecycle`: launch, top up, cancel, close), who may be
invited (`audience`), invitation waves (`waves`), placing accepted volunteers within capacity (`dispatch`), the
capacity primitives every writer goes through (`places`), SMS replies (`replies`), timers (`timers`), and what
officers see and do (`board`). SQLAlchemy sessions, no Flask and no Redis: work that must happen after a commit
(a wave, a match) is only requested here (`followups`), queued after the commit through the jobs door
(`after_commit`, `mobilize.jobs`) and carried out by the jobs in `workers/orders.py`.
"""
