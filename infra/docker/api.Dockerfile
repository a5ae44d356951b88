# Local API gateway for docker-compose.local.yml: the Chalice app, the notify function
# and the shared layer behind one HTTP and websocket server. Build context: repo root.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements/dev.txt requirements/dev.txt
COPY layers/triage_core/requirements.txt layers/triage_core/requirements.txt
COPY infra/docker/api-requirements.txt infra/docker/api-requirements.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir \
        --requirement infra/docker/api-requirements.txt \
        --constraint requirements/dev.txt

FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 triage \
    && useradd --system --uid 10001 --gid triage --no-create-home \
        --shell /usr/sbin/nologin triage
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY layers/triage_core/triage_core/ layers/triage_core/triage_core/
COPY functions/ functions/
COPY infra/__init__.py infra/__init__.py
COPY infra/local/ infra/local/
COPY infra/ops/ infra/ops/
COPY frontend/ frontend/
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONPATH=/app/layers/triage_core:/app/functions/api:/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8000
# Inside the container the gateway listens on 0.0.0.0 so nginx can reach it.
CMD ["python", "-m", "infra.local.serve", "--host", "0.0.0.0", "--port", "8000"]
