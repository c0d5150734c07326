"""The pipeline's stages as dramatiq actors; `dramatiq workers.stages` runs them all."""

from workers.stages.actors import card_ingest, card_map, card_merge, card_write, flush_writer

__all__ = ["card_ingest", "card_map", "card_merge", "card_write", "flush_writer"]
