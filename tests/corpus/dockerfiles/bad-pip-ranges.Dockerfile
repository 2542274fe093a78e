FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt orjson \
    && pip install --no-cache-dir 'httpx>=0.27' pydantic-settings~=2.6 \
    && /usr/local/bin/pip install --no-cache-dir structlog
COPY . .
USER 10001
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0"]
