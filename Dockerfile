# Two targets from one file:
#   cpu      (default) web, general workers and beat: the pinned requirements, CPU TensorFlow use.
#   training the GPU training worker: the same pins plus tensorflow[and-cuda] (NVIDIA's CUDA/cuDNN wheels).
# Both run as the unprivileged user "hikmax" (uid 10001).
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN groupadd --gid 10001 hikmax && useradd --uid 10001 --gid hikmax --create-home hikmax \
    && mkdir -p /data /app && chown hikmax:hikmax /data /app
WORKDIR /app
COPY requirements.txt requirements-gpu.txt ./

FROM base AS cpu
RUN pip install -r requirements.txt
COPY --chown=hikmax:hikmax . .
RUN DJANGO_SETTINGS_MODULE=hikmax_site.settings HIKMAX_VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-var
USER hikmax
EXPOSE 8000

FROM base AS training
RUN pip install -r requirements-gpu.txt
COPY --chown=hikmax:hikmax . .
# Fails the build unless TensorFlow is a CUDA build with the CUDA runtime wheels installed.
RUN python bin/check_gpu_tensorflow.py --build-only
USER hikmax
