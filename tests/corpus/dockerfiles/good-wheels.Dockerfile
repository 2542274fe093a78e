FROM python:3.12-slim AS wheels
WORKDIR /build
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1
COPY --from=wheels /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels /wheels/*.whl \
    && rm -rf /wheels
RUN useradd --create-home --uid 10001 appuser
USER 10001
WORKDIR /home/appuser
EXPOSE 8000
CMD ["gunicorn", "service.app:app", "-k", "uvicorn.workers.UvicornWorker", "-b", "0.0.0.0:8000"]
