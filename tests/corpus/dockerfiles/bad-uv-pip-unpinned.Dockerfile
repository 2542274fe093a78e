FROM python:3.12-slim
COPY --from=ghcr.io/astral-sh/uv:0.5.11 /uv /bin/uv
ENV PYTHONUNBUFFERED=1
WORKDIR /app
RUN uv pip install --system fastapi==0.115.6 uvicorn
COPY . .
USER 65534
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0"]
