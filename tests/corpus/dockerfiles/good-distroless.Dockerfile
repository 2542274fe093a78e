FROM python:3.11-slim AS build
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir --target /app/site-packages -r requirements.txt
COPY src/ /app/src/

FROM gcr.io/distroless/python3-debian12:nonroot
ENV PYTHONUNBUFFERED=1 PYTHONPATH=/app/site-packages:/app/src
WORKDIR /app
COPY --from=build /app /app
EXPOSE 8000
ENTRYPOINT ["python", "-m", "uvicorn", "shop.main:app", "--host", "0.0.0.0"]
