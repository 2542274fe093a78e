FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1
RUN useradd --system app
USER app
WORKDIR /app
COPY requirements.txt .
USER root
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0"]
