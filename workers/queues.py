"""The pipeline's queues, in stage order (importable without building a broker)."""

QUEUES: tuple[str, ...] = ("card_ingest", "card_merge", "card_map", "card_write")

# Brokers that only send (the importer) mark their heartbeats with this prefix, so `status`
# counts workers only.
SENDER_PREFIX = "sender-"
