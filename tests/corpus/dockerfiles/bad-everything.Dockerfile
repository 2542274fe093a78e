FROM python
ENV API_KEY=sk-live-123
WORKDIR src
ADD . .
RUN pip install -r requirements.txt
EXPOSE 5000
CMD uvicorn main:app --reload
