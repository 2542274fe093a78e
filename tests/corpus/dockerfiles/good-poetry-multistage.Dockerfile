FROM python:3.11-slim AS build
ENV POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_NO_INTERACTION=1
RUN pip install --no-cache-dir poetry==1.8.5
WORKDIR /src
COPY pyproject.toml poetry.lock ./
RUN poetry install --only main --no-root --no-cache
COPY . .
RUN poetry install --only main --no-cache

FROM python:3.11-slim AS runtime
ENV PYTHONUNBUFFERED=1 \
    PATH="/src/.venv/bin:$PATH"
WORKDIR /src
COPY --from=build /src /src
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["gunicorn", "app.wsgi:app", "--bind", "0.0.0.0:8080", "--workers", "4"]
