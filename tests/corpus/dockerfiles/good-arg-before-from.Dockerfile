ARG PYTHON_VERSION=3.12
ARG BASE=python:${PYTHON_VERSION}-slim
FROM --platform=$BUILDPLATFORM ${BASE} AS build
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir --prefix=/install -r requirements.txt

FROM ${BASE} AS final
ARG PORT=8000
ENV PYTHONUNBUFFERED=1
COPY --from=build /install /usr/local
WORKDIR /app
COPY . .
RUN useradd --system --uid 10001 web
USER 10001
EXPOSE ${PORT}
CMD ["uvicorn", "web.app:app", "--host", "0.0.0.0", "--port", "8000"]
