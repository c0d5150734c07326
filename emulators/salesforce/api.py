"""The REST API: a table of routes, the hooks every request passes, and the resource handlers.

`RestApi.handle(Request) -> Response` knows nothing about sockets. A request is matched against
`routes` (method + path regex), then runs through `before_request` hooks (latency, bearer
authentication, the daily API limit — each may answer instead of the handler), the handler, and
`after_request` hooks (the Sforce-Limit-Info header). Fault injection and new resources plug in
by adding hooks and routes (see `add_route`), not by editing the dispatcher.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from emulators.salesforce.auth import Auth, OAuthError
from emulators.salesforce.bulk import BulkIngest
from emulators.salesforce.config import EmulatorConfig
from emulators.salesforce.errors import (
    ApiError,
    RecordErrors,
    invalid_field,
    json_parser_error,
    malformed_query,
    not_found,
)
from emulators.salesforce.faults import (
    Faults,
    call_error_body,
    duplicate_item,
    parse_duplicate_header,
    record_error_item,
)
from emulators.salesforce.ids import make_id, normalize_id
from emulators.salesforce.routing import (
    AfterHook,
    Area,
    BeforeHook,
    Handler,
    Request,
    Response,
    Route,
)
from emulators.salesforce.schema import SObjectDef
from emulators.salesforce.store import Store, WriteOp, WriteResult

_VERSION = r"/services/data/v(?P<version>\d{2,3}\.\d)"
_NAME = r"(?P<sobject>[A-Za-z][A-Za-z0-9_]*)"
_CURSOR_PREFIX = "01g"
_CURSOR_TTL_S = 15 * 60
_MAX_CURSORS = 500
_OLDEST_VERSION = 20
_NEWEST_VERSION = 64


@dataclass
class _Cursor:
    records: list[dict[str, Any]]
    include_deleted: bool
    created: float


def _release_label(version: int) -> str:
    # Three releases a year; v62.0 was Winter '25.
    steps = 62 - version
    season = ("Winter", "Summer", "Spring")[steps % 3]
    year = 25 - (steps + 2) // 3 if season != "Winter" else 25 - steps // 3
    return f"{season} '{year:02d}"


class RestApi:
    """The emulated REST API over one store; thread-safe."""

    def __init__(self, store: Store, config: EmulatorConfig, base_url: str) -> None:
        self.store = store
        self.config = config
        self.base_url = base_url
        self.auth = Auth(store, config)
        self.faults = Faults()
        self.routes: list[Route] = []
        self.before_request: list[BeforeHook] = [
            self._apply_latency,
            self._inject_call_faults,
            self._authenticate,
            self._enforce_daily_limit,
        ]
        self.after_request: list[AfterHook] = [self._add_limit_header, self._drop_connection]
        self._counter_lock = threading.Lock()
        self._calls = 0
        self._usage = 0
        self._usage_day = dt.date.today()
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._cursor_count = 0
        self._register_routes()
        self.bulk = BulkIngest(store)
        self.bulk.register(self.add_route, _VERSION)

    # Routing ---------------------------------------------------------------------------------

    def add_route(self, methods: str, pattern: str, handler: Handler, area: Area) -> None:
        """Serve `pattern` (a regex matched against the whole path) for these methods."""
        compiled = re.compile(pattern + r"$")
        for method in methods.split():
            self.routes.append(Route(method, compiled, handler, area))

    def _register_routes(self) -> None:
        data = Area.DATA
        sobject = rf"{_VERSION}/sobjects/{_NAME}"
        self.add_route("POST", r"/services/oauth2/token", self.token, Area.TOKEN)
        self.add_route("GET POST DELETE", r"/__admin/faults", self.admin_faults, Area.ADMIN)
        self.add_route("POST", r"/services/oauth2/revoke", self.revoke, Area.TOKEN)
        self.add_route("GET POST", r"/services/oauth2/userinfo", self.userinfo, Area.IDENTITY)
        self.add_route("GET", r"/id/(?P<org>\w+)/(?P<user>\w+)", self.userinfo, Area.IDENTITY)
        self.add_route("GET", r"/services/data", self.versions, Area.PUBLIC)
        self.add_route("GET", _VERSION, self.resources, data)
        self.add_route("GET", rf"{_VERSION}/limits", self.limits, data)
        self.add_route("GET", rf"{_VERSION}/sobjects", self.describe_global, data)
        self.add_route("GET", rf"{sobject}/describe", self.describe, data)
        self.add_route("GET", sobject, self.sobject_info, data)
        self.add_route("POST", sobject, self.create, data)
        self.add_route("GET", rf"{sobject}/(?P<id>\w+)", self.get_record, data)
        self.add_route("PATCH", rf"{sobject}/(?P<id>\w+)", self.update_record, data)
        self.add_route("DELETE", rf"{sobject}/(?P<id>\w+)", self.delete_record, data)
        by_external = rf"{sobject}/(?P<field>\w+)/(?P<value>[^/]+)"
        self.add_route("GET", by_external, self.get_by_external_id, data)
        self.add_route("PATCH POST", by_external, self.upsert_record, data)
        self.add_route("DELETE", by_external, self.delete_by_external_id, data)
        self.add_route("GET", rf"{_VERSION}/(?P<endpoint>query|queryAll)", self.query, data)
        self.add_route(
            "GET",
            rf"{_VERSION}/(?P<endpoint>query|queryAll)/(?P<cursor>\w+-\d+)",
            self.query_more,
            data,
        )
        collections = rf"{_VERSION}/composite/sobjects"
        self.add_route("POST", collections, self.collection_create, data)
        self.add_route("PATCH", collections, self.collection_update, data)
        self.add_route("DELETE", collections, self.collection_delete, data)
        self.add_route("GET POST", rf"{collections}/{_NAME}", self.collection_retrieve, data)
        self.add_route(
            "PATCH", rf"{collections}/{_NAME}/(?P<field>\w+)", self.collection_upsert, data
        )

    def _match(self, request: Request) -> Route | Response:
        path = request.path.rstrip("/") or "/"
        allowed: list[str] = []
        for route in self.routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.method != request.method:
                allowed.append(route.method)
                continue
            request.params = {k: v for k, v in match.groupdict().items() if v is not None}
            return route
        if allowed:
            return Response(
                405,
                [
                    {
                        "errorCode": "METHOD_NOT_ALLOWED",
                        "message": f"HTTP Method '{request.method}' not allowed. Allowed are "
                        f"{','.join(sorted(set(allowed)))}",
                    }
                ],
            )
        return _error_response(not_found())

    def handle(self, request: Request) -> Response:
        """Answer one request; never raises."""
        matched = self._match(request)
        if isinstance(matched, Response):
            self._count_call()
            return matched
        request.route = matched
        if matched.area not in (Area.TOKEN, Area.ADMIN):
            self._count_call()
        response: Response | None = None
        try:
            for hook in list(self.before_request):
                response = hook(request)
                if response is not None:
                    break
            if response is None:
                response = matched.handler(request)
        except ApiError as error:
            response = _error_response(error)
        except OAuthError as error:
            response = Response(error.status, error.body())
        except Exception:
            error_id = uuid.uuid4().hex[:10]
            print(
                f"salesforce emulator: error {error_id} serving {request.method} {request.path}",
                file=sys.stderr,
            )
            traceback.print_exc()
            response = Response(
                500,
                [
                    {
                        "errorCode": "UNKNOWN_EXCEPTION",
                        "message": "An unexpected error occurred. Please include this "
                        f"ErrorId if you contact support: {error_id}",
                    }
                ],
            )
        for after in list(self.after_request):
            response = after(request, response)
        return response

    # Counters and the built-in hooks -----------------------------------------------------------

    def _count_call(self) -> None:
        with self._counter_lock:
            self._calls += 1

    def api_calls(self) -> int:
        """Requests served other than the OAuth token endpoints."""
        with self._counter_lock:
            return self._calls

    def api_usage(self) -> int:
        """Data API calls counted against today's limit."""
        with self._counter_lock:
            self._roll_day()
            return self._usage

    def _roll_day(self) -> None:
        today = dt.date.today()
        if today != self._usage_day:
            self._usage_day = today
            self._usage = 0

    def _apply_latency(self, request: Request) -> Response | None:
        area = request.route.area if request.route else None
        if area == Area.DATA and self.config.latency_ms > 0:
            time.sleep(self.config.latency_ms / 1000)
        return None

    def _inject_call_faults(self, request: Request) -> Response | None:
        if request.route is None or request.route.area != Area.DATA:
            return None
        wait_s, error_code, expire = self.faults.before_call()
        if expire:
            self.auth.expire_all()
        if wait_s > 0:
            time.sleep(wait_s)
        if error_code is None:
            return None
        status, body = call_error_body(error_code)
        return Response(status, body)

    def _drop_connection(self, request: Request, response: Response) -> Response:
        on_data = request.route is not None and request.route.area == Area.DATA
        if on_data and self.faults.drop_after_call():
            return Response(response.status, drop_connection=True)
        return response

    def admin_faults(self, request: Request) -> Response:
        """GET: the fault settings and counts; POST: change some; DELETE: clear them."""
        if request.method == "POST":
            changes = _json_object(request)
            episode = changes.pop("limit_episode_s", None)
            try:
                self.faults.update(**changes)
            except (TypeError, ValueError) as error:
                return Response(400, [{"errorCode": "INVALID_FAULTS", "message": str(error)}])
            if episode:
                self.faults.limit_episode(float(episode))
        elif request.method == "DELETE":
            self.faults.clear()
        return Response(200, self.faults.state())

    def _authenticate(self, request: Request) -> Response | None:
        area = request.route.area if request.route else Area.PUBLIC
        if area not in (Area.DATA, Area.IDENTITY):
            return None
        request.session = self.auth.session(request.headers.get("Authorization"))
        if request.session is not None:
            return None
        if area == Area.IDENTITY:
            return Response(403, "Bad_OAuth_Token", content_type="text/plain;charset=UTF-8")
        return Response(
            401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
        )

    def _enforce_daily_limit(self, request: Request) -> Response | None:
        if request.route is None or request.route.area != Area.DATA:
            return None
        with self._counter_lock:
            self._roll_day()
            if self._usage >= self.config.daily_api_limit:
                exceeded = True
            else:
                self._usage += 1
                exceeded = False
        if exceeded:
            return Response(
                403,
                [
                    {
                        "message": "TotalRequests Limit exceeded.",
                        "errorCode": "REQUEST_LIMIT_EXCEEDED",
                    }
                ],
            )
        return None

    def _add_limit_header(self, request: Request, response: Response) -> Response:
        if request.route is not None and request.route.area == Area.DATA:
            response.headers["Sforce-Limit-Info"] = (
                f"api-usage={self.api_usage()}/{self.config.daily_api_limit}"
            )
        return response

    # OAuth -----------------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        body = self.auth.token(request.form(), request.basic_auth(), self.base_url)
        return Response(200, body)

    def revoke(self, request: Request) -> Response:
        token = request.form().get("token") or request.arg("token") or ""
        if not self.auth.revoke(token):
            raise OAuthError("unsupported_token_type", "this token type is not supported")
        return Response(200)

    def userinfo(self, request: Request) -> Response:
        assert request.session is not None
        return Response(200, self.auth.userinfo(request.session, self.base_url))

    # Org-level resources -----------------------------------------------------------------------

    def versions(self, request: Request) -> Response:
        return Response(
            200,
            [
                {"label": _release_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
                for v in range(_OLDEST_VERSION, _NEWEST_VERSION + 1)
            ],
        )

    def resources(self, request: Request) -> Response:
        base = f"/services/data/v{request.version}"
        names = ("sobjects", "query", "queryAll", "limits", "composite")
        return Response(200, {name: f"{base}/{name}" for name in names})

    def limits(self, request: Request) -> Response:
        limit = self.config.daily_api_limit
        used = self.api_usage()
        records = sum(self.store.count(obj.name) for obj in self.store.schema)
        storage_max = 1024
        return Response(
            200,
            {
                "DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - used)},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
                # Salesforce counts about 2 KB of data storage per record.
                "DataStorageMB": {
                    "Max": storage_max,
                    "Remaining": max(0, storage_max - records * 2 // 1024),
                },
                "FileStorageMB": {"Max": 1024, "Remaining": 1024},
                "SingleEmail": {"Max": 5000, "Remaining": 5000},
            },
        )

    def describe_global(self, request: Request) -> Response:
        return Response(
            200,
            {
                "encoding": "UTF-8",
                "maxBatchSize": self.config.max_collection_size,
                "sobjects": [obj.describe_basic(request.version) for obj in self.store.schema],
            },
        )

    def describe(self, request: Request) -> Response:
        obj = self.store.object(request.params["sobject"])
        return Response(200, obj.describe(request.version))

    def sobject_info(self, request: Request) -> Response:
        obj = self.store.object(request.params["sobject"])
        return Response(
            200, {"objectDescribe": obj.describe_basic(request.version), "recentItems": []}
        )

    # Single records --------------------------------------------------------------------------

    def _actor(self, request: Request) -> str | None:
        return request.session.user_id if request.session else None

    def _record_url(self, version: str, sobject: str, record_id: str) -> str:
        return f"/services/data/v{version}/sobjects/{sobject}/{record_id}"

    def _live_record(self, obj: SObjectDef, raw_id: str) -> dict[str, Any]:
        """The record an id in a URL names, or 404 as Salesforce answers."""
        record_id = normalize_id(raw_id)
        record = (
            self.store.get_record(obj.name, record_id)
            if record_id and record_id[:3] == obj.key_prefix
            else None
        )
        if record is None:
            if record_id is None:
                raise not_found(
                    f"Provided external ID field does not exist or is not accessible: {raw_id}"
                )
            raise not_found()
        if record["IsDeleted"]:
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return record

    def _shape(
        self, obj: SObjectDef, record: Mapping[str, Any], version: str, fields: str | None
    ) -> dict[str, Any]:
        names = [f.name for f in obj.fields]
        if fields:
            names = []
            for name in (part.strip() for part in fields.split(",") if part.strip()):
                fd = obj.field(name)
                if fd is None:
                    raise invalid_field(f"No such column '{name}' on sobject of type {obj.name}")
                names.append(fd.name)
        shaped: dict[str, Any] = {
            "attributes": {
                "type": obj.name,
                "url": self._record_url(version, obj.name, record["Id"]),
            }
        }
        shaped.update((name, record[name]) for name in names)
        return shaped

    def _write_one(self, request: Request, op: WriteOp) -> WriteResult:
        result = self.store.write([op], actor_id=self._actor(request))[0]
        if not result.success:
            raise _record_errors(result)
        return result

    def create(self, request: Request) -> Response:
        obj = self.store.object(request.params["sobject"])
        result = self._write_one(request, WriteOp("create", obj.name, _json_object(request)))
        return Response(
            201,
            {"id": result.id, "success": True, "errors": []},
            {"Location": self._record_url(request.version, obj.name, str(result.id))},
        )

    def get_record(self, request: Request) -> Response:
        obj = self.store.object(request.params["sobject"])
        record = self._live_record(obj, request.params["id"])
        return Response(200, self._shape(obj, record, request.version, request.arg("fields")))

    def update_record(self, request: Request) -> Response:
        obj = self.store.object(request.params["sobject"])
        record = self._live_record(obj, request.params["id"])
        self._write_one(
            request, WriteOp("update", obj.name, _json_object(request), record_id=record["Id"])
        )
        return Response(204)

    def delete_record(self, request: Request) -> Response:
        obj = self.store.object(request.params["sobject"])
        record = self._live_record(obj, request.params["id"])
        result = self.store.delete([record["Id"]])[0]
        if not result.success:
            raise _record_errors(result)
        return Response(204)

    def _external_matches(self, request: Request) -> tuple[SObjectDef, str, list[str]]:
        obj = self.store.object(request.params["sobject"])
        fd = obj.field(request.params["field"])
        value = unquote(request.params["value"])
        if fd is None or not (fd.external_id or fd.id_lookup or fd.name == "Id"):
            raise not_found(
                "Provided external ID field does not exist or is not accessible: "
                f"{request.params['field']}"
            )
        if fd.name == "Id":
            record_id = normalize_id(value)
            record = self.store.get_record(obj.name, record_id) if record_id else None
            return obj, value, [record["Id"]] if record and not record["IsDeleted"] else []
        return obj, value, self.store.find_ids(obj, fd, value)

    def _multiple_choices(self, request: Request, obj: SObjectDef, ids: list[str]) -> Response:
        return Response(300, [self._record_url(request.version, obj.name, i) for i in ids])

    def get_by_external_id(self, request: Request) -> Response:
        obj, _, ids = self._external_matches(request)
        if not ids:
            raise not_found()
        if len(ids) > 1:
            return self._multiple_choices(request, obj, ids)
        record = self.store.get_record(obj.name, ids[0])
        assert record is not None
        return Response(200, self._shape(obj, record, request.version, request.arg("fields")))

    def delete_by_external_id(self, request: Request) -> Response:
        obj, _, ids = self._external_matches(request)
        if not ids:
            raise not_found()
        if len(ids) > 1:
            return self._multiple_choices(request, obj, ids)
        result = self.store.delete(ids)[0]
        if not result.success:
            raise _record_errors(result)
        return Response(204)

    def upsert_record(self, request: Request) -> Response:
        obj, value, ids = self._external_matches(request)
        body = _json_object(request)
        if not ids and (request.arg("updateOnly") or "").lower() == "true":
            raise not_found()
        if request.method == "POST" and ids:
            # POST to this resource only creates; an existing match is a conflict.
            raise ApiError(
                400,
                "DUPLICATE_VALUE",
                f"duplicate value found: {request.params['field']} duplicates value "
                f"on record with id: {ids[0]}",
            )
        op = WriteOp(
            "upsert", obj.name, body, external_field=request.params["field"], external_value=value
        )
        result = self.store.write([op], actor_id=self._actor(request))[0]
        if result.matches:
            return self._multiple_choices(request, obj, result.matches)
        if not result.success:
            raise _record_errors(result)
        return Response(
            201 if result.created else 200,
            {"id": result.id, "success": True, "errors": [], "created": bool(result.created)},
        )

    # Queries ---------------------------------------------------------------------------------

    def query(self, request: Request) -> Response:
        soql = request.arg("q")
        if not soql:
            raise malformed_query("A query string has to be specified")
        include_deleted = request.params["endpoint"] == "queryAll"
        total, records = self.store.query(
            soql, include_deleted=include_deleted, version=request.version
        )
        if not records:
            return Response(200, {"totalSize": total, "done": True, "records": []})
        cursor = _Cursor(records, include_deleted, time.monotonic())
        return Response(200, self._page(request, cursor, self._save_cursor(cursor), 0))

    def query_more(self, request: Request) -> Response:
        cursor_id, _, offset_text = request.params["cursor"].rpartition("-")
        with self._counter_lock:
            cursor = self._cursors.get(cursor_id)
            if cursor is not None:
                self._cursors.move_to_end(cursor_id)
        offset = int(offset_text)
        if cursor is None or offset > len(cursor.records):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return Response(200, self._page(request, cursor, cursor_id, offset))

    def _save_cursor(self, cursor: _Cursor) -> str:
        with self._counter_lock:
            self._cursor_count += 1
            cursor_id = make_id(_CURSOR_PREFIX, self._cursor_count)
            self._cursors[cursor_id] = cursor
            now = time.monotonic()
            while self._cursors:
                oldest_id, oldest = next(iter(self._cursors.items()))
                if len(self._cursors) <= _MAX_CURSORS and now - oldest.created < _CURSOR_TTL_S:
                    break
                del self._cursors[oldest_id]
        return cursor_id

    def _page(
        self, request: Request, cursor: _Cursor, cursor_id: str, offset: int
    ) -> dict[str, Any]:
        size = max(1, self.config.page_size)
        end = offset + size
        page: dict[str, Any] = {
            "totalSize": len(cursor.records),
            "done": end >= len(cursor.records),
            "records": cursor.records[offset:end],
        }
        if not page["done"]:
            endpoint = "queryAll" if cursor.include_deleted else "query"
            base = f"/services/data/v{request.version}/{endpoint}"
            page["nextRecordsUrl"] = f"{base}/{cursor_id}-{end}"
        return page

    # sObject Collections ---------------------------------------------------------------------

    def _collection_body(self, request: Request) -> tuple[list[dict[str, Any]], bool]:
        body = _json_object(request)
        records = body.get("records")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise json_parser_error("records must be a list of sObjects")
        if len(records) > self.config.max_collection_size:
            raise _too_many(self.config.max_collection_size)
        return records, _truthy(body.get("allOrNone", False))

    def _record_type(self, record: dict[str, Any], index: int) -> str:
        attributes = record.get("attributes")
        sobject = attributes.get("type") if isinstance(attributes, dict) else None
        if not isinstance(sobject, str) or not sobject:
            raise ApiError(
                400,
                "INVALID_TYPE",
                f"No SObject type specified in the attributes of record {index}",
            )
        return self.store.object(sobject).name

    def _collection_response(self, results: list[WriteResult], upsert: bool) -> Response:
        return Response(200, [r.as_collection_item(include_created=upsert) for r in results])

    def collection_create(self, request: Request) -> Response:
        records, all_or_none = self._collection_body(request)
        ops = [WriteOp("create", self._record_type(r, i), r) for i, r in enumerate(records)]
        results = self.store.write(ops, all_or_none=all_or_none, actor_id=self._actor(request))
        return self._collection_response(results, upsert=False)

    def collection_update(self, request: Request) -> Response:
        records, all_or_none = self._collection_body(request)
        ops = [
            WriteOp(
                "update",
                self._record_type(record, index),
                record,
                record_id=str(next((v for k, v in record.items() if k.lower() == "id"), "")),
            )
            for index, record in enumerate(records)
        ]
        results = self.store.write(ops, all_or_none=all_or_none, actor_id=self._actor(request))
        return self._collection_response(results, upsert=False)

    def collection_upsert(self, request: Request) -> Response:
        obj = self.store.object(request.params["sobject"])
        external = request.params["field"]
        records, all_or_none = self._collection_body(request)
        # Injected per-record failures are decided first and never reach the store.
        injected: dict[int, str | dict[str, Any]] = {
            index: code
            for index, record in enumerate(records)
            if (code := self.faults.record_failure(record)) is not None
        }
        injected.update(self._duplicates(request, obj, external, records, set(injected)))
        if injected and all_or_none:
            return Response(
                200,
                [
                    _injected_item(injected[i])
                    if i in injected
                    else record_error_item("ALL_OR_NONE_OPERATION_ROLLED_BACK")
                    for i in range(len(records))
                ],
            )
        ops: list[WriteOp] = []
        for index, record in enumerate(records):
            if index in injected:
                continue
            if self._record_type(record, index) != obj.name:
                raise ApiError(
                    400, "INVALID_TYPE", f"Record {index} is not of the type in the URI: {obj.name}"
                )
            value = next((v for k, v in record.items() if k.lower() == external.lower()), None)
            ops.append(
                WriteOp("upsert", obj.name, record, external_field=external, external_value=value)
            )
        results = self.store.write(ops, all_or_none=all_or_none, actor_id=self._actor(request))
        if not injected:
            return self._collection_response(results, upsert=True)
        written = iter(r.as_collection_item(include_created=True) for r in results)
        return Response(
            200,
            [
                _injected_item(injected[i]) if i in injected else next(written)
                for i in range(len(records))
            ],
        )

    def _duplicates(
        self,
        request: Request,
        obj: SObjectDef,
        external: str,
        records: list[dict[str, Any]],
        skip: set[int],
    ) -> dict[int, dict[str, Any]]:
        """Records an org duplicate rule refuses: new ones whose rule field matches a record."""
        rules = [r for r in self.config.duplicate_rules if r.get("sobject") == obj.name]
        if not rules:
            return {}
        allow_save, details = parse_duplicate_header(
            request.headers.get("Sforce-Duplicate-Rule-Header")
        )
        refused: dict[int, dict[str, Any]] = {}
        for index, record in enumerate(records):
            if index in skip:
                continue
            value = next((v for k, v in record.items() if k.lower() == external.lower()), None)
            if value and self.store.query_records(obj.name, **{external: value}):
                continue  # an update of our own record, not a new one
            for rule in rules:
                if rule.get("action") == "alert" and allow_save:
                    continue
                field_name = rule["field"]
                wanted = next(
                    (v for k, v in record.items() if k.lower() == field_name.lower()), None
                )
                if not wanted:
                    continue
                matches = [
                    m["Id"] for m in self.store.query_records(obj.name, **{field_name: wanted})
                ]
                if matches:
                    refused[index] = duplicate_item(
                        obj.name, matches, details, self.base_url, request.version
                    )
                    break
        return refused

    def collection_delete(self, request: Request) -> Response:
        ids = [i for i in (request.arg("ids") or "").split(",") if i]
        if not ids:
            raise ApiError(400, "MISSING_ARGUMENT", "ids must be specified")
        if len(ids) > self.config.max_collection_size:
            raise _too_many(self.config.max_collection_size)
        all_or_none = _truthy(request.arg("allOrNone") or "false")
        results = self.store.delete(ids, all_or_none=all_or_none)
        return self._collection_response(results, upsert=False)

    def collection_retrieve(self, request: Request) -> Response:
        obj = self.store.object(request.params["sobject"])
        if request.method == "POST":
            body = _json_object(request)
            ids = [str(i) for i in body.get("ids") or []]
            fields = ",".join(str(f) for f in body.get("fields") or [])
        else:
            ids = [i for i in (request.arg("ids") or "").split(",") if i]
            fields = request.arg("fields") or ""
        if not fields:
            raise ApiError(400, "MISSING_ARGUMENT", "fields must be specified")
        if len(ids) > 2000:
            raise _too_many(2000)
        records: list[dict[str, Any] | None] = []
        for raw_id in ids:
            record_id = normalize_id(raw_id)
            record = self.store.get_record(obj.name, record_id) if record_id else None
            if (
                record is None
                or record["IsDeleted"]
                or record_id is None
                or (record_id[:3] != obj.key_prefix)
            ):
                records.append(None)
            else:
                records.append(self._shape(obj, record, request.version, fields))
        return Response(200, records)


def _injected_item(fault: str | dict[str, Any]) -> dict[str, Any]:
    return fault if isinstance(fault, dict) else record_error_item(fault)


def _error_response(error: ApiError) -> Response:
    return Response(error.status, error.body())


def _record_errors(result: WriteResult) -> ApiError:
    """A failed single-record write as the API answers it: HTTP 400 listing every error."""
    return RecordErrors(result.errors)


def _json_object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise json_parser_error("Expected a JSON object as the request body")
    return body


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def _too_many(limit: int) -> ApiError:
    return ApiError(
        400,
        "EXCEEDED_ID_LIMIT",
        f"record limit reached. cannot submit more than {limit} records into this call",
    )
