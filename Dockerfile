FROM python:3.11-slim
COPY --from=ghcr.io/astral-sh/uv:latest /uv /usr/local/bin/uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY config ./config
COPY pipeline ./pipeline
COPY workers ./workers
COPY emulators ./emulators
COPY demo ./demo
RUN uv sync --frozen --no-default-groups && ln -s /app/.venv/bin/cardsync /usr/local/bin/cardsync
ENV PATH="/app/.venv/bin:$PATH"
CMD ["cardsync", "worker"]
