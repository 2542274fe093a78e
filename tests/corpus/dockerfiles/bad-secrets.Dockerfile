FROM python:3.12-slim
ARG GITHUB_TOKEN
ENV PYTHONUNBUFFERED=1 \
    GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D \
    PASSWORD_FILE=/run/secrets/db_password
ENV DATABASE_URL=postgresql://app:hunter2@db:5432/app
ENV SECRET_KEY=dev-secret-change-me
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
USER 65534
EXPOSE 8000
CMD ["uvicorn", "main:app", "--host", "0.0.0.0"]
