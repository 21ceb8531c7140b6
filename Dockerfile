# emotion-bot image. CPU by default; for NVIDIA GPUs build with
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 -t emotion-bot:cuda .
# and run with --gpus all.
FROM python:3.11-slim-bookworm

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"
COPY pyproject.toml README.md LICENSE ./
COPY engine engine
COPY bot bot
COPY adapters adapters
RUN pip install --no-cache-dir .

RUN useradd --create-home --uid 10001 emotion \
 && mkdir -p /data /models \
 && chown emotion:emotion /data /models
USER emotion
ENV EMOTION_BOT__HISTORY__PATH=/data/emotion-bot.db \
    EMOTION_BOT__ENGINE__CACHE_DIR=/models \
    EMOTION_BOT__SERVER__HOST=0.0.0.0 \
    MODELSCOPE_CACHE=/models \
    HF_HOME=/models
VOLUME ["/data", "/models"]
EXPOSE 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9090/readyz', timeout=4).status == 200 else 1)"

ENTRYPOINT ["emotion-bot"]
CMD ["--help"]
