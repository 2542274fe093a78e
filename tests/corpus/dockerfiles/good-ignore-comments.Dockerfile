# The image needs root to bind to port 80 on this legacy platform.
# shipshape: ignore=SS-DF011
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
# shipshape: ignore=SS-DF017
ADD static /app/static
COPY . .
EXPOSE 80
CMD ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "80"]
