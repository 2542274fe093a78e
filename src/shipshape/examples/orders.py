"""The bundled example service: a small orders API on FastAPI, Pydantic and SQLite."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response, status
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from shipshape.observe.health import sql_check

__all__ = ["Order", "OrderIn", "OrderItem", "create_app"]

DEFAULT_DATABASE_URL = "sqlite:///./shipshape-orders.db"


_MONEY_TEXT = re.compile(r"[0-9]{1,6}(\.[0-9]{1,2})?")


def _money_text(value: object) -> object:
    """Money travels as a decimal string ("12.50"), never as a binary float: up to six
    digits, then up to two decimals, as the schema's pattern says (no sign, exponent or
    spaces, which ``Decimal`` itself would take)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str) and _MONEY_TEXT.fullmatch(value):
        return value
    raise ValueError("must be a decimal string such as '12.50'")


def _money_json(value: Decimal) -> str:
    return f"{value:.2f}"


Money = Annotated[
    Decimal,
    BeforeValidator(_money_text),
    Field(ge=0, lt=1_000_000, max_digits=8, decimal_places=2),
    PlainSerializer(_money_json, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": r"^[0-9]{1,6}(\.[0-9]{1,2})?$", "examples": ["12.50"]}
    ),
]
# an order's total: a sum of Money, written as Money is (it may pass a million)
Total = Annotated[
    Decimal,
    PlainSerializer(_money_json, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "examples": ["25.00"]}),
]


_NOT_FOUND: dict[str, Any] = {
    "description": "Not found",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
            }
        }
    },
}


class OrderStatus(StrEnum):
    pending = "pending"
    paid = "paid"
    shipped = "shipped"
    cancelled = "cancelled"


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    quantity: int = Field(ge=1, le=1000)
    unit_price: Money


class OrderIn(BaseModel):
    """An order as a client submits it."""

    model_config = ConfigDict(extra="forbid")

    customer_email: str = Field(
        min_length=3, max_length=254, pattern=r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"
    )
    items: list[OrderItem] = Field(min_length=1, max_length=100)
    shipping_address: Address
    note: str | None = Field(default=None, max_length=500)


class Order(OrderIn):
    """A stored order."""

    id: int
    status: OrderStatus
    total: Total
    created_at: datetime


class OrderPage(BaseModel):
    items: list[Order]
    total: int


metadata = MetaData()
orders_table = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_email", String(254), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("total", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def make_engine(url: str, busy_timeout_ms: int = 5000) -> Engine:
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.close()

    return engine


def _row_to_order(row: object) -> Order:
    mapping = row._mapping  # type: ignore[attr-defined]
    body = orjson.loads(mapping["payload"])
    for item in body.get("items", ()):  # stored by this app: read as it was then written
        item["unit_price"] = Decimal(item["unit_price"])
    created = mapping["created_at"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Order(
        id=mapping["id"],
        status=OrderStatus(mapping["status"]),
        total=Decimal(mapping["total"]),
        created_at=created,
        **body,
    )


def get_connection(request: Request) -> Iterator[Connection]:
    """One transaction per request."""
    engine: Engine = request.app.state.engine
    with engine.begin() as conn:
        yield conn


Conn = Annotated[Connection, Depends(get_connection)]


def create_app(database_url: str | None = None, *, busy_timeout_ms: int = 5000) -> FastAPI:
    """The orders API; ``SHIPSHAPE_EXAMPLE_DATABASE_URL`` overrides the SQLite file."""
    url = database_url or os.environ.get("SHIPSHAPE_EXAMPLE_DATABASE_URL", DEFAULT_DATABASE_URL)
    engine = make_engine(url, busy_timeout_ms)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        metadata.create_all(engine)
        yield
        engine.dispose()

    app = FastAPI(
        title="shipshape example: orders",
        version="1.0.0",
        description="A small orders API that shows the shipshape production layer.",
        lifespan=lifespan,
    )
    app.state.engine = engine
    # readiness: the production layer runs this check on /readyz and /healthz
    app.state.shipshape_checks = {"database": sql_check(url)}

    @app.get("/", summary="Service banner")
    def index() -> dict[str, str]:
        return {"service": "orders", "docs": "/docs"}

    @app.post(
        "/orders",
        status_code=status.HTTP_201_CREATED,
        response_model=Order,
        responses={
            201: {
                "description": "The order, stored; Location names it",
                "headers": {
                    "Location": {
                        "description": "The path of the new order",
                        "schema": {"type": "string"},
                    }
                },
            },
            503: {"description": "The database is busy; retry after a second"},
        },
    )
    def create_order(order: OrderIn, request: Request, response: Response) -> Order:
        total = sum((item.unit_price * item.quantity for item in order.items), Decimal("0"))
        created = datetime.now(UTC)
        try:
            # a short transaction of its own: the write lock is released before the
            # response is built, not when the request's dependencies are torn down
            with engine.begin() as conn:
                result = conn.execute(
                    insert(orders_table).values(
                        customer_email=order.customer_email,
                        status=OrderStatus.pending.value,
                        total=str(total),
                        payload=order.model_dump_json(),
                        created_at=created,
                    )
                )
        except OperationalError as error:
            if "locked" not in str(error.orig):
                raise
            raise HTTPException(
                status_code=503,
                detail="the database is busy; retry shortly",
                headers={"Retry-After": "1"},
            ) from None
        order_id = result.inserted_primary_key[0] if result.inserted_primary_key else 0
        location = request.app.url_path_for("get_order", order_id=str(order_id))
        response.headers["Location"] = request.scope.get("root_path", "") + location
        return Order(
            id=int(order_id),
            status=OrderStatus.pending,
            total=total,
            created_at=created,
            **order.model_dump(),
        )

    @app.get("/orders/{order_id}", response_model=Order, responses={404: _NOT_FOUND})
    def get_order(order_id: Annotated[int, Path(ge=1, le=2**62)], conn: Conn) -> Order:
        row = conn.execute(select(orders_table).where(orders_table.c.id == order_id)).first()
        if row is None:
            raise HTTPException(status_code=404, detail=f"order {order_id} not found")
        return _row_to_order(row)

    @app.get("/orders", response_model=OrderPage)
    def list_orders(
        conn: Conn,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    ) -> OrderPage:
        total = conn.execute(select(func.count()).select_from(orders_table)).scalar_one()
        rows = conn.execute(
            select(orders_table).order_by(orders_table.c.id).limit(limit).offset(offset)
        ).all()
        return OrderPage(items=[_row_to_order(row) for row in rows], total=int(total))

    return app
