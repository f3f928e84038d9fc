"""Fail loudly, before any test runs, when PostgreSQL or Redis is not reachable."""

import os
import sys

import psycopg2
import redis

host = os.environ.get("PGHOST", "127.0.0.1")
redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
problems = []
try:
    psycopg2.connect(host=host, port=5432, user="postgres", dbname="postgres", connect_timeout=5).close()
except psycopg2.Error as exc:
    problems.append(f"PostgreSQL on {host}:5432 (user postgres) is not reachable: {exc}")
try:
    redis.Redis.from_url(redis_url, socket_connect_timeout=5).ping()
except redis.RedisError as exc:
    problems.append(f"Redis at {redis_url} is not reachable: {exc}")
if problems:
    sys.exit("Required services are missing:\n  " + "\n  ".join(problems))
print("Services OK: PostgreSQL and Redis reachable.")
