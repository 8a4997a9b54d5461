# One image for every gateway process; the command picks the process (linkgate api|router|ami|sla|channels).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contracts contracts
COPY bus bus
COPY adapters adapters
COPY gateway gateway
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 TZ=Asia/Shanghai
RUN useradd --system --uid 10001 --home-dir /var/lib/linkgate --create-home linkgate
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
USER linkgate
WORKDIR /var/lib/linkgate
ENV LINKGATE_SPOOL_DIR=/var/lib/linkgate/spool
ENTRYPOINT ["linkgate"]
CMD ["api"]
