FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 APP_MODULE=main:app
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
USER 1000
EXPOSE 8000
CMD exec uvicorn "$APP_MODULE" --host 0.0.0.0 --port 8000 --proxy-headers
