FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 PORT=8000
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd -r -u 10001 app
USER 10001
EXPOSE $PORT
CMD ["gunicorn", "myproject.asgi:application", "-k", "uvicorn.workers.UvicornWorker"]
