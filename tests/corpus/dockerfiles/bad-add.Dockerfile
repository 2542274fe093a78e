FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1
WORKDIR /app
ADD requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/model.bin /app/model.bin
ADD vendor.tar.gz /opt/vendor/
ADD . /app
USER 65534
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0"]
