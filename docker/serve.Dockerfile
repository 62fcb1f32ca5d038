# lit_nn's serving-only image: an ONNX export (or a serve config of exports) answered by `lit-nn serve` with
# onnxruntime and LitServe; no torch, no Lightning. Build from the repository root:
#   docker build -f docker/serve.Dockerfile -t lit-nn-serve .
#   docker run --rm -p 8000:8000 -v "$PWD/exports:/models:ro" -e LIT_SERVER_API_KEY=... lit-nn-serve
# /models holds one export (model.onnx beside model.onnx.json, as `lit-nn export` writes them). Several exports
# from a serve config mounted with them (its paths relative to it; docs/deploy.md):
#   docker run --rm -p 8000:8000 -v "$PWD/serving:/models:ro" -e LIT_SERVER_API_KEY=... lit-nn-serve \
#       /models/serve.yaml --host 0.0.0.0
# Give the key as LIT_SERVER_API_KEY rather than --api_key: the health check reads it there, and a key on the
# command line shows in `docker inspect`. A checkpoint is served by the training image (docker/Dockerfile).
#
# Size, from the wheels it installs (pip download for CPython 3.11, manylinux x86_64, from PyPI, 2026-12-06;
# method in docs/deploy.md): the serve extra is 30 wheels, 63 MB to download and 190 MB unpacked (onnxruntime
# 76 MB, numpy 57 MB, Pillow 20 MB); lit_nn's wheel is 0.3 MB (0.8 MB); 227 MB in all installed with bytecode.
# The training image's torch 2.14.1 wheel alone is 555 MB (1.1 GB unpacked); with its CUDA libraries and Triton
# 3.1 GB (5.6 GB), and 3.3 GB (6.3 GB) with the rest of lit_nn's dependencies. The base image is not counted.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/lit_nn
COPY pyproject.toml README.md ./
COPY lit_nn ./lit_nn
COPY configs ./configs
# The serve extra of pyproject.toml (the one list of what the ONNX server imports), then lit_nn without its
# dependencies. The build stops if torch came in anyway or the server's modules do not import.
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['serve'], sep='\n')" > /tmp/serve.txt \
    && pip install --no-cache-dir -r /tmp/serve.txt \
    && pip install --no-cache-dir --no-deps . \
    && rm /tmp/serve.txt \
    && python -I -c "import importlib.util as u; assert u.find_spec('torch') is None, 'torch is installed'; import lit_nn.cli.serve, lit_nn.deploy.onnx_serving, lit_nn.deploy.serve_config, lit_nn.deploy.server" \
    && groupadd --system --gid 10001 litnn \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/litnn litnn \
    && mkdir /models

# onnxruntime keeps a small state folder in ~/.cache: the home stays writable.
USER 10001:10001
WORKDIR /home/litnn
EXPOSE 8000
# /health needs the key too when there is one; a server started with --port other than 8000 answers elsewhere.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; k = os.environ.get('LIT_SERVER_API_KEY'); u.urlopen(u.Request('http://127.0.0.1:8000/health', headers={'X-API-Key': k} if k else {}), timeout=4)"]
ENTRYPOINT ["lit-nn", "serve"]
CMD ["/models", "--host", "0.0.0.0", "--port", "8000"]
