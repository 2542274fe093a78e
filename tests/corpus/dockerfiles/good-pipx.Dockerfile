FROM python:3.12-slim AS build
RUN pip install --no-cache-dir pipx==1.7.1 \
    && pipx install poetry==1.8.5 \
    && pipx install "ruff==0.8.4"
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN /root/.local/bin/poetry export --format requirements.txt --output requirements.txt
RUN pip install --no-cache-dir --target /deps -r requirements.txt

FROM python:3.12-alpine
ENV PYTHONUNBUFFERED=1 PYTHONPATH=/deps
COPY --from=build /deps /deps
WORKDIR /app
COPY . .
RUN adduser -D -H -u 10001 app
USER 10001
EXPOSE 8000
CMD ["python", "-m", "uvicorn", "api:app", "--host", "0.0.0.0"]
