"""Run by the image's own interpreter at build time (and usable later for a diagnosis:
`podman run --rm --entrypoint /usr/bin/python3.11 IMAGE /app/image_check.py`).

Imports every module the service may load, whatever its configuration (the embedded store,
MongoDB, Redis, S3, the blockchain engine over HTTP, platform JWTs), so that a missing or wrong
wheel fails the build and not the first start on a Pi; then compiles the packages once, so a
read-only image starts without compiling anything.
"""

import compileall
import importlib
import sys

MODULES = (
    "lucid_sessions.bootstrap.main",
    "lucid_sessions.bootstrap.app",
    "lucid_sessions.adapters.sqlite",
    "lucid_sessions.adapters.mongo",
    "lucid_sessions.adapters.redis",
    "lucid_sessions.adapters.s3.blob_store",
    "lucid_sessions.adapters.s3.credentials",
    "lucid_sessions.adapters.s3.storage_probe",
    "lucid_sessions.adapters.anchor.http_anchor",
    "lucid_sessions.adapters.auth.platform_jwt",
    "uvicorn",
    "uvloop",
    "httptools",
    "redis.asyncio",
    "beanie",
    "pymongo",
    "async_timeout",
    "obstore",
)

for name in MODULES:
    importlib.import_module(name)
compileall.compile_dir(sys.argv[1] if len(sys.argv) > 1 else "/app/site-packages", quiet=1)
print(f"image check: Python {sys.version.split()[0]}, {len(MODULES)} modules import")
