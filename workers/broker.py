"""The dramatiq broker on Redis, with the middleware that binds log context to each message."""

from __future__ import annotations

import dramatiq
import redis
import structlog
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Middleware

from config.logging import configure_logging
from config.settings import get_settings
from workers.queues import QUEUES  # noqa: F401  (re-exported)
from workers.redis_client import connection_pool, redis_url
from workers.stranded_acks import StrandedAckMiddleware


class LogContext(Middleware):
    """Binds import_id, stage and message_id to every log line written while a message runs."""

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        structlog.contextvars.clear_contextvars()
        import_id = message.kwargs.get("import_id") if message.kwargs else None
        structlog.contextvars.bind_contextvars(
            stage=message.queue_name.removesuffix(".DQ"),
            message_id=message.message_id,
            import_id=import_id,
        )

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.Message,
        *,
        result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        structlog.contextvars.clear_contextvars()

    after_skip_message = after_process_message


def build_broker() -> RedisBroker:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    # Dead workers' messages return only during "maintenance", which dramatiq runs on 1 in
    # 1,000 broker calls by default; more often, a killed worker's messages come back in seconds.
    broker = RedisBroker(
        client=redis.Redis(
            connection_pool=connection_pool(redis_url(settings), decode_responses=False)
        ),
        heartbeat_timeout=settings.worker.heartbeat_timeout_ms,
        maintenance_chance=settings.worker.maintenance_chance,
    )
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(LogContext())
    broker.add_middleware(
        StrandedAckMiddleware(
            broker.client,
            seen_key=f"{settings.namespace}:stranded_acks",
            stranded_after_s=settings.worker.stranded_after_s,
            interval_s=settings.worker.reclaim_interval_s,
        )
    )
    return broker


broker = build_broker()
dramatiq.set_broker(broker)
