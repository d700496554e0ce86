"""Settings: environment variables with the BEDSIDE_ prefix, then an optional bedside.toml, then defaults.

Built once by the CLI or the web app and passed down; never read at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bedside.errors import InvalidInput

Audience = Literal["clinician", "student", "patient"]


def default_data_dir() -> Path:
    """Where data lives when nothing says otherwise: $XDG_DATA_HOME/bedside."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "bedside"


def _config_file() -> Path:
    return Path(os.environ.get("BEDSIDE_CONFIG", "bedside.toml"))


class Settings(BaseSettings):
    """Everything an operator can configure."""

    model_config = SettingsConfigDict(env_prefix="BEDSIDE_", extra="forbid", validate_default=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = ""  # empty: sqlite in data_dir
    starter_kb: bool = True
    # Where passages are searched: "embedded" (tantivy and a vector file in the data directory, one host) or
    # "milvus" (collections on a Milvus server that every host shares; milvus_uri empty: Milvus Lite in the data
    # directory). With milvus, point database_url at PostgreSQL so that every host shares the knowledge store too.
    search_backend: Literal["embedded", "milvus"] = "embedded"
    milvus_uri: str = ""
    milvus_collection: str = Field(default="bedside", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
    # What a Milvus search must see: "Strong" (every write acknowledged before it; the default), "Bounded" (at most a
    # few seconds behind, cheaper on a busy cluster), "Session" (this process's own writes) or "Eventually".
    milvus_consistency: Literal["Strong", "Bounded", "Session", "Eventually"] = "Strong"
    embedder: Literal["bge-small", "hashing", "none", "endpoint"] = "bge-small"
    # embedder=endpoint: an OpenAI-compatible /v1/embeddings server (TEI, vLLM, Infinity, Ollama) shared by hosts.
    embedder_base_url: str = ""
    embedder_model: str = ""
    embedder_api_key: str = ""
    embedder_batch_size: int = Field(default=64, ge=1, le=4096)
    embedder_timeout: float = Field(default=60.0, gt=0)
    embedder_retries: int = Field(default=4, ge=0, le=20)
    # Prepended to questions (not passages) by models trained with one; bge models use
    # "Represent this sentence for searching relevant passages: ".
    embedder_query_instruction: str = ""
    default_audience: Audience = "clinician"
    # The extractive composer also prefers sentences close in meaning to the rest of the evidence (sentence vectors
    # from the dense model). Off by default: it costs up to eight sentence embeddings for each new question and its
    # BioASQ gain on dev did not hold on test (see bench/answers.py --semantic).
    answer_semantic: bool = False
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout: float = Field(default=60.0, gt=0)
    # After this many failed LLM calls in a row, answers skip the endpoint (extractive) for a cool-down that
    # starts at llm_retry_after seconds and doubles while trial calls keep failing (at most 10 minutes).
    llm_failures_to_pause: int = Field(default=3, ge=1)
    llm_retry_after: float = Field(default=30.0, gt=0)
    # Web admission for new answers: at most ask_concurrency composed at once, ask_queue more waiting (each at
    # most ask_wait seconds); beyond that, 503 with Retry-After at once instead of an unbounded queue.
    ask_concurrency: int = Field(default=4, ge=1, le=256)
    ask_queue: int = Field(default=16, ge=0, le=10_000)
    ask_wait: float = Field(default=30.0, gt=0)
    # `bedside serve` under attack: bodies over max_body_bytes are refused (413) before they are read, a body must
    # arrive within body_timeout seconds and request headers within header_timeout (else 408 and the connection
    # closes), idle keep-alive connections close after keep_alive_timeout, at most max_connections are open (and
    # max_connections_per_client from one address), and at most max_requests_in_flight run at once (else 503).
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    body_timeout: float = Field(default=30.0, gt=0)
    header_timeout: float = Field(default=10.0, gt=0)
    keep_alive_timeout: float = Field(default=5.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)
    max_connections_per_client: int = Field(default=100, ge=1)
    max_requests_in_flight: int = Field(default=64, ge=1)
    # Reverse proxies (addresses or networks) whose X-Forwarded-For / X-Forwarded-Proto are believed; none: the
    # connection's own address is the client's (sign-in throttling counts by it), whoever sends such headers.
    trusted_proxies: list[str] = Field(default_factory=list)
    secret_key: str = ""
    # Keys the audit chain (HMAC); kept outside the article database. Empty: a 0600 file `audit_key` in data_dir.
    audit_key: str = ""
    environment: Literal["development", "production"] = "development"
    debug: bool = False  # tracebacks in error responses: development only
    cors_origins: list[str] = Field(default_factory=list)  # browser origins allowed to call the API; none: no CORS
    # NCBI E-utilities (`bedside pubmed`): NCBI asks every client to name its tool and a contact email; an API key
    # raises the rate limit from 3 to 10 requests a second (shared by every bedside process using the key).
    ncbi_base_url: str = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
    ncbi_tool: str = "bedside"
    ncbi_email: str = ""
    ncbi_api_key: str = ""
    ncbi_timeout: float = Field(default=60.0, gt=0)
    # CDS Hooks (/cds-services): off unless enabled; every request must carry a JWT signed by a CDS Client whose
    # public key is in the JWK Set file `cds_jwks` (and whose `iss` is in `cds_issuers`, when that is set).
    # `cds_base_url` is bedside's public URL as EHRs call it (the JWT audience and the cards' links).
    cds_hooks: bool = False
    cds_jwks: str = ""
    cds_issuers: list[str] = Field(default_factory=list)
    cds_base_url: str = ""
    # MCP over Streamable HTTP at /mcp/ in `bedside serve` (needs bedside[mcp]), behind the API tokens.
    mcp_http: bool = False
    mcp_rate_per_minute: int = Field(default=120, ge=1, le=100_000)

    @field_validator("milvus_consistency", mode="before")
    @classmethod
    def _level(cls, v: Any) -> Any:
        return v.strip().capitalize() if isinstance(v, str) else v  # Milvus's spelling, whatever the case given

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)

    @property
    def resolved_database_url(self) -> str:
        """The article database; SQLite inside the data directory by default."""
        return self.database_url or f"sqlite:///{self.data_dir / 'bedside.db'}"

    @property
    def resolved_milvus_uri(self) -> str:
        """The Milvus server, or the Milvus Lite file in the data directory."""
        return self.milvus_uri or str(self.data_dir / "milvus.db")

    @property
    def knowledge_location(self) -> str:
        """The knowledge store: the PostgreSQL database when `database_url` names one (shared by every host),
        otherwise `knowledge.sqlite` in the data directory."""
        if self.database_url.split("://", 1)[0].lower() in ("postgres", "postgresql", "postgresql+psycopg"):
            return self.database_url
        return str(self.data_dir / "knowledge.sqlite")


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation problems into one clear message per field."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidInput(f"invalid settings ({problems})") from exc
