# incident-bot in a container: `incident-bot serve` as a non-root user, health-checked on /healthz.
# Build: docker build -t incident-bot .      Run next to PostgreSQL: see compose.yaml.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot bot
COPY handlers handlers
COPY templates templates
# A wheel, not the source tree: the image runs what `pip install .` would give a user.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3000
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin incident-bot
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER incident-bot
WORKDIR /home/incident-bot
EXPOSE 3000
# /healthz says the process answers; orchestrators that route traffic should also probe /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
# `docker run … incident-bot` serves; `docker run … incident-bot migrate` (or nudge, demo) runs that instead.
ENTRYPOINT ["incident-bot"]
CMD ["serve"]
