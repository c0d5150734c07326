"""SOQL: parse the supported subset and compile it to one SQLite query plus a result shaper.

Supported: `SELECT f, Rel.f, Rel.Rel.f | COUNT() | COUNT(f) [alias] FROM Obj [WHERE cond]
[ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]`. Conditions use
`= != <> < > <= >= [NOT] IN (...) LIKE` on fields (relationship paths too), `AND`/`OR`/`NOT` and
parentheses; literals are strings with SOQL escapes, numbers, true/false, null, dates and
date-times. Text compares case-insensitively, `!=` and `NOT IN` match nulls, as in Salesforce.

The store keeps one table per sObject, named like it, with one column per field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from emulators.salesforce.errors import ApiError, invalid_field, invalid_type, malformed_query
from emulators.salesforce.ids import normalize_id
from emulators.salesforce.schema import FieldDef, FieldType, Schema, SObjectDef
from emulators.salesforce.values import parse_date, parse_datetime, to_api

MAX_OFFSET = 2000

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>[+-]?\d+(?:\.\d+)?(?![\w.]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset(
    (
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
        "LIMIT",
        "OFFSET",
        "NULL",
        "TRUE",
        "FALSE",
        "COUNT",
        "GROUP",
        "HAVING",
        "WITH",
        "FOR",
        "USING",
        "INCLUDES",
        "EXCLUDES",
    )
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # keyword, ident, string, number, date, datetime, op, punct, end
    text: str
    pos: int


@dataclass(frozen=True, slots=True)
class Value:
    """A literal; `like` is the SQL LIKE pattern of a string (with \\% and \\_ kept literal)."""

    kind: Literal["string", "number", "date", "datetime", "boolean", "null"]
    value: Any
    like: str | None = None


@dataclass(frozen=True, slots=True)
class FieldPath:
    path: str


@dataclass(frozen=True, slots=True)
class Count:
    field: FieldPath | None
    alias: str | None


@dataclass(frozen=True, slots=True)
class Comparison:
    field: FieldPath
    op: str  # = != < > <= >= IN NOT IN LIKE
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Junction:
    op: Literal["AND", "OR"]
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    item: Condition


Condition = Comparison | Junction | Negation


@dataclass(frozen=True, slots=True)
class OrderItem:
    field: FieldPath
    descending: bool
    nulls_first: bool


@dataclass(frozen=True, slots=True)
class Query:
    select: tuple[FieldPath | Count, ...]
    sobject: str
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None


def _unescape(body: str, pos: int) -> tuple[str, str]:
    """The value of a quoted literal's body and the same text as a LIKE pattern."""
    value: list[str] = []
    like: list[str] = []
    chars = iter(body)
    for char in chars:
        if char != "\\":
            value.append(char)
            like.append(char)
            continue
        escaped = next(chars, "")
        if escaped in ("%", "_"):
            value.append(escaped)
            like.append("\\" + escaped)
        elif escaped.lower() in _ESCAPES or escaped in _ESCAPES:
            decoded = _ESCAPES.get(escaped, _ESCAPES.get(escaped.lower(), ""))
            value.append(decoded)
            like.append("\\\\" if decoded == "\\" else decoded)
        else:
            raise malformed_query(
                f"Invalid string literal '{body}'. Illegal escape sequence '\\{escaped}' "
                f"at column {pos + 1}"
            )
    return "".join(value), "".join(like)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            snippet = text[pos : pos + 20]
            if text[pos] == "'":
                raise malformed_query(f"unterminated string literal at column {pos + 1}")
            raise malformed_query(f"unexpected token: '{snippet.split()[0]}' at column {pos + 1}")
        kind = match.lastgroup or ""
        if kind != "ws":
            raw = match.group()
            if kind == "ident" and raw.upper() in _KEYWORDS:
                kind = "keyword"
            tokens.append(Token(kind, raw, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        return self.current.kind == "keyword" and self.current.text.upper() in words

    def unexpected(self) -> ApiError:
        token = self.current
        shown = token.text or "<EOF>"
        return malformed_query(f"unexpected token: '{shown}' at column {token.pos + 1}")

    def expect_keyword(self, word: str) -> None:
        if not self.at_keyword(word):
            raise self.unexpected()
        self.advance()

    def expect_punct(self, char: str) -> None:
        if self.current.kind != "punct" or self.current.text != char:
            raise self.unexpected()
        self.advance()

    def ident(self) -> str:
        if self.current.kind != "ident":
            raise self.unexpected()
        return self.advance().text

    def integer(self) -> int:
        token = self.current
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected()
        self.advance()
        return int(token.text)

    def query(self) -> Query:
        self.expect_keyword("SELECT")
        select = [self.select_item()]
        while self.current.kind == "punct" and self.current.text == ",":
            self.advance()
            select.append(self.select_item())
        self.expect_keyword("FROM")
        sobject = self.ident()
        where = None
        if self.at_keyword("WHERE"):
            self.advance()
            where = self.condition()
        order_by: list[OrderItem] = []
        if self.at_keyword("ORDER"):
            self.advance()
            self.expect_keyword("BY")
            order_by.append(self.order_item())
            while self.current.kind == "punct" and self.current.text == ",":
                self.advance()
                order_by.append(self.order_item())
        limit = offset = None
        if self.at_keyword("LIMIT"):
            self.advance()
            limit = self.integer()
        if self.at_keyword("OFFSET"):
            self.advance()
            offset = self.integer()
        if self.current.kind != "end":
            raise self.unexpected()
        return Query(tuple(select), sobject, where, tuple(order_by), limit, offset)

    def select_item(self) -> FieldPath | Count:
        if self.at_keyword("COUNT"):
            self.advance()
            self.expect_punct("(")
            target = None
            if self.current.kind == "ident":
                target = FieldPath(self.ident())
            self.expect_punct(")")
            alias = self.ident() if self.current.kind == "ident" else None
            return Count(target, alias)
        return FieldPath(self.ident())

    def order_item(self) -> OrderItem:
        target = FieldPath(self.ident())
        descending = False
        if self.at_keyword("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        nulls_first = not descending
        if self.at_keyword("NULLS"):
            self.advance()
            if not self.at_keyword("FIRST", "LAST"):
                raise self.unexpected()
            nulls_first = self.advance().text.upper() == "FIRST"
        return OrderItem(target, descending, nulls_first)

    def condition(self) -> Condition:
        items = [self.term()]
        connective: str | None = None
        while self.at_keyword("AND", "OR"):
            word = self.current.text.upper()
            # SOQL refuses to guess precedence: mixing AND and OR needs parentheses.
            if connective is not None and word != connective:
                raise self.unexpected()
            connective = word
            self.advance()
            items.append(self.term())
        if connective is None:
            return items[0]
        return Junction("AND" if connective == "AND" else "OR", tuple(items))

    def term(self) -> Condition:
        if self.at_keyword("NOT"):
            self.advance()
            return Negation(self.term())
        if self.current.kind == "punct" and self.current.text == "(":
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        target = FieldPath(self.ident())
        if self.current.kind == "op":
            op = self.advance().text
            return Comparison(target, "!=" if op == "<>" else op, (self.value(),))
        if self.at_keyword("LIKE"):
            self.advance()
            return Comparison(target, "LIKE", (self.value(),))
        negated = False
        if self.at_keyword("NOT"):
            self.advance()
            negated = True
        if not self.at_keyword("IN"):
            raise self.unexpected()
        self.advance()
        self.expect_punct("(")
        values = [self.value()]
        while self.current.kind == "punct" and self.current.text == ",":
            self.advance()
            values.append(self.value())
        self.expect_punct(")")
        return Comparison(target, "NOT IN" if negated else "IN", tuple(values))

    def value(self) -> Value:
        token = self.current
        if token.kind == "string":
            self.advance()
            text, like = _unescape(token.text[1:-1], token.pos)
            return Value("string", text, like)
        if token.kind == "number":
            self.advance()
            number = float(token.text)
            return Value("number", int(number) if number.is_integer() else number)
        if token.kind == "date":
            self.advance()
            parsed = parse_date(token.text)
            if parsed is None:
                raise malformed_query(f"line 1:{token.pos} no viable alternative at character")
            return Value("date", parsed)
        if token.kind == "datetime":
            self.advance()
            stamp = parse_datetime(token.text)
            if stamp is None:
                raise malformed_query(f"line 1:{token.pos} no viable alternative at character")
            return Value("datetime", stamp)
        if self.at_keyword("TRUE", "FALSE"):
            return Value("boolean", self.advance().text.upper() == "TRUE")
        if self.at_keyword("NULL"):
            self.advance()
            return Value("null", None)
        raise self.unexpected()


def parse(text: str) -> Query:
    """The syntax tree of a SOQL query, or ApiError MALFORMED_QUERY."""
    if not text or not text.strip():
        raise malformed_query("unexpected token: <EOF>")
    return _Parser(text).query()


# Compilation ---------------------------------------------------------------------------------


@dataclass
class _Leaf:
    index: int
    field: FieldDef


@dataclass
class _Node:
    sobject: SObjectDef
    id_index: int
    children: dict[str, _Leaf | _Node] = field(default_factory=dict)

    def shape(self, row: Sequence[Any], version: str) -> dict[str, Any]:
        name = self.sobject.name
        record: dict[str, Any] = {
            "attributes": {
                "type": name,
                "url": f"/services/data/v{version}/sobjects/{name}/{row[self.id_index]}",
            }
        }
        for key, child in self.children.items():
            if isinstance(child, _Leaf):
                record[key] = to_api(child.field, row[child.index])
            elif row[child.id_index] is None:
                record[key] = None
            else:
                record[key] = child.shape(row, version)
        return record


@dataclass(frozen=True)
class CompiledQuery:
    """SQL for a query; `kind` says how to read its rows (records, COUNT() or COUNT(f))."""

    sobject: SObjectDef
    kind: Literal["records", "count", "aggregate"]
    sql: str
    params: tuple[Any, ...]
    shape: Callable[[Sequence[Any], str], dict[str, Any]]


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _must_be(fd: FieldDef, type_name: str, quoted: bool) -> ApiError:
    enclosed = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
    return ApiError(
        400,
        "INVALID_QUERY_FILTER_OPERATOR",
        f"value of filter criterion for field '{fd.name}' must be of type {type_name} "
        f"and {enclosed}",
    )


class _Compiler:
    def __init__(self, schema: Schema, root: SObjectDef) -> None:
        self.schema = schema
        self.root = root
        self.aliases: dict[tuple[str, ...], str] = {(): "t0"}
        self.joins: list[str] = []
        self.params: list[Any] = []

    def resolve(self, target: FieldPath) -> tuple[str, FieldDef, tuple[str, ...]]:
        """Table alias, field and relationship path (canonical names) of a field path."""
        parts = target.path.split(".")
        # SOQL lets a path start with the queried object's name: Contact.LastName.
        if (
            len(parts) > 1
            and parts[0].lower() == self.root.name.lower()
            and (self.root.relationship(parts[0]) is None)
        ):
            parts = parts[1:]
        obj = self.root
        relationships: tuple[str, ...] = ()
        for part in parts[:-1]:
            reference = obj.relationship(part)
            if reference is None or reference.relationship_name is None:
                raise invalid_field(
                    f"Didn't understand relationship '{part}' in field path. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' after "
                    "the custom relationship name. Please reference your WSDL or the describe "
                    "call for the appropriate names."
                )
            parent_alias = self.aliases[relationships]
            relationships = (*relationships, reference.relationship_name)
            target_obj = self.schema.get(reference.reference_to or "")
            assert target_obj is not None  # the schema checks its references
            if relationships not in self.aliases:
                alias = f"t{len(self.aliases)}"
                self.aliases[relationships] = alias
                self.joins.append(
                    f"LEFT JOIN {quote(target_obj.name)} {alias} "
                    f'ON {alias}."Id" = {parent_alias}.{quote(reference.name)}'
                )
            obj = target_obj
        fd = obj.field(parts[-1])
        if fd is None:
            raise invalid_field(
                f"No such column '{parts[-1]}' on entity '{obj.name}'. If you are attempting to "
                "use a custom field, be sure to append the '__c' after the custom field name. "
                "Please reference your WSDL or the describe call for the appropriate names."
            )
        return self.aliases[relationships], fd, relationships

    def column(self, target: FieldPath) -> tuple[str, FieldDef]:
        alias, fd, _ = self.resolve(target)
        return f"{alias}.{quote(fd.name)}", fd

    def literal(self, fd: FieldDef, value: Value) -> Any:
        """The column value a literal compares against, checked against the field's type."""
        if value.kind == "null":
            return None
        if fd.is_id:
            if value.kind != "string":
                raise _must_be(fd, "id", quoted=True)
            normalized = normalize_id(value.value)
            if normalized is None:
                raise ApiError(
                    400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {value.value}"
                )
            return normalized
        if fd.is_text:
            if value.kind != "string":
                raise _must_be(fd, "string", quoted=True)
            return value.value
        if fd.type == FieldType.BOOLEAN:
            if value.kind != "boolean":
                raise _must_be(fd, "boolean", quoted=False)
            return int(value.value)
        if fd.type == FieldType.DATE:
            if value.kind != "date":
                raise _must_be(fd, "date", quoted=False)
            return value.value
        if fd.type == FieldType.DATETIME:
            if value.kind != "datetime":
                raise _must_be(fd, "dateTime", quoted=False)
            return value.value
        if value.kind != "number":
            raise _must_be(fd, "double" if fd.type == FieldType.DOUBLE else "integer", quoted=False)
        return value.value

    def condition(self, node: Condition) -> str:
        if isinstance(node, Junction):
            return "(" + f" {node.op} ".join(self.condition(item) for item in node.items) + ")"
        if isinstance(node, Negation):
            # SOQL is two-valued; COALESCE turns SQL's unknown into false before negating.
            return f"NOT COALESCE({self.condition(node.item)}, 0)"
        return self.comparison(node)

    def comparison(self, node: Comparison) -> str:
        column, fd = self.column(node.field)
        if not fd.filterable:
            raise invalid_field(f"field '{fd.name}' can not be filtered in a query call")
        collate = " COLLATE NOCASE" if fd.collation == "NOCASE" else ""
        if node.op == "LIKE":
            value = node.values[0]
            if not fd.is_text:
                raise ApiError(
                    400,
                    "INVALID_QUERY_FILTER_OPERATOR",
                    f"invalid operator on field '{fd.name}': LIKE",
                )
            if value.kind != "string":
                raise _must_be(fd, "string", quoted=True)
            self.params.append(value.like)
            return f"{column} LIKE ? ESCAPE '\\'"
        if node.op in ("IN", "NOT IN"):
            values = [self.literal(fd, v) for v in node.values]
            present = [v for v in values if v is not None]
            has_null = len(present) != len(values)
            self.params.extend(present)
            marks = ", ".join("?" for _ in present)
            if node.op == "IN":
                parts = [f"{column}{collate} IN ({marks})"] if present else []
                if has_null:
                    parts.append(f"{column} IS NULL")
                return "(" + " OR ".join(parts) + ")"
            if has_null:
                parts = [f"{column} IS NOT NULL"]
                if present:
                    parts.append(f"{column}{collate} NOT IN ({marks})")
                return "(" + " AND ".join(parts) + ")"
            return f"({column} IS NULL OR {column}{collate} NOT IN ({marks}))"
        value = self.literal(fd, node.values[0])
        if value is None:
            if node.op == "=":
                return f"{column} IS NULL"
            if node.op == "!=":
                return f"{column} IS NOT NULL"
            return "0"
        self.params.append(value)
        if node.op == "!=":
            return f"({column} IS NULL OR {column} <> ?{collate})"
        return f"{column} {node.op} ?{collate}"

    def order(self, item: OrderItem) -> str:
        column, fd = self.column(item.field)
        if not fd.sortable:
            raise invalid_field(f"field '{fd.name}' can not be sorted in a query call")
        collate = " COLLATE NOCASE" if fd.collation == "NOCASE" else ""
        direction = "DESC" if item.descending else "ASC"
        nulls = "FIRST" if item.nulls_first else "LAST"
        return f"{column}{collate} {direction} NULLS {nulls}"


def compile_query(query: Query, schema: Schema, *, include_deleted: bool) -> CompiledQuery:
    """SQL and shaper for a parsed query, or ApiError INVALID_TYPE / INVALID_FIELD / ..."""
    root = schema.get(query.sobject)
    if root is None:
        raise invalid_type(query.sobject)
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise ApiError(
            400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
        )
    compiler = _Compiler(schema, root)
    counts = [item for item in query.select if isinstance(item, Count)]
    fields = [item for item in query.select if isinstance(item, FieldPath)]
    if counts and fields:
        raise malformed_query(f"Field must be grouped or aggregated: {fields[0].path}")
    bare_counts = [c for c in counts if c.field is None]
    if bare_counts and len(counts) > 1:
        raise malformed_query("COUNT() must be the only element in the SELECT list")

    columns: list[str] = []
    kind: Literal["records", "count", "aggregate"]
    shape: Callable[[Sequence[Any], str], dict[str, Any]]
    if bare_counts:
        kind = "count"
        shape = _no_shape
    elif counts:
        kind = "aggregate"
        names: list[str] = []
        for position, count in enumerate(counts):
            assert count.field is not None
            column, _ = compiler.column(count.field)
            columns.append(f"COUNT({column})")
            names.append(count.alias or f"expr{position}")
        shape = _aggregate_shaper(names)
    else:
        kind = "records"
        shape = _record_shaper(compiler, fields, columns)

    where = [] if include_deleted else ['t0."IsDeleted" = 0']
    if query.where is not None:
        where.append(compiler.condition(query.where))
    order = [compiler.order(item) for item in query.order_by]
    from_sql = f"FROM {quote(root.name)} t0 " + " ".join(compiler.joins)
    where_sql = f" WHERE {' AND '.join(where)}" if where else ""
    order_sql = f" ORDER BY {', '.join(order)}" if order else ""
    window = ""
    params = list(compiler.params)
    if query.limit is not None or query.offset is not None:
        window = " LIMIT ? OFFSET ?"
        params += [query.limit if query.limit is not None else -1, query.offset or 0]
    if kind == "count":
        inner = f"SELECT 1 {from_sql}{where_sql}{window}"
        sql = f"SELECT COUNT(*) FROM ({inner})"
    elif kind == "aggregate":
        sql = f"SELECT {', '.join(columns)} {from_sql}{where_sql}"
        params = list(compiler.params)
    else:
        sql = f"SELECT {', '.join(columns)} {from_sql}{where_sql}{order_sql}{window}"
    return CompiledQuery(root, kind, sql, tuple(params), shape)


def _no_shape(row: Sequence[Any], version: str) -> dict[str, Any]:
    return {}


def _aggregate_shaper(names: list[str]) -> Callable[[Sequence[Any], str], dict[str, Any]]:
    def shape(row: Sequence[Any], version: str) -> dict[str, Any]:
        record: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        record.update(zip(names, row, strict=True))
        return record

    return shape


def _record_shaper(
    compiler: _Compiler, fields: list[FieldPath], columns: list[str]
) -> Callable[[Sequence[Any], str], dict[str, Any]]:
    """Add the SELECT columns for `fields` and return what nests a row like Salesforce does."""

    def add(expression: str) -> int:
        columns.append(expression)
        return len(columns) - 1

    root = _Node(compiler.root, add('t0."Id"'))
    nodes: dict[tuple[str, ...], _Node] = {(): root}
    seen: set[tuple[str, ...]] = set()
    for target in fields:
        alias, fd, relationships = compiler.resolve(target)
        key = (*relationships, fd.name)
        if key in seen:
            raise malformed_query(f"duplicate field selected: {target.path}")
        seen.add(key)
        for depth in range(1, len(relationships) + 1):
            path = relationships[:depth]
            if path not in nodes:
                parent = nodes[path[:-1]]
                sub_alias = compiler.aliases[path]
                obj = _related_object(compiler, path)
                node = _Node(obj, add(f'{sub_alias}."Id"'))
                nodes[path] = node
                parent.children[path[-1]] = node
        nodes[relationships].children[fd.name] = _Leaf(add(f"{alias}.{quote(fd.name)}"), fd)
    return root.shape


def _related_object(compiler: _Compiler, path: tuple[str, ...]) -> SObjectDef:
    obj = compiler.root
    for name in path:
        reference = obj.relationship(name)
        assert reference is not None and reference.reference_to is not None
        related = compiler.schema.get(reference.reference_to)
        assert related is not None
        obj = related
    return obj
