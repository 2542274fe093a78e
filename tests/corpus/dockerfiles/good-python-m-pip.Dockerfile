FROM python:3.13-slim-bookworm
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv
COPY requirements.txt ./
RUN python -m pip install -r requirements.txt \
 && python3 -m pip install --no-deps --no-cache-dir "uvicorn==0.34.0"
COPY app/ ./app/
USER 65534
EXPOSE 8000
CMD ["python", "-m", "uvicorn", "app.main:app", "--host=0.0.0.0", "--port=8000"]
