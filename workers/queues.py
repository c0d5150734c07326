"""The pipeline's queues, in stage order (importable without building a broker)."""

QUEUES: tuple[str, ...] = ("card_ingest", "card_merge", "card_map", "card_write")
