# syntax=docker/dockerfile:1.7
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN <<EOF
set -eux
pip install --no-cache-dir -r requirements.txt
useradd --system --uid 10001 app
EOF
COPY <<-'CONF' /app/logging.ini
	[loggers]
	keys=root
CONF
COPY . .
USER 10001
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8000"]
