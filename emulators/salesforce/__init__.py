"""A local Salesforce REST API emulator: HTTPS on 127.0.0.1, SQLite-backed, simple-salesforce-ready.

Run it
------
    cardsync emulator salesforce [--port 7443] [--seed FILE.json] [--state FILE.sqlite]
                                 [--latency-ms N] [--data-dir DIR] [--page-size N]
                                 [--daily-api-limit N] [--log-requests]

or in-process (tests, demo, benchmarks)::

    from emulators.salesforce.server import start_emulator
    emu = start_emulator(port=0)          # a free port; returns RunningEmulator
    emu.url, emu.ca_file                  # login/instance URL, CA to trust
    emu.store.query_records("Contact", Sansan_Person_Id__c="p1")   # direct data access
    emu.api_calls(); emu.dump(Path("out")); emu.stop()

The URL is both the login URL and the instance URL. The server certificate is signed by a
local CA that is created once in the data dir (default ~/.cache/cardsync/emulator, or
$XDG_CACHE_HOME/cardsync/emulator) and reused; clients trust it with
`session.verify = str(emu.ca_file)` (CARDSYNC_SALESFORCE__CA_BUNDLE). Note that requests lets
the REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE environment variables override `session.verify`.

Without --state the org lives in a temporary SQLite file that is removed on stop; with it the
org persists across restarts (a state file is seeded once, when it is new).

Authentication (POST /services/oauth2/token, form-encoded)
----------------------------------------------------------
- grant_type=client_credentials: client_id + client_secret (form or HTTP Basic); runs as the
  integration user (the connected app's "Run As" user).
- grant_type=password: client_id, client_secret, username (case-insensitive), password with or
  without the user's security token appended.
- grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer: `assertion` is a JWT whose payload is
  trusted without checking the signature; `iss` must be a known client id, `sub` an active
  user's username, `exp` (if present) in the future.
Success: {"access_token", "instance_url", "id": ".../id/<orgId>/<userId>", "token_type":
"Bearer", "issued_at", "signature", "scope"}. Failures: HTTP 400 with {"error",
"error_description"}: invalid_grant / "authentication failure" (unknown, inactive or wrong
password), invalid_client_id (unknown client), invalid_client (wrong secret),
unsupported_grant_type. POST /services/oauth2/revoke ends a token; GET
/services/oauth2/userinfo (and the identity URL) describes the token's user.

Demo credentials (constants in `emulators.salesforce.credentials`): client id
`cardsync-demo`, client secret `cardsync-demo-secret`, user `integration@cardsync.example` /
`cardsync-demo` (security token `cardsyncDemoToken`).

Sessions live in memory: a restart, `emu.api.auth.expire_all()` or 2 hours idle
(`emu.config.session_timeout_s`) end them; any data call then answers 401
[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}].

REST resources (any API version vNN.N; trailing slashes optional)
-----------------------------------------------------------------
    GET    /services/data/                               versions
    GET    /services/data/vXX.X/                         resources
    GET    .../limits                                    DailyApiRequests {Max, Remaining}, ...
    GET    .../sobjects                                  describeGlobal
    GET    .../sobjects/{T}                              basic info
    GET    .../sobjects/{T}/describe                     fields: name, type, length, externalId,
                                                         unique, createable, updateable,
                                                         nillable, referenceTo,
                                                         relationshipName, ...
    POST   .../sobjects/{T}                              create -> 201 {"id", "success", "errors"}
    GET    .../sobjects/{T}/{id}[?fields=a,b]            record (15- or 18-char id)
    PATCH  .../sobjects/{T}/{id}                         update -> 204
    DELETE .../sobjects/{T}/{id}                         delete -> 204
    GET    .../sobjects/{T}/{ExtField}/{value}           record by external ID (300 if several)
    PATCH  .../sobjects/{T}/{ExtField}/{value}           upsert -> 201 created / 200 updated,
                                                         {"id", "success", "errors", "created"};
                                                         300 + list of URLs if several match;
                                                         ?updateOnly=true -> 404 when none
    DELETE .../sobjects/{T}/{ExtField}/{value}           delete by external ID
    GET    .../query?q=SOQL, .../queryAll?q=SOQL         first page
    GET    .../query/{cursor}-{offset}                   next page (nextRecordsUrl)
    POST   .../composite/sobjects                        create up to 200, mixed types
    PATCH  .../composite/sobjects                        update up to 200 by Id
    PATCH  .../composite/sobjects/{T}/{ExtField}         upsert up to 200 by external ID
    DELETE .../composite/sobjects?ids=a,b[&allOrNone=]   delete up to 200
    GET    .../composite/sobjects/{T}?ids=&fields=       retrieve (POST with a JSON body too)

Every data response carries `Sforce-Limit-Info: api-usage=USED/LIMIT`. Each authenticated data
call counts; past the daily limit (default 1,000,000, --daily-api-limit) calls answer 403
[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}].
`emu.api_calls()` counts every request but the token endpoints. --latency-ms sleeps before
every data call. Errors are `[{"message", "errorCode"[, "fields"]}]`; unknown paths 404
NOT_FOUND, wrong methods 405 METHOD_NOT_ALLOWED, bad JSON 400 JSON_PARSER_ERROR.

Queries: pages of 2000 records (`page_size`), `{"totalSize", "done", "records",
"nextRecordsUrl"}`; a cursor keeps its snapshot for 15 minutes. Records carry
{"attributes": {"type", "url"}}; relationship fields nest the same way and are null when the
lookup is empty. queryAll also returns deleted records (IsDeleted = true).

SOQL subset
-----------
    SELECT f, Rel.f, Rel.Rel.f | COUNT() | COUNT(f) [alias]
    FROM Obj [WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
    [LIMIT n] [OFFSET n (max 2000)]
Conditions: = != <> < > <= >= IN (...) NOT IN (...) LIKE, AND / OR / NOT and parentheses
(mixing AND and OR without parentheses is refused, as in Salesforce). Literals: 'strings' with
\\' \\" \\\\ \\n \\r \\t \\b \\f \\% \\_ escapes, numbers, true/false, null, dates
(2024-01-31) and date-times (2024-01-31T09:00:00Z, +09:00 offsets). Text compares
case-insensitively (ASCII), LIKE's % and _ too; `!=` and NOT IN also match null; comparing a
field with a literal of the wrong type is INVALID_QUERY_FILTER_OPERATOR; long text areas cannot
be filtered or sorted. Field, object and relationship names are case-insensitive and answered in
their canonical case. Errors: MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE. Not supported:
subqueries and semi-joins, GROUP BY / HAVING, date literals like TODAY / LAST_N_DAYS, FIELDS(),
polymorphic TYPEOF, WITH / FOR clauses, aliases on FROM.

Writes and validation
---------------------
Collections answer one result per record, in order: {"id", "success": true, "errors": []} (plus
"created" for upserts) or {"success": false, "errors": [{"statusCode", "message", "fields"}]}.
allOrNone (default false) rolls back every record when one fails; the others then report
ALL_OR_NONE_OPERATION_ROLLED_BACK. More than 200 records: 400 EXCEEDED_ID_LIMIT. Single-record
calls answer 400 with the same errors as [{"message", "errorCode", "fields"}].
Per-record errors: REQUIRED_FIELD_MISSING ("Required fields are missing: [LastName]"),
STRING_TOO_LONG, INVALID_EMAIL_ADDRESS, INVALID_FIELD (unknown field; external ID reference not
found: "Foreign key external ID: abc not found for field Sansan_Company_Key__c in entity
Account"), INVALID_FIELD_FOR_INSERT_UPDATE (read-only field such as CreatedDate or Name),
DUPLICATE_VALUE (unique field, or the same external ID twice in one request),
DUPLICATE_EXTERNAL_ID (several records match), MALFORMED_ID, FIELD_INTEGRITY_EXCEPTION (an id of
the wrong object), INVALID_CROSS_REFERENCE_KEY (no such record), ENTITY_IS_DELETED,
INACTIVE_OWNER_OR_USER (inactive owner), INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY (owner on
a Chatter Free / Chatter External license), MISSING_ARGUMENT (no Id / external ID value),
INVALID_TYPE_FOR_OPERATION (e.g. deleting a User). Request-level: INVALID_TYPE (unknown
sObject), JSON_PARSER_ERROR (a value that is not of its field's type, e.g. a bad date).
A relationship given as an object (`"Account": {"Sansan_Company_Key__c": "K1"}`,
`"Owner": {"Username": "..."}`) is resolved through an external ID or idLookup field. "" is
stored as null. OwnerId defaults to the caller. Name on Contact, Lead and User is computed as
"LastName FirstName" (a Japanese-locale org). Deleting an Account deletes its Contacts; other
lookups to a deleted record are cleared. Ids are real 18-character ids with the key prefix
(001 Account, 003 Contact, 00Q Lead, 005 User, 00e Profile, 100 UserLicense, 00D org) and the
case-safe checksum; 15-character and case-mangled 18-character ids are accepted.

Writes are serialized by one lock around one SQLite connection, so concurrent upserts of the
same external ID never create two records; external ID, idLookup and reference fields are
indexed (unique ones with a partial unique index over live records).

Objects (`schema.standard_objects()`, data-driven: add one with `schema.sobject(...)` and pass
`schema=Schema([...])` to start_emulator): UserLicense, Profile, User, Account, Contact, Lead
with the fields cardsync uses, the Sansan_* custom fields, and Id, IsDeleted, CreatedDate,
CreatedById, LastModifiedDate, LastModifiedById, SystemModstamp on every object.

Seeds: see `emulators.salesforce.seed` for the default org (users exercising license, activity
and username-case edge cases; Japanese Accounts without external IDs) and the seed file format.

Bulk API 2.0 ingest (`/jobs/ingest`, CSV insert/update/upsert, job states Open,
UploadComplete, InProgress, JobComplete, Failed, Aborted, successfulResults / failedResults /
unprocessedrecords): see `emulators.salesforce.bulk`.

Fault injection (`emu.faults`, `POST /__admin/faults`, the `--error-rate`, `--fail-record`,
`--drop-rate`, `--slow-rate`/`--slow-ms`, `--expire-sessions-after`, `--record-lock-rate`,
`--fault-seed` flags) and org duplicate rules (`emu.config.duplicate_rules`): see
`emulators.salesforce.faults`.

Growth seams: `RestApi.add_route` (table-driven routing, e.g. Bulk API 2.0 `/jobs/ingest`),
`RestApi.before_request` / `after_request` hook lists (fault injection: return a Response to
answer instead of the handler, `Response(drop_connection=True)` to hang up), `Auth.expire_all()`,
and the live `EmulatorConfig` (`emu.config`).
"""

from emulators.salesforce.server import RunningEmulator, start_emulator

__all__ = ["RunningEmulator", "start_emulator"]
