FROM python:3.12-slim AS base
ENV PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 app
WORKDIR /app

FROM base AS deps
COPY requirements.txt .
RUN pip install --no-cache-dir --prefix=/install -r requirements.txt

FROM base AS final
COPY --from=deps /install /usr/local
COPY . .
USER 10001
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0"]
