# emotion-bot image (CPU by default). The README's "Docker" section covers volumes, the uid, health,
# the stop timeout, GPUs and compose.yaml. For an NVIDIA GPU (CUDA 13.0 build of torch, from PyPI):
#   docker build --build-arg TORCH_INDEX_URL=https://pypi.org/simple -t emotion-bot:cuda .
#   docker run --gpus all ... emotion-bot:cuda run
# Layers go from least to most often changed: system packages, torch, the dependencies (keyed on
# pyproject.toml alone), then the code, so a code edit rebuilds in seconds.
FROM python:3.11-slim-bookworm

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# ffmpeg/ffprobe decode every upload; tini is PID 1 (forwards SIGTERM to the command, reaps
# children). Debian's ffmpeg drags in Mesa's DRI drivers, LLVM and Z3 (about 160 MB) through its
# libraries' package dependencies; ffmpeg and ffprobe never load them (GPU rendering code that only
# libGL would dlopen), so dpkg is told not to unpack those files. Decoding is byte-identical. A
# derived image that needs GL: delete /etc/dpkg/dpkg.cfg.d/emotion-bot-no-gl and
# `apt-get install --reinstall libllvm15 libz3-4 libgl1-mesa-dri`.
RUN printf '%s\n' 'path-exclude=/usr/lib/*/libLLVM-15.so*' 'path-exclude=/usr/lib/llvm-15/*' \
      'path-exclude=/usr/lib/*/libz3.so*' 'path-exclude=/usr/lib/*/dri/*' \
      > /etc/dpkg/dpkg.cfg.d/emotion-bot-no-gl \
 && apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini \
 && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"

# The dependency layer: rebuilt only when pyproject.toml changes (torch is already satisfied);
# with the [api] extra, so the same image runs `serve`.
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb')); \
print('\n'.join(p['build-system']['requires'] + p['project']['dependencies'] \
               + p['project']['optional-dependencies']['api']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The code layer: seconds, no network.
COPY README.md LICENSE ./
COPY engine engine
COPY bot bot
COPY adapters adapters
RUN pip install --no-deps --no-build-isolation . && rm -rf build *.egg-info

# uid 10001 owns the two volumes; any other uid (docker run --user "$(id -u)") works too, with
# HOME and every cache pointed at /tmp, which is writable for everyone.
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /data emotion \
 && mkdir -p /data /models \
 && chown 10001:10001 /data /models
# The listeners bind every interface inside the container; publish their ports on the host as
# narrowly as needed (-p 127.0.0.1:9090:9090). Settings from a config file are overridden by these.
ENV HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba \
    MODELSCOPE_CACHE=/models \
    HF_HOME=/models \
    EMOTION_BOT__ENGINE__CACHE_DIR=/models \
    EMOTION_BOT__HISTORY__PATH=/data/emotion-bot.db \
    EMOTION_BOT__SERVER__HOST=0.0.0.0 \
    EMOTION_BOT__SLACK__HOST=0.0.0.0 \
    EMOTION_BOT__TELEGRAM__WEBHOOK_HOST=0.0.0.0
USER 10001:10001
# `analyze FILE` without --out writes ./outputs/ here, in the data volume or your bind mount.
WORKDIR /data
VOLUME ["/data", "/models"]
# health and metrics ([server]), Slack HTTP ([slack] port), Telegram webhook ([telegram] webhook_port)
EXPOSE 9090 3000 8443

# Probes what this container runs (read from PID 1's command line and settings): /readyz of
# `run`'s [server] port; always healthy for one-off commands such as `analyze`. The start period
# covers a first start that downloads the 2 GB model into /models.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20m --retries=3 \
  CMD ["emotion-bot", "healthcheck"]

# `run` drains for up to [server] drain_timeout_s (30 s) on SIGTERM: stop with
# `docker stop -t 45`, `docker run --stop-timeout 45` or compose's stop_grace_period.
ENTRYPOINT ["tini", "--", "emotion-bot"]
CMD ["--help"]
