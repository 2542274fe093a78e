FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 POETRY_VIRTUALENVS_CREATE=false
RUN pip install --no-cache-dir poetry==1.8.5
WORKDIR /app
COPY pyproject.toml ./
RUN poetry install --only main --no-root
COPY app ./app
USER 65534
EXPOSE 8000
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0"]
