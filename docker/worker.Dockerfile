# A worker: the model, the engine, RQ. torch (with CUDA) comes from the base image; on a CPU host the
# same image runs with DECODELAB_DEVICE=cpu.
ARG BASE=pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime
FROM ${BASE}
WORKDIR /app
COPY requirements-worker-base.txt .
RUN pip install --no-cache-dir -r requirements-worker-base.txt
COPY shared/ shared/
COPY worker/ worker/
ENV PYTHONPATH=/app PYTHONUNBUFFERED=1
CMD ["python", "-m", "worker"]
