"""Bulk API 2.0 ingest jobs (CSV upsert/insert/update) on the emulator's store.

    POST   .../jobs/ingest                         create: {"object", "operation",
                                                   "externalIdFieldName", "contentType": "CSV",
                                                   "lineEnding": "LF"} -> job info, state Open
    PUT    .../jobs/ingest/{id}/batches            upload CSV (text/csv) -> 201
    PATCH  .../jobs/ingest/{id}                    {"state": "UploadComplete" | "Aborted"}
    GET    .../jobs/ingest/{id}                    job info: Open, UploadComplete, InProgress,
                                                   JobComplete, Failed, Aborted
    GET    .../jobs/ingest/{id}/successfulResults  "sf__Id","sf__Created",<columns>
    GET    .../jobs/ingest/{id}/failedResults      "sf__Id","sf__Error",<columns>
    GET    .../jobs/ingest/{id}/unprocessedrecords <columns>
    DELETE .../jobs/ingest/{id}                    204

Columns name fields, or `Rel.ExternalField` for a lookup by external ID. An empty cell leaves a
field as it is; `#N/A` sets it to null. A job runs in a background thread after UploadComplete;
records are written in chunks of 200 (`chunk_size`), so an abort can leave some unprocessed.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulators.salesforce.errors import ApiError, not_found
from emulators.salesforce.ids import make_id
from emulators.salesforce.routing import Area, Handler, Request, Response
from emulators.salesforce.store import Store, WriteOp

AddRoute = Callable[[str, str, Handler, Area], None]

CSV_TYPE = "text/csv;charset=UTF-8"
_JOB_PREFIX = "750"
OPERATIONS = ("insert", "update", "upsert")


@dataclass
class IngestJob:
    id: str
    sobject: str
    operation: str
    external_id_field: str | None
    created_by: str | None
    api_version: str
    created: str
    state: str = "Open"
    uploads: list[bytes] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    successful: list[tuple[str, bool, dict[str, str]]] = field(default_factory=list)
    failed: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    processed: int = 0
    error_message: str = ""

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "object": self.sobject,
            "createdById": self.created_by,
            "createdDate": self.created,
            "systemModstamp": self.created,
            "state": self.state,
            "externalIdFieldName": self.external_id_field,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "jobType": "V2Ingest",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
            "contentUrl": f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches",
            "numberRecordsProcessed": self.processed,
            "numberRecordsFailed": len(self.failed),
            "retries": 0,
            "totalProcessingTime": 0,
            "errorMessage": self.error_message,
        }


class BulkIngest:
    """The job table and the routes; `api.bulk` on every emulator."""

    def __init__(self, store: Store, *, chunk_size: int = 200) -> None:
        self.store = store
        self.chunk_size = chunk_size
        self.jobs: dict[str, IngestJob] = {}
        self._lock = threading.Lock()
        self._counter = 0
        # Tests may hold a job InProgress this long before it runs.
        self.processing_delay_s = 0.0
        self._runners: list[threading.Thread] = []

    def register(self, add: AddRoute, version: str) -> None:
        """Add the ingest routes under `version` (the API's version path regex) with `add`."""
        base = rf"{version}/jobs/ingest"
        job = rf"{base}/(?P<job>\w+)"
        add("POST", base, self.create, Area.DATA)
        add("GET", base, self.list_jobs, Area.DATA)
        add("GET", job, self.get, Area.DATA)
        add("PATCH", job, self.change_state, Area.DATA)
        add("DELETE", job, self.delete, Area.DATA)
        add("PUT", rf"{job}/batches", self.upload, Area.DATA)
        add("GET", rf"{job}/successfulResults", self.successful_results, Area.DATA)
        add("GET", rf"{job}/failedResults", self.failed_results, Area.DATA)
        add("GET", rf"{job}/unprocessedrecords", self.unprocessed, Area.DATA)

    def busy(self) -> bool:
        """Whether a job's thread is still running (and may yet write to the store)."""
        with self._lock:
            return any(runner.is_alive() for runner in self._runners)

    def open_jobs(self) -> list[IngestJob]:
        with self._lock:
            return [
                j for j in self.jobs.values() if j.state in ("Open", "UploadComplete", "InProgress")
            ]

    # Routes ------------------------------------------------------------------------------------

    def _job(self, request: Request) -> IngestJob:
        job = self.jobs.get(request.params["job"])
        if job is None:
            raise not_found("Job not found")
        return job

    def create(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise ApiError(400, "INVALIDJOB", "Expected a JSON object")
        operation = str(body.get("operation", ""))
        if operation not in OPERATIONS:
            raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        obj = self.store.object(str(body.get("object", "")))
        external = body.get("externalIdFieldName")
        if operation == "upsert" and not external:
            raise ApiError(400, "INVALIDJOB", "InvalidJob : External ID was blank for upsert")
        if external and obj.field(str(external)) is None:
            raise ApiError(400, "INVALIDJOB", f"InvalidJob : Field name not found : {external}")
        if str(body.get("contentType", "CSV")) != "CSV":
            raise ApiError(400, "INVALIDJOB", "InvalidJob : only CSV is supported")
        with self._lock:
            self._counter += 1
            job = IngestJob(
                id=make_id(_JOB_PREFIX, self._counter),
                sobject=obj.name,
                operation=operation,
                external_id_field=str(external) if external else None,
                created_by=request.session.user_id if request.session else None,
                api_version=request.version,
                created=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            )
            self.jobs[job.id] = job
        return Response(200, job.info())

    def list_jobs(self, request: Request) -> Response:
        with self._lock:
            records = [j.info() for j in self.jobs.values()]
        return Response(200, {"done": True, "records": records, "nextRecordsUrl": None})

    def get(self, request: Request) -> Response:
        return Response(200, self._job(request).info())

    def upload(self, request: Request) -> Response:
        job = self._job(request)
        with self._lock:
            if job.state != "Open":
                raise ApiError(409, "INVALIDJOBSTATE", f"Job is not Open: {job.state}")
            job.uploads.append(request.body)
        return Response(201)

    def change_state(self, request: Request) -> Response:
        job = self._job(request)
        wanted = str(request.json().get("state", ""))
        with self._lock:
            if wanted == "Aborted":
                if job.state in ("JobComplete", "Failed"):
                    raise ApiError(409, "INVALIDJOBSTATE", f"Job is {job.state}")
                job.state = "Aborted"
                return Response(200, job.info())
            if wanted != "UploadComplete" or job.state != "Open":
                raise ApiError(409, "INVALIDJOBSTATE", f"Cannot change {job.state} to {wanted}")
            job.state = "UploadComplete"
            info = job.info()
        runner = threading.Thread(target=self._run, args=(job,), daemon=True)
        with self._lock:
            self._runners = [r for r in self._runners if r.is_alive()] + [runner]
        runner.start()
        return Response(200, info)

    def delete(self, request: Request) -> Response:
        job = self._job(request)
        with self._lock:
            if job.state in ("UploadComplete", "InProgress"):
                raise ApiError(409, "INVALIDJOBSTATE", "Job is still running")
            self.jobs.pop(job.id, None)
        return Response(204)

    def _csv(self, header: list[str], rows: list[list[str]]) -> Response:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        writer.writerows(rows)
        return Response(200, out.getvalue(), content_type=CSV_TYPE)

    def _finished(self, request: Request) -> IngestJob:
        job = self._job(request)
        if job.state not in ("JobComplete", "Failed", "Aborted"):
            raise ApiError(400, "INVALIDJOBSTATE", f"Job is {job.state}; results come later")
        return job

    def successful_results(self, request: Request) -> Response:
        job = self._finished(request)
        return self._csv(
            ["sf__Id", "sf__Created", *job.columns],
            [
                [rid, str(created).lower(), *(row.get(c, "") for c in job.columns)]
                for rid, created, row in job.successful
            ],
        )

    def failed_results(self, request: Request) -> Response:
        job = self._finished(request)
        return self._csv(
            ["sf__Id", "sf__Error", *job.columns],
            [[rid, err, *(row.get(c, "") for c in job.columns)] for rid, err, row in job.failed],
        )

    def unprocessed(self, request: Request) -> Response:
        job = self._finished(request)
        if not job.columns and job.uploads:  # aborted before it ran
            with contextlib.suppress(ValueError, csv.Error):
                self._parse(job)
        done = len(job.successful) + len(job.failed)
        return self._csv(
            job.columns, [[r.get(c, "") for c in job.columns] for r in job.rows[done:]]
        )

    # Processing --------------------------------------------------------------------------------

    def _run(self, job: IngestJob) -> None:
        if self.processing_delay_s:
            time.sleep(self.processing_delay_s)
        with self._lock:
            if job.state == "Aborted":
                return
            job.state = "InProgress"
        try:
            self._parse(job)
        except (ValueError, csv.Error) as error:
            with self._lock:
                job.state, job.error_message = "Failed", f"InvalidBatch : {error}"
            return
        for start in range(0, len(job.rows), self.chunk_size):
            if job.state == "Aborted":
                return
            chunk = job.rows[start : start + self.chunk_size]
            results = self.store.write(
                [self._op(job, row) for row in chunk], actor_id=job.created_by
            )
            with self._lock:
                for row, result in zip(chunk, results, strict=True):
                    if result.success:
                        job.successful.append((result.id or "", bool(result.created), row))
                    else:
                        record_error = result.errors[0]
                        fields = ",".join(record_error.fields)
                        job.failed.append(
                            (
                                "",
                                f"{record_error.status_code}:{record_error.message}:{fields} --",
                                row,
                            )
                        )
                    job.processed += 1
        with self._lock:
            if job.state == "InProgress":
                job.state = "JobComplete"

    def _parse(self, job: IngestJob) -> None:
        text = b"".join(job.uploads).decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if not header:
            raise ValueError("no header row")
        job.columns = header
        job.rows = [dict(zip(header, values, strict=False)) for values in reader if values]

    def _op(self, job: IngestJob, row: dict[str, str]) -> WriteOp:
        values: dict[str, Any] = {}
        for column, cell in row.items():
            if cell == "":
                continue  # an empty cell leaves the field as it is
            value: Any = None if cell == "#N/A" else cell
            if "." in column:
                relation, _, external = column.partition(".")
                values[relation] = {external: value}
            else:
                values[column] = value
        if job.operation == "upsert":
            assert job.external_id_field is not None
            external_value = next(
                (v for k, v in values.items() if k.lower() == job.external_id_field.lower()), None
            )
            return WriteOp(
                "upsert",
                job.sobject,
                values,
                external_field=job.external_id_field,
                external_value=external_value,
            )
        if job.operation == "update":
            record_id = str(next((v for k, v in values.items() if k.lower() == "id"), ""))
            return WriteOp("update", job.sobject, values, record_id=record_id)
        return WriteOp("create", job.sobject, values)
