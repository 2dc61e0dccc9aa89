# Backprop Studio: one replica of the app (docs/deploy.md runs several behind nginx).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first: a change to the code does not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt && useradd --create-home --uid 10001 studio
COPY --chown=studio:studio . .
USER studio

EXPOSE 8501
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=2)"

# The repo's .streamlit/config.toml holds the rest (headless, no usage statistics, no file
# watcher, 30 s reconnect window); the flags repeat the first ones so as not to depend on it.
# Listen on all interfaces of the container: nginx reaches it over the compose network.
CMD ["python", "-m", "streamlit", "run", "streamlit_app.py", \
     "--server.port=8501", "--server.address=0.0.0.0", "--server.headless=true", \
     "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"]
