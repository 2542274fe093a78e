FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1
RUN pip install --no-cache-dir pipenv==2024.4.0
WORKDIR /app
COPY Pipfile Pipfile.lock ./
RUN pipenv install --system
COPY . .
USER 65534
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0"]
