FROM python AS build
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir --prefix=/install -r requirements.txt

FROM python:latest
ENV PYTHONUNBUFFERED=1
COPY --from=build /install /usr/local
WORKDIR /app
COPY . .
USER 65534
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0"]
