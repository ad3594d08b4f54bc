"""Chunk blobs in an S3-compatible object store (AWS S3, Ceph RADOS Gateway, MinIO)."""
