FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1
WORKDIR /code
COPY ./requirements.txt /code/requirements.txt
RUN pip install --no-cache-dir --upgrade -r /code/requirements.txt
COPY ./app /code/app
USER 65534
EXPOSE 80
CMD ["fastapi", "run", "app/main.py", "--port", "80"]
