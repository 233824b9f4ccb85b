"""The input contract as data.

Ingestion, validation, the sample generator, the docs and the tests all read this one
description, so a column added here is loaded, validated, generated and documented
without touching any other place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Kind(str, Enum):
    """How a CSV text value is typed in staging."""

    TEXT = "text"
    CODE = "code"  # case-insensitive on input, lower-case in the warehouse, from a fixed set
    CURRENCY = "currency"  # ISO 4217, three letters, lower-cased in the warehouse
    DATE = "date"  # YYYY-MM-DD
    MONTH = "month"  # YYYY-MM (a full YYYY-MM-DD date is read as its month); the first day in the warehouse
    TIMESTAMP = "timestamp"  # ISO 8601, a missing offset means UTC
    MONEY = "money"  # exact decimal, DECIMAL(18,4)
    NUMBER = "number"  # exact decimal used for quantities and rates
    INTEGER = "integer"
    BOOLEAN = "boolean"  # true/false (also yes/no, 1/0)
    EMAIL = "email"
    EMAIL_LIST = "email_list"  # e-mails separated by ';'


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    codes: tuple[str, ...] = ()
    default: str | None = None  # used when the value is empty
    min_value: float | None = None  # inclusive bound for numbers
    max_value: float | None = None
    references: str | None = None  # "source.column" the value must exist in
    description: str = ""


@dataclass(frozen=True)
class Source:
    """One input table: where its files live, their columns and their key."""

    name: str  # the table name in raw and staging, e.g. "accounts"
    folder: str  # landing sub-folder: crm, surveys or billing
    pattern: str  # file-name prefix: files are <pattern>*.csv
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str = ""
    # Extra row rules: (name, reason). Evaluated in pipeline.validation.
    row_rules: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def glob(self) -> str:
        return f"{self.pattern}*.csv"


TIERS = ("strategic", "key", "transactional")
SEGMENTS = ("enterprise", "mid_market", "smb")
CADENCES = ("monthly", "quarterly", "none")
ACTIVITY_TYPES = ("call", "email", "meeting", "qbr", "visit", "other")
OPPORTUNITY_TYPES = ("new_business", "upsell", "cross_sell", "renewal")
PRIORITIES = ("low", "normal", "high", "urgent")
SURVEY_TYPES = ("nps", "csat")
INVOICE_STATUSES = ("draft", "open", "paid", "void", "uncollectible")
BANDS = ("green", "amber", "red")
GOAL_DIRECTIONS = ("at_least", "at_most")
# The columns of marts.account_monthly a goal may name: its numeric columns (the same
# set as pipeline.transforms.goals.goal_metrics(), which a test holds equal; the first three
# are the examples a quarantine reason names).
GOAL_METRICS = (
    "mrr", "nps_12m", "overdue_amount", "arr", "mrr_previous", "mrr_new", "mrr_expansion", "mrr_contraction", "mrr_churn",
    "mrr_reactivation", "revenue_trend_3m", "invoiced_net", "invoiced_tax", "collected",
    "invoiced_net_mom", "invoiced_net_yoy", "nps_responses_12m",
    "nps_promoters_12m", "nps_detractors_12m", "csat_3m", "csat_responses_3m", "csat_satisfied_3m",
    "touches_3m", "days_since_last_touch", "tickets_opened", "open_tickets",
    "open_high_priority_tickets", "open_expansion_pipeline", "days_to_renewal",
)  # fmt: skip

ACCOUNT = "accounts.account_id"

SOURCES: tuple[Source, ...] = (
    Source(
        name="account_managers",
        folder="crm",
        pattern="account_managers",
        key=("manager_id",),
        description="The people who own accounts.",
        columns=(
            Column("manager_id", Kind.TEXT, required=True),
            Column("name", Kind.TEXT, required=True),
            Column("email", Kind.EMAIL, required=True),
            Column("team", Kind.TEXT),
        ),
    ),
    Source(
        name="accounts",
        folder="crm",
        pattern="accounts",
        key=("account_id",),
        description="Client accounts: tier, segment, owner, billing currency and report settings.",
        columns=(
            Column("account_id", Kind.TEXT, required=True),
            Column("account_name", Kind.TEXT, required=True),
            Column("tier", Kind.CODE, required=True, codes=TIERS),
            Column("segment", Kind.CODE, codes=SEGMENTS),
            Column("industry", Kind.TEXT),
            Column("region", Kind.TEXT),
            Column(
                "account_manager_id",
                Kind.TEXT,
                required=True,
                references="account_managers.manager_id",
            ),
            Column("parent_account_id", Kind.TEXT),
            Column("customer_since", Kind.DATE),
            Column("renewal_date", Kind.DATE),
            Column("currency", Kind.CURRENCY, required=True),
            Column("report_cadence", Kind.CODE, codes=CADENCES, default="monthly"),
            Column("report_recipients", Kind.EMAIL_LIST),
        ),
    ),
    Source(
        name="account_aliases",
        folder="crm",
        pattern="account_aliases",
        key=("account_id", "system", "external_id"),
        description=(
            "How a record of another system finds its account: the id it carries there (a Stripe "
            "customer, a Zendesk organization, ...). Optional; read by the export profiles."
        ),
        columns=(
            Column("account_id", Kind.TEXT, required=True, references=ACCOUNT),
            Column(
                "system",
                Kind.CODE,
                required=True,
                description="stripe, hubspot, salesforce, zendesk or any profile's name",
            ),
            Column("external_id", Kind.TEXT, required=True),
            Column("note", Kind.TEXT, description="who added it and why (optional)"),
        ),
    ),
    Source(
        name="contacts",
        folder="crm",
        pattern="contacts",
        key=("contact_id",),
        description="People at client accounts.",
        columns=(
            Column("contact_id", Kind.TEXT, required=True),
            Column("account_id", Kind.TEXT, required=True, references=ACCOUNT),
            Column("name", Kind.TEXT),
            Column("email", Kind.EMAIL),
            Column("role", Kind.TEXT),
            Column("is_primary", Kind.BOOLEAN, default="false"),
        ),
    ),
    Source(
        name="activities",
        folder="crm",
        pattern="activities",
        key=("activity_id",),
        description="Touches: calls, e-mails, meetings, QBRs and visits.",
        columns=(
            Column("activity_id", Kind.TEXT, required=True),
            Column("account_id", Kind.TEXT, required=True, references=ACCOUNT),
            Column("manager_id", Kind.TEXT),
            Column("type", Kind.CODE, required=True, codes=ACTIVITY_TYPES),
            Column("occurred_at", Kind.TIMESTAMP, required=True),
            Column("subject", Kind.TEXT),
        ),
    ),
    Source(
        name="opportunities",
        folder="crm",
        pattern="opportunities",
        key=("opportunity_id",),
        description="Sales opportunities, including upsell and cross-sell pipeline.",
        columns=(
            Column("opportunity_id", Kind.TEXT, required=True),
            Column("account_id", Kind.TEXT, required=True, references=ACCOUNT),
            Column("type", Kind.CODE, required=True, codes=OPPORTUNITY_TYPES),
            Column("stage", Kind.TEXT, required=True),
            Column("amount", Kind.MONEY, required=True, min_value=0),
            Column("currency", Kind.CURRENCY, required=True),
            Column("created_on", Kind.DATE, required=True),
            Column("close_date", Kind.DATE),
            Column("is_closed", Kind.BOOLEAN, required=True),
            Column("is_won", Kind.BOOLEAN, required=True),
        ),
    ),
    Source(
        name="tickets",
        folder="crm",
        pattern="tickets",
        key=("ticket_id",),
        description="Support tickets.",
        columns=(
            Column("ticket_id", Kind.TEXT, required=True),
            Column("account_id", Kind.TEXT, required=True, references=ACCOUNT),
            Column("opened_at", Kind.TIMESTAMP, required=True),
            Column("first_response_at", Kind.TIMESTAMP),
            Column("resolved_at", Kind.TIMESTAMP),
            Column("priority", Kind.CODE, required=True, codes=PRIORITIES),
            Column("status", Kind.CODE, required=True),
            Column("subject", Kind.TEXT),
        ),
        row_rules=("resolved_after_opened",),
    ),
    Source(
        name="health_overrides",
        folder="crm",
        pattern="health_overrides",
        key=("account_id",),
        description="Manual health bands pinned by an account manager until they expire.",
        columns=(
            Column("account_id", Kind.TEXT, required=True, references=ACCOUNT),
            Column("band", Kind.CODE, required=True, codes=BANDS),
            Column("reason", Kind.TEXT, required=True),
            Column("set_by", Kind.TEXT, required=True),
            Column("expires_on", Kind.DATE, required=True),
        ),
    ),
    Source(
        name="account_goals",
        folder="crm",
        pattern="account_goals",
        key=("goal_id",),
        description=(
            "Goals agreed with a client: a column of marts.account_monthly, a target, a direction "
            "and the months it runs from and is due."
        ),
        columns=(
            Column("goal_id", Kind.TEXT, required=True),
            Column("account_id", Kind.TEXT, required=True, references=ACCOUNT),
            Column(
                "metric",
                Kind.CODE,
                required=True,
                codes=GOAL_METRICS,
                description="a numeric column of marts.account_monthly",
            ),
            Column("target", Kind.NUMBER, required=True),
            Column("direction", Kind.CODE, codes=GOAL_DIRECTIONS, default="at_least"),
            Column("start_month", Kind.MONTH, required=True),
            Column("due_month", Kind.MONTH, required=True),
            Column("owner", Kind.TEXT),
            Column("description", Kind.TEXT),
            Column("visible_to_client", Kind.BOOLEAN, default="true"),
        ),
        row_rules=("due_not_before_start",),
    ),
    Source(
        name="responses",
        folder="surveys",
        pattern="responses",
        key=("response_id",),
        description="NPS and CSAT survey responses.",
        columns=(
            Column("response_id", Kind.TEXT, required=True),
            Column("account_id", Kind.TEXT, required=True, references=ACCOUNT),
            Column("contact_email", Kind.EMAIL),
            Column("survey_type", Kind.CODE, required=True, codes=SURVEY_TYPES),
            Column("score", Kind.INTEGER, required=True, min_value=0, max_value=10),
            Column("responded_at", Kind.TIMESTAMP, required=True),
            Column("comment", Kind.TEXT),
        ),
        row_rules=("score_in_survey_range",),
    ),
    Source(
        name="subscriptions",
        folder="billing",
        pattern="subscriptions",
        key=("subscription_id",),
        description="Recurring subscriptions: the source of MRR.",
        columns=(
            Column("subscription_id", Kind.TEXT, required=True),
            Column("account_id", Kind.TEXT, required=True, references=ACCOUNT),
            Column("product", Kind.TEXT, required=True),
            Column("start_date", Kind.DATE, required=True),
            Column("end_date", Kind.DATE),
            Column("mrr", Kind.MONEY, required=True, min_value=0),
            Column("currency", Kind.CURRENCY, required=True),
        ),
        row_rules=("end_after_start",),
    ),
    Source(
        name="invoices",
        folder="billing",
        pattern="invoices",
        key=("invoice_id",),
        description="Invoices with their payment dates.",
        columns=(
            Column("invoice_id", Kind.TEXT, required=True),
            Column("account_id", Kind.TEXT, required=True, references=ACCOUNT),
            Column("number", Kind.TEXT),
            Column("issued_on", Kind.DATE, required=True),
            Column("due_on", Kind.DATE, required=True),
            Column("currency", Kind.CURRENCY, required=True),
            Column("subtotal", Kind.MONEY, required=True),
            Column("tax", Kind.MONEY, required=True),
            Column("total", Kind.MONEY, required=True),
            Column("status", Kind.CODE, required=True, codes=INVOICE_STATUSES),
            Column("paid_on", Kind.DATE),
        ),
        row_rules=("due_not_before_issued",),
    ),
    Source(
        name="invoice_lines",
        folder="billing",
        pattern="invoice_lines",
        key=("line_id",),
        description="The lines of each invoice.",
        columns=(
            Column("line_id", Kind.TEXT, required=True),
            Column("invoice_id", Kind.TEXT, required=True, references="invoices.invoice_id"),
            Column("product", Kind.TEXT),
            Column("description", Kind.TEXT),
            Column("quantity", Kind.NUMBER),
            Column("unit_amount", Kind.MONEY),
            Column("amount", Kind.MONEY, required=True),
            Column("tax_amount", Kind.MONEY),
            Column("period_start", Kind.DATE),
            Column("period_end", Kind.DATE),
        ),
    ),
    Source(
        name="fx_rates",
        folder="billing",
        pattern="fx_rates",
        key=("date", "currency"),
        description="Units of the reporting currency for one unit of a currency, by date.",
        columns=(
            Column("date", Kind.DATE, required=True),
            Column("currency", Kind.CURRENCY, required=True),
            Column("rate", Kind.NUMBER, required=True, min_value=0),
        ),
        row_rules=("rate_positive",),
    ),
)

SOURCES_BY_NAME: dict[str, Source] = {s.name: s for s in SOURCES}


def source(name: str) -> Source:
    return SOURCES_BY_NAME[name]


def load_order() -> list[Source]:
    """Sources in the order their references allow (a referenced table first)."""
    done: list[Source] = []
    remaining = list(SOURCES)
    while remaining:
        for s in remaining:
            deps = {c.references.split(".")[0] for c in s.columns if c.references}
            if deps <= {d.name for d in done} | {s.name}:
                done.append(s)
                remaining.remove(s)
                break
        else:  # pragma: no cover - the contract above has no cycles
            raise RuntimeError("circular references in the contract")
    return done
