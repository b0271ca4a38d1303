# The dashboard: Streamlit and the shared contract; no torch, no transformers.
FROM python:3.11-slim
WORKDIR /app
COPY requirements-dashboard.txt .
RUN pip install --no-cache-dir -r requirements-dashboard.txt
COPY shared/ shared/
COPY dashboard/ dashboard/
COPY lessons/ lessons/
COPY .streamlit/ .streamlit/
ENV PYTHONPATH=/app
EXPOSE 8501
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health')"
CMD ["python", "-m", "streamlit", "run", "dashboard/app.py", "--server.port", "8501", "--server.address", "0.0.0.0"]
