# One image for every newsflow service: `docker run IMAGE entities` runs `newsflow service entities`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Built below, read-only at run time (the services open it with mode=ro).
    NEWSFLOW_GAZETTEER_PATH=/opt/newsflow/gazetteer.sqlite \
    # Containers are reached from outside themselves: listen on every interface.
    NEWSFLOW_HTTP_HOST=0.0.0.0 \
    NEWSFLOW_HTTP_PORT=8080 \
    NEWSFLOW_METRICS_HOST=0.0.0.0 \
    NEWSFLOW_METRICS_PORT=9100 \
    TOKENIZERS_PARALLELISM=false

WORKDIR /app

# Dependencies first, in their own layer: they change far less often than the code.
# --no-deps as in the Makefile: the lock is complete, and pip must not resolve further.
COPY requirements/runtime.lock requirements/dev.lock requirements/
RUN pip install --require-hashes --no-deps -r requirements/runtime.lock \
    # The build backend, hash-pinned too, from the dev lock (not part of the runtime).
    && awk '/^(setuptools|wheel)==/{p=1} p{print} p&&!/\\$/{p=0}' requirements/dev.lock \
        > /tmp/build.lock \
    && pip install --require-hashes --no-deps -r /tmp/build.lock \
    && rm /tmp/build.lock

COPY pyproject.toml README.md ./
COPY shared/ shared/
COPY services/ services/
COPY newsflow/ newsflow/
RUN pip install --no-deps --no-build-isolation . \
    && rm -rf build *.egg-info \
    && mkdir -p /opt/newsflow \
    && newsflow gazetteer build --out "$NEWSFLOW_GAZETTEER_PATH" \
    && chmod -R a+rX /opt/newsflow

# HOME in /tmp: the one writable place when the root file system is mounted read-only.
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /tmp newsflow
USER 10001:10001

EXPOSE 8080 9100
# SIGTERM (the default) makes a service drain its in-flight batch within 30 s.
ENTRYPOINT ["newsflow", "service"]
CMD ["ingest"]
