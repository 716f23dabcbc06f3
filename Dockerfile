FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system studio && mkdir -p var && chown studio var
USER studio
EXPOSE 8000
CMD ["uvicorn", "reliability_studio.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
