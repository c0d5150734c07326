"""Per-process wiring of settings, Redis stores and the Salesforce gateway, built lazily."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

import redis
import requests
from dramatiq.brokers.redis import RedisBroker

from config.field_mapping import FieldMapping, load_field_mapping
from config.settings import Settings, get_settings
from workers.queues import SENDER_PREFIX
from workers.redis_client import connection_pool, get_redis, redis_url
from workers.salesforce.account_index import AccountIndex
from workers.salesforce.calls import GuardedCalls
from workers.salesforce.contact_index import ContactIndex
from workers.salesforce.gateway import SalesforceGateway
from workers.salesforce.user_directory import DirectoryCache
from workers.salesforce.writer import BatchWriter, WriterPolicy
from workers.state.import_tracker import ImportTracker
from workers.state.keys import Keys
from workers.state.owner_mapping import OwnerMappingStore
from workers.state.person_index import PersonIndex
from workers.state.sync_ledger import SyncLedger
from workers.state.writer_buffer import WriterBuffer


@dataclass
class Runtime:
    settings: Settings

    @cached_property
    def redis(self) -> redis.Redis:
        return get_redis(self.settings)

    @cached_property
    def broker(self) -> RedisBroker:
        """A broker on this runtime's Redis, for senders outside the workers (the importer)."""
        pool = connection_pool(redis_url(self.settings), decode_responses=False)
        broker = RedisBroker(
            client=redis.Redis(connection_pool=pool),
            heartbeat_timeout=self.settings.worker.heartbeat_timeout_ms,
        )
        # Every broker call writes a heartbeat; mark ours so `status` does not count it as a worker.
        broker.broker_id = SENDER_PREFIX + broker.broker_id
        return broker

    @cached_property
    def keys(self) -> Keys:
        return Keys(self.settings.namespace)

    @cached_property
    def field_mapping(self) -> FieldMapping:
        return load_field_mapping(self.settings.pipeline.field_mapping_file)

    @cached_property
    def persons(self) -> PersonIndex:
        return PersonIndex(self.redis, self.keys)

    @cached_property
    def tracker(self) -> ImportTracker:
        return ImportTracker(self.redis, self.keys)

    @cached_property
    def owners(self) -> OwnerMappingStore:
        return OwnerMappingStore(self.redis, self.keys)

    @cached_property
    def ledger(self) -> SyncLedger:
        return SyncLedger(self.redis, self.keys)

    @cached_property
    def buffer(self) -> WriterBuffer:
        p = self.settings.pipeline
        return WriterBuffer(self.redis, self.keys, batch_size=p.batch_size, linger_ms=p.linger_ms)

    @cached_property
    def policy(self) -> WriterPolicy:
        return WriterPolicy.from_settings(self.settings)

    @cached_property
    def gateway(self) -> SalesforceGateway:
        calls = GuardedCalls(self.redis, self.keys, self.policy)
        return SalesforceGateway(self.settings.salesforce, calls, self._count_api_call)

    @cached_property
    def directory(self) -> DirectoryCache:
        sf = self.settings.salesforce
        return DirectoryCache(
            self.redis,
            self.keys,
            self.gateway,
            refresh_s=sf.directory_refresh_s,
            default_owner_username=sf.default_owner_username,
        )

    @cached_property
    def accounts(self) -> AccountIndex:
        return AccountIndex(
            self.redis,
            self.keys,
            self.gateway,
            refresh_s=self.settings.salesforce.directory_refresh_s,
        )

    @cached_property
    def contacts(self) -> ContactIndex:
        sf = self.settings.salesforce
        return ContactIndex(
            self.redis,
            self.keys,
            self.gateway,
            external_id_field=sf.contact_external_id_field,
            refresh_s=sf.directory_refresh_s,
            max_indexed=sf.contact_index_max,
        )

    @cached_property
    def writer(self) -> BatchWriter:
        return BatchWriter(
            self.redis,
            self.keys,
            self.buffer,
            self.ledger,
            self.tracker,
            self.gateway,
            contact_external_id_field=self.settings.salesforce.contact_external_id_field,
            merged_into_field=self.settings.salesforce.merged_into_field,
            policy=self.policy,
        )

    def _count_api_call(self, response: requests.Response) -> None:
        # The OAuth token endpoint does not count against the org's daily API limit; keep it apart.
        field = "auth_calls" if "/services/oauth2/" in response.url else "api_calls"
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby(self.keys.stats(), field, 1)
        usage = response.headers.get("Sforce-Limit-Info")
        if usage:
            pipe.hset(self.keys.stats(), "api_usage", usage)
        pipe.execute()


_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = Runtime(get_settings())
        return _runtime


def reset_runtime() -> None:
    """Forget this process's runtime: the next get_runtime() reads the settings again."""
    global _runtime
    with _lock:
        _runtime = None
