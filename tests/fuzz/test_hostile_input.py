"""Property-based: hostile bodies, headers, ids and query strings thrown at every /api/ operation,
by anonymous callers, customers, clerks and staff. Whatever comes in, the answer is never a 5xx
and always JSON.

The operations come from the app's own OpenAPI schema (drf-spectacular, as /api/schema/ serves
it), so a new endpoint is fuzzed as soon as it exists; the JSON keys come from the schema's
components too, so the bodies reach past "field required" into the serializers and services.
The examples are derandomized, as in test_api_fuzz.py: a failure reproduces on every run.
"""

import json
from dataclasses import dataclass
from urllib.parse import quote, quote_from_bytes

import pytest
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import RefreshToken

from tests.factories import (
    ADDRESS,
    ClerkFactory,
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    ShipmentFactory,
    StaffFactory,
)
from tests.wsgi_client import wsgi_call

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
OPERATIONS = sorted(
    (method.upper(), path, [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"])
    for path, item in SCHEMA["paths"].items()
    for method, operation in item.items()
)
KEYS = sorted(
    {key for component in SCHEMA["components"]["schemas"].values() for key in component.get("properties", {})}
)

# --- hostile values ---------------------------------------------------------------------------

NASTY_TEXT = [
    "",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "\ud83d\ude00",
    "\x1b[31m",
    "\r\n",
    "A" * 10_000,
    "MUG-1",
    "DE",
    "99999999.99",
    "1e999",
    "NaN",
    "-1",
    "../../etc/passwd",
    "' OR 1=1 --",
    "%00",
]
texts = st.one_of(
    st.sampled_from(NASTY_TEXT),
    st.text(max_size=30),
    st.text(st.characters(categories=["Cs", "Cc"]), max_size=10),  # surrogates, control characters
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**15, max_value=10**4000),
    st.integers(max_value=-(10**15), min_value=-(10**4000)),
    st.floats(),
    st.sampled_from([0, 1, 1000, 1001, 2**31, 2**63, -(2**63) - 1]),
)
leaves = st.one_of(st.none(), st.booleans(), numbers, texts)
keys = st.one_of(st.sampled_from(KEYS), texts)
json_values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5), max_leaves=25
)
# Close enough to a real order to get past the serializer now and then, with hostile leaves.
near_orders = st.fixed_dictionaries(
    {
        "items": st.lists(
            st.fixed_dictionaries(
                {"sku": st.sampled_from(["MUG-1", "DEAR", "NOPE"]) | texts, "quantity": st.integers(1, 1000) | leaves}
            ),
            min_size=1,
            max_size=4,
            unique_by=lambda item: repr(item["sku"]),
        ),
        "shipping_address": st.just(ADDRESS)
        | st.fixed_dictionaries({name: st.sampled_from([ADDRESS[name]]) | texts for name in ADDRESS}),
    },
    optional={"tracking_number": texts, "refresh": texts, "username": texts, "password": texts, "price": leaves},
)


def encoded(value, ascii_only):
    # ensure_ascii writes a lone surrogate as \ud800; without it, the surrogate itself goes
    # into the bytes (surrogatepass), which is not UTF-8 at all.
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def nested(depth, shape):
    opener, middle, closer = shape
    return (opener * depth + middle + closer * depth).encode()


bodies = st.one_of(
    st.builds(encoded, json_values | near_orders, st.booleans()),
    st.builds(
        nested,
        st.integers(30, 20_000),
        st.sampled_from([("[", "", "]"), ('{"a":[', "1", "]}"), ('{"items":', "1", "}")]),
    ),
    st.integers(30, 100_000).map(lambda n: b"[" * n),  # never closed
    st.sampled_from([b"", b"1e999", b"-1e999", b"1" * 5000, b"NaN", b"Infinity", b'"\\ud800"', b"\xef\xbb\xbf{}"]),
    st.just(json.dumps({"items": "A" * 300_000}).encode()),  # over DATA_UPLOAD_MAX_MEMORY_SIZE
    st.binary(max_size=300),
)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "application/json; charset=utf-16",
            "application/json; charset=zlib",
            "application/json; charset=nope",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "multipart/form-data",
            "",
        ]
    ),
    st.text(st.characters(max_codepoint=255), max_size=40),
)
# What a WSGI server can hand over in a header: latin-1 text (PEP 3333).
header_text = st.one_of(st.sampled_from(["", "\x00", "A" * 10_000]), st.text(st.characters(max_codepoint=255)))
ids = st.one_of(
    st.sampled_from(["%00", "%0A", "%7F", "A" * 10_000, "%C3%A9", "%ED%A0%80", "..", "MUG-1", "DEAR"]),
    st.text().map(lambda text: quote(text, safe="")),
    st.binary(min_size=1).map(lambda data: quote_from_bytes(data, safe="")),
)
query_values = st.one_of(texts, st.binary(max_size=20).map(lambda data: data.decode("latin-1")))


def query_string(pairs):
    return "&".join(
        f"{quote(name.encode('utf-8', 'surrogatepass'))}={quote(value.encode('utf-8', 'surrogatepass'))}"
        for name, value in pairs
    )


@dataclass(frozen=True)
class World:
    """Who may call (None: anonymous) and what ids name."""

    bearers: list[str | None]
    ids: list[str]


@dataclass(frozen=True)
class HostileRequest:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    content_type: str


@st.composite
def hostile_requests(draw, world: World, template: str, query_names: list[str]) -> HostileRequest:
    """A request sane in most respects and hostile in one or two (which, drawn too), so that
    most get past authentication, routing and the content type to where a body is read."""
    hostile = draw(
        st.sets(
            st.sampled_from(["id", "query", "authorization", "headers", "body", "content type"]), min_size=1, max_size=2
        )
    )
    identifier = draw(ids if "id" in hostile else st.sampled_from(world.ids))
    query = draw(
        st.lists(st.tuples(st.sampled_from([*query_names, "format"]) | texts, query_values), min_size=1, max_size=3)
        if "query" in hostile
        else st.just([])
    )
    bearer = draw(header_text if "authorization" in hostile else st.sampled_from(world.bearers))
    headers = {
        "Authorization": bearer,
        "Idempotency-Key": draw(st.none() | header_text) if "headers" in hostile else None,
        "X-Request-ID": draw(st.none() | header_text) if "headers" in hostile else None,
    }
    return HostileRequest(
        path=template.replace("{id}", identifier).replace("{sku}", identifier),
        query=query_string(query),
        headers={name: value for name, value in headers.items() if value is not None},
        body=draw(bodies if "body" in hostile else st.builds(encoded, near_orders | json_values, st.just(True))),
        content_type=draw(content_types if "content type" in hostile else st.just("application/json")),
    )


# --- the test ---------------------------------------------------------------------------------


@pytest.fixture
def world(settings) -> World:
    settings.REST_FRAMEWORK = {  # the limits would answer 429 before a body is even read
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "1000000/min"),
    }
    ProductFactory(sku="MUG-1", stock_quantity=100_000)
    ProductFactory(sku="DEAR", price="99999999.99", stock_quantity=100_000)
    customer = CustomerFactory()
    return World(
        # Hypothesis draws the first of a list most often: a customer, then a clerk, staff, nobody.
        bearers=[
            *(
                f"Bearer {RefreshToken.for_user(user).access_token}"
                for user in (customer, ClerkFactory(), StaffFactory())
            ),
            None,
        ],
        ids=[OrderFactory(customer=customer).id, ShipmentFactory().id, "MUG-1", "DEAR"],
    )


@pytest.mark.parametrize(("method", "template", "query_names"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
@hypothesis_settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_hostile_requests_are_answered_in_json_without_a_server_error(world, method, template, query_names, data):
    request = data.draw(hostile_requests(world, template, query_names))

    # Through the WSGI application, as gunicorn calls it: a request it fails to even build
    # raises here rather than being answered.
    answer = wsgi_call(
        method,
        request.path,
        query=request.query,
        body=request.body,
        content_type=request.content_type,
        headers=request.headers,
    )

    shown = f"{answer.status_code} {answer.headers.get('Content-Type')} {answer.content[:300]!r}"
    assert answer.status_code < 500, shown
    assert answer.headers["Content-Type"] == "application/json", shown
    assert isinstance(json.loads(answer.content), dict), shown
