# syntax=docker/dockerfile:1
# textrepair API image: CPU torch, non-root, read-only root filesystem friendly.
#   Baked model:  textrepair export --output model && docker build --build-arg MODEL_DIR=model .
#   From MLflow:  docker build . ; run with TEXTREPAIR_SERVE__MODEL=models:/textrepair@champion
#                 and TEXTREPAIR_MLFLOW__TRACKING_URI=http://mlflow:5000
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.lock pyproject.toml README.md ./
# CPU wheel of torch first, from PyTorch's CPU index, so nothing pulls a CUDA build.
RUN grep -E '^torch==' requirements.lock > /tmp/torch.txt \
 && grep -v -E '^torch==' requirements.lock > /tmp/requirements.txt \
 && pip install --index-url https://download.pytorch.org/whl/cpu --requirement /tmp/torch.txt \
 && pip install --requirement /tmp/requirements.txt
COPY src ./src
RUN pip install --no-deps .

FROM ${PYTHON_IMAGE} AS runtime
ARG MODEL_DIR=deploy/docker/no-model
LABEL org.opencontainers.image.title="textrepair" \
      org.opencontainers.image.description="Repairs text damaged by DNA-like mutations" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 textrepair \
 && useradd --system --uid 10001 --gid textrepair --home-dir /home/textrepair --create-home textrepair
COPY --from=build /opt/venv /opt/venv
COPY --chown=root:root ${MODEL_DIR} /models/textrepair
COPY --chown=root:root deploy/docker/params.yaml /etc/textrepair/params.yaml
# Everything written at run time goes to /tmp (an emptyDir in Kubernetes): the root filesystem
# can be mounted read-only.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    HF_HOME=/tmp/hf \
    MPLCONFIGDIR=/tmp/matplotlib \
    TEXTREPAIR_PARAMS=/etc/textrepair/params.yaml \
    TEXTREPAIR_SERVE__HOST=0.0.0.0 \
    TEXTREPAIR_SERVE__PORT=8000 \
    TEXTREPAIR_SERVE__MODEL=/models/textrepair
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["textrepair", "serve"]

# The stream's image (`docker build --target stream -t textrepair-stream .`): the API image plus
# the Java runtime Spark needs; deploy/k8s/base/stream.yaml runs it as one instance.
FROM runtime AS stream
USER 0:0
# Debian's JRE follows bookworm's security updates; the slim image lacks the man dir it links into.
# hadolint ignore=DL3008
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/*
USER 10001:10001
ENV SPARK_LOCAL_IP=127.0.0.1
HEALTHCHECK NONE
ENTRYPOINT ["textrepair", "stream"]

# The default target (a plain `docker build .`) stays the API image.
FROM runtime AS api
