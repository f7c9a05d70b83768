"""What a process needs to talk to the world: settings, the database engine and session factory, Redis.

Built once per process (the web app, a worker, a CLI command), never at import time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import structlog
from redis.exceptions import RedisError
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from mobilize.db import make_engine, make_session_factory, transaction

log = structlog.get_logger(__name__)


def _forget_queued(session: Session, _previous_transaction) -> None:
    session.info.pop("queued_priorities", None)


STATEMENT_CONNECTIONS = 10  # per process, for Runtime.statement_engine on PostgreSQL
# A Redis that accepts connections but never answers (hung, or a network path that drops packets) must not hang a
# webhook or a page for ever: a command gives up after this long and its caller's Redis error handling takes
# over (Twilio waits 15 s for a webhook's answer). RQ's workers raise it on their own connection for their
# blocking dequeue (rq.worker: connection_timeout).
REDIS_SOCKET_TIMEOUT_S = 5.0
REDIS_CONNECT_TIMEOUT_S = 2.0


class RedisUnavailable(RuntimeError):
    """No Redis to talk to; the message says how to get one."""


@dataclass
class Runtime:
    settings: Settings
    _redis_url: str | None = field(default=None, init=False)

    @classmethod
    def from_env(cls) -> "Runtime":
        return cls(Settings.from_env())

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        factory = make_session_factory(self.engine)
        event.listen(factory, "after_commit", self._after_commit)
        event.listen(factory, "after_soft_rollback", _forget_queued)
        return factory

    @cached_property
    def statement_engine(self) -> Engine:
        """For one statement alone in autocommit (the Twilio webhooks' INSERT and UPDATE, mobilize.web.twilio).
        PostgreSQL: an engine of its own, its connections in autocommit and no pre-ping (a round trip before
        every statement; the caller retries its idempotent statement once on a disconnect instead), and a pool
        that keeps the connections it opened: with the default five kept and ten more opened and closed as
        needed, eight webhooks at once opened a new server connection (a process forked on the server) every 35
        requests. At most STATEMENT_CONNECTIONS at once; a statement takes a millisecond or so, and more waiting
        for the server would not make two cores go faster. SQLite: the engine, whose connections are in
        autocommit mode already (see mobilize.db)."""
        if self.engine.dialect.name == "sqlite":
            return self.engine
        return make_engine(self.settings.database_url, pool_pre_ping=False, isolation_level="AUTOCOMMIT",
                           pool_size=STATEMENT_CONNECTIONS, max_overflow=0)

    def _after_commit(self, session: Session) -> None:
        """Messages were queued in this transaction: make sure senders are on their way. If Redis is not
        reachable now, the periodic reconciler kicks them later (the outbox rows are the truth)."""
        priorities = session.info.pop("queued_priorities", None)
        if not priorities:
            return
        try:
            from mobilize import jobs  # (RQ is loaded by the first commit that queues messages, not at start)

            jobs.kick_senders(self.redis, priorities)
        except (RedisUnavailable, RedisError, OSError) as error:
            log.warning("sms.kick_deferred", error=str(error))

    def transaction(self):
        return transaction(self.sessions)

    @property
    def redis_url(self) -> str:
        """REDIS_URL, or the socket of the embedded server that `mobilize up` (or a test) started."""
        if self.settings.redis_url:
            return self.settings.redis_url
        from mobilize.embedded_redis import EmbeddedRedis

        embedded = EmbeddedRedis(self.settings.instance_path)
        if not embedded.is_running():
            raise RedisUnavailable(
                "no Redis: the embedded server is not running (start it with `mobilize up`) "
                "and REDIS_URL is not set (e.g. REDIS_URL=redis://127.0.0.1:6379/0)"
            )
        return embedded.url

    @cached_property
    def redis(self):
        from redis import Redis

        return Redis.from_url(self.redis_url, socket_timeout=REDIS_SOCKET_TIMEOUT_S,
                              socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S)

    def close(self) -> None:
        if "statement_engine" in self.__dict__:
            self.statement_engine.dispose()
        if "engine" in self.__dict__:
            self.engine.dispose()
        if "redis" in self.__dict__:
            self.redis.close()
