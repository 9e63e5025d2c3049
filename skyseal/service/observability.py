"""Prometheus metrics and one structured access-log line per request.

The access log names the route template (``/v1/jobs/{job_id}``), status,
duration, request id and the key's id; never the key, and never the prompt
unless ``service.log_prompts`` says so.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

access_log = logging.getLogger("skyseal.service.access")


class Metrics:
    """One registry per app, so two apps in one process (tests, restarts) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("skyseal_http_requests_total", "HTTP requests by route and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("skyseal_http_request_duration_seconds", "Request duration by route.",
                                 ["route"], registry=self.registry)
        self.jobs_finished = Counter("skyseal_jobs_finished_total", "Generate jobs finished, by outcome.",
                                     ["status"], registry=self.registry)
        self.jobs_rejected = Counter("skyseal_jobs_rejected_total", "Generate requests refused because the queue was full.",
                                     registry=self.registry)
        self.jobs_pending = Gauge("skyseal_jobs_pending", "Generate jobs queued or running.", registry=self.registry)
        self.verdicts = Counter("skyseal_detect_verdicts_total", "Detector verdicts by label.", ["label"], registry=self.registry)
        self.upload_bytes = Counter("skyseal_upload_bytes_total", "Bytes of media received and examined.", registry=self.registry)


class AccessLogMiddleware:
    """Pure ASGI, so streamed request and response bodies pass through untouched."""

    def __init__(self, app, *, metrics: Metrics, log_prompts: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.log_prompts = log_prompts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = scope.setdefault("state", {})
        state.setdefault("request_id", uuid.uuid4().hex[:16])
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", state["request_id"].encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], route, str(status["code"])).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            entry = {
                "event": "access", "request_id": state["request_id"], "method": scope["method"], "route": route,
                "status": status["code"], "duration_ms": round(elapsed * 1000, 1), "key_id": state.get("key_id"),
                "client": (scope.get("client") or ("-",))[0],
            }
            if state.get("job_id"):
                entry["job_id"] = state["job_id"]
            if self.log_prompts and state.get("prompt") is not None:
                entry["prompt"] = state["prompt"]
            access_log.info(json.dumps(entry, ensure_ascii=False))
