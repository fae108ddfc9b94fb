"""The ATS_HOME folder and its TOML configuration file.

ATS_HOME (default ``./var``) holds ``ats.toml``, the 0700 run folder with the bus sockets and the
supervisord socket, the logs, the ArcticDB LMDB store and the processes' local state files.
Every key has a default here, so a missing or partial file still gives a working configuration.
The file is checked against a schema derived from these defaults (``ats.config_schema``): an
unknown key, a wrong type or an out-of-range value is refused with a sentence naming the key.
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from ats import configcheck
from bus.endpoints import Endpoints, is_loopback

CONFIG_FILE = "ats.toml"

DEFAULTS: dict[str, Any] = {
    "venue": {
        # The venue's name in the registry (`ats-ctl add --venue`), status and the books.
        "name": "main",
        # "sim" runs the embedded simulator as program gateway-sim; "ib" points at a real
        # Gateway/TWS at host:port and leaves gateway-sim stopped.
        "kind": "sim",
        "host": "127.0.0.1",
        "port": 14002,
        # Empty: the first account the venue reports in managedAccounts.
        "account": "",
        # The broker's clientId. Set TWS/Gateway's "Master API client ID" to the same value so
        # the broker sees every client's orders and executions.
        "master_client_id": 0,
        "connect_timeout": 10.0,
    },
    # Further Gateways or accounts, each a table {name, kind, host, port, account,
    # master_client_id, connect_timeout, admin_port, seed, accounts, cash}: the broker keeps a
    # master connection, books, risk and reconciliation per venue, and each strategy trades on
    # the one it is registered with (default: [venue]'s). A "sim" venue runs its own simulator
    # (program gateway-sim-NAME) on port and admin_port; seed, accounts and cash default to
    # [sim]'s seed (the same market as [venue]'s), "DU000000<place+1>" and [sim] cash.
    "venues": [],
    "sim": {
        "seed": 1,
        "speed": 1.0,
        # The simulated clock's start, ISO 8601 (empty: see clock). Replays use a fixed start.
        "start": "",
        # Without a start: "session" starts now while a New York session is open, else in the
        # most recent session, so the demo trades on weekends and holidays; "wall" starts now
        # and follows the real calendar (no trading while the market is closed). "stepped":
        # stands still (at start) until the simulator's admin command `advance` moves it; the
        # hosts and the broker then follow the venue's time, not the wall (speed is ignored).
        "clock": "session",
        "admin_port": 14003,
        "cash": 1_000_000.0,
        "accounts": "DU0000001",
        "max_msg_rate": 50,
        # Error 162 for historical requests that break IB's pacing rules, as a Gateway
        # (identical within 15 s, 6 for one contract within 2 s, over 60 in 10 minutes).
        "history_pacing": True,
        # "synthetic": the seeded synthetic market. "stored": bars in ArcticDB's market_data
        # library replace the synthetic prices of their symbols (each continues synthetically
        # past its last stored bar).
        "market": "synthetic",
    },
    # Over tcp the host must be a loopback address unless allow_remote is true; a host beyond
    # loopback also needs curve. curve: every bus socket is secured with CURVE (keys in
    # state/keys, `ats-ctl keys`); a peer whose public key is not allowed gets nothing.
    "bus": {"transport": "ipc", "host": "127.0.0.1", "base_port": 5550, "allow_remote": False,
            "curve": False},
    "storage": {
        # Empty: lmdb://<ATS_HOME>/arctic. Or ArcticDB on S3, e.g.
        # "s3s://s3.eu-west-1.amazonaws.com:BUCKET?path_prefix=ats" (an existing bucket).
        # S3 credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
        # or an instance role, never from this file (aws_auth=true is implied).
        "arctic_uri": "",
    },
    "manager": {
        "first_client_id": 101,
        # Seconds without a heartbeat before a strategy is marked unresponsive.
        "heartbeat_timeout": 3.0,
        # Interpreter of the strategy hosts (empty: the manager's own) and their IB client
        # library: "ib_async", or "ib_insync" from a venv that has it instead.
        "strategy_python": "",
        "ib_lib": "ib_async",
        # Registered and started on the manager's first start: a shipped name, or a table
        # {name, spec, params, description, target_weight, min_weight, max_weight, start,
        # benchmark}. Weights left out are SEED_WEIGHTS'; the target weights may sum to at most
        # [risk] max_gross_leverage. benchmark: the symbol `ats-ctl report` compares the
        # strategy with (default SPY).
        "seed_strategies": [
            *({"name": n, "target_weight": 0.09, "min_weight": 0.07, "max_weight": 0.11,
               **({"benchmark": "ACWI"} if n == "ltmt" else {})}
              for n in ("ltmt", "pea_oss", "s2", "svix", "short_rsi_thrust", "short_vix",
                        "cnr", "sie", "smag7", "vow")),
            {"name": "example", "target_weight": 0.02, "min_weight": 0.01,
             "max_weight": 0.03},
        ],
    },
    "hosts": {
        # This home's host name: the host of the strategies registered without --host (on
        # the main host), or the name a joined host's agent serves as (`ats-ctl init --join`).
        "name": "local",
        # "main": the whole system runs here; "agent": a joined host that runs only ats-agent
        # and the strategies the manager places on it (see deploy/agent-supervisord.conf).
        "role": "main",
        # A host whose agent has not beaten for this long is LOST: its strategies show LOST
        # and one alert is raised; the rest of the system is untouched.
        "lost_seconds": 10.0,
    },
    "host": {
        # A strategy whose handlers (on_bar, on_fill, scheduled callbacks, ...) raise this many
        # exceptions within 5 minutes halts its own trading (the broker's halt, as `ats-ctl
        # halt NAME`) and alerts on alert.<name>; `ats-ctl resume NAME` undoes it. 0: never.
        "halt_after_errors": 20,
    },
    "broker": {
        "equity_sample_seconds": 5.0,
        "flush_seconds": 2.0,
        "reconcile_seconds": 5.0,
        # Free space under the journals and ArcticDB: below the soft floor the account goes
        # REDUCING, below the hard floor HALTED (and ArcticDB writes wait); both clear by
        # themselves when space returns.
        "disk_soft_mb": 500,
        "disk_hard_mb": 100,
        # true: an approval is answered only once its intent is fsync'd (safe from a crash of
        # the machine, ~1 fsync of latency per order). false: once it is written (safe from a
        # crash of the process); the fsync follows in the background, and what a crash of the
        # machine loses of the log's tail the venue still holds (README, "Approvals and the
        # intent log").
        "sync_approvals": False,
    },
    "data": {
        # clientId of `ats-ctl data fetch` (historical downloads); distinct from every strategy.
        "client_id": 90,
        "library": "market_data",
    },
    "scheduler": {
        # Scheduled data jobs (ats-scheduler, `ats-ctl data schedule`). clientId of their
        # venue connection; distinct from [data] client_id and every strategy.
        "client_id": 91,
        # "after_close" jobs run this many minutes after the XNYS close (13:00 New York on a
        # half day); never on weekends or holidays.
        "after_close_minutes": 30.0,
        # A failed run is tried again after retry_seconds, doubling, this many times.
        "retries": 3,
        "retry_seconds": 60.0,
        # The time zone of the jobs' CRON expressions.
        "tz": "America/New_York",
    },
    "web": {
        # The web console (ats-web). A host other than loopback needs tls_cert and tls_key
        # (PEM files): the console is then served over https only.
        "host": "127.0.0.1",
        "port": 8765,
        "tls_cert": "",
        "tls_key": "",
    },
    "alerts": {
        # Where alerts go (ats-alerts, through Apprise): a list of tables
        # {url = "json://127.0.0.1:9000/hook", min_level = "WARNING"}, each an Apprise URL
        # (mailto://, tgram://, slack://, json://, ...) and the least severe level it receives
        # (INFO, WARNING or CRITICAL; default WARNING). URLs may hold credentials: they are
        # never put on the bus, in ArcticDB or in a log, and `ats-ctl config` masks them.
        "urls": [],
        # Repeats of one alert within this many seconds are folded into one, sent when the
        # window ends and saying how many it stands for.
        "repeat_seconds": 300.0,
        # At most this many alerts a minute; more (below CRITICAL) are held and sent as one
        # digest. 0: no limit.
        "max_per_minute": 20,
        # A failed delivery is retried after retry_seconds, doubling up to retry_max_seconds;
        # undelivered alerts wait in state/alerts-outbox.json.
        "retry_seconds": 2.0,
        "retry_max_seconds": 300.0,
        # A venue disconnect longer than this is CRITICAL.
        "disconnect_seconds": 30.0,
        # This many risk refusals of one strategy within the window are a burst (WARNING).
        "refusal_burst": 10,
        "refusal_window_seconds": 60.0,
        # A fall from the highest equity seen past this fraction of the strategy's capital
        # (its target weight of the account), or of the account's peak, is WARNING;
        # max_drawdown_by_strategy sets a strategy's own, e.g. {ltmt = 0.05}.
        "max_drawdown": 0.1,
        "max_drawdown_by_strategy": {},
        # The daily summary (P&L per strategy and the account) after this local time on
        # weekdays; "" for none.
        "summary_time": "16:15",
        "summary_tz": "America/New_York",
    },
    "stats": {
        # The manager samples every process this often (CPU, memory, descriptors, threads,
        # event-loop lag) and publishes stats.<process> (`ats-ctl top`, the web's /metrics).
        "interval": 2.0,
        # Alerts on resources (alert.<process>, WARNING): resident memory grown this much past
        # the process's own once it is rss_warmup_seconds old (and again at each further step);
        # event-loop lag above loop_lag_ms for loop_lag_seconds; open file descriptors at
        # fd_ratio of the process's limit.
        "rss_growth_mb": 256.0,
        "rss_warmup_seconds": 60.0,
        "loop_lag_ms": 500.0,
        "loop_lag_seconds": 10.0,
        "fd_ratio": 0.8,
    },
    "risk": {
        # The most the strategies' target weights may sum to (1.0: the account's equity once).
        # `ats-ctl weights` and `ats-ctl add` refuse a change past it unless --force.
        "max_gross_leverage": 1.0,
        "account": {
            "max_order_qty": 10_000,
            "max_order_notional": 1_000_000.0,
            "max_position": 50_000,
            "max_gross_exposure": 5_000_000.0,
            "max_orders_per_minute": 600,
        },
        "default": {
            "max_order_qty": 2_000,
            "max_order_notional": 250_000.0,
            "max_position": 10_000,
            "max_gross_exposure": 1_000_000.0,
            "max_orders_per_minute": 120,
        },
    },
}


#: The weights of a seed strategy that names none.
SEED_WEIGHTS: dict[str, float] = {"target_weight": 0.1, "min_weight": 0.05, "max_weight": 0.15}
#: Rounding slack when target weights are summed against [risk] max_gross_leverage.
WEIGHT_EPSILON = 1e-9


def _masked_url(item: Any) -> Any:
    """An [alerts] urls entry with its URL's secrets starred (URLs may hold credentials)."""
    from ats.alerts.delivery import mask

    if isinstance(item, Mapping):
        return {**item, "url": mask(str(item.get("url", "")))}
    return mask(str(item))


class ConfigError(Exception):
    """The configuration file is missing a required piece or holds a bad value."""


def default_home() -> Path:
    return Path(os.environ.get("ATS_HOME", "var")).resolve()


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """The override's tables merged into the defaults' key by key; a value that is not a
    table where one is expected replaces it whole (and the schema then refuses it)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(out.get(key), dict) and isinstance(value, Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def seed_strategies(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """[manager] seed_strategies as tables, each with its name and its three weights."""
    out = []
    for item in data["manager"]["seed_strategies"]:
        table = {"name": item} if isinstance(item, str) else dict(item)
        out.append({**SEED_WEIGHTS, **table})
    return out


@dataclass(frozen=True)
class Config:
    home: Path
    data: dict[str, Any]

    @property
    def path(self) -> Path:
        return self.home / CONFIG_FILE

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "log"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def programs_dir(self) -> Path:
        """Where the manager writes one supervisord program section per strategy."""
        return self.home / "supervisor.d"

    @property
    def supervisor_socket(self) -> Path:
        return self.run_dir / "supervisor.sock"

    @property
    def arctic_uri(self) -> str:
        uri = str(self.data["storage"]["arctic_uri"])
        if is_s3(uri) and "aws_auth=" not in uri:
            # AWS's own chain: the environment, then an instance role
            uri += ("&" if "?" in uri else "?") + "aws_auth=true"
        return uri or f"lmdb://{self.home / 'arctic'}"

    @property
    def keys_dir(self) -> Path:
        """The bus's CURVE key pairs (0700) and, under allowed/, the public keys let in."""
        return self.state_dir / "keys"

    @property
    def curve(self) -> bool:
        return bool(self.data["bus"]["curve"])

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints.from_mapping(self.data["bus"], self.run_dir)

    @property
    def venue(self) -> dict[str, Any]:
        """The first venue: [venue]."""
        return dict(self.data["venue"])

    @property
    def venues(self) -> list[dict[str, Any]]:
        """[venue], then each [[venues]] table with the keys it leaves out filled in."""
        return venues_of(self.data)

    def venue_named(self, name: str | None) -> dict[str, Any]:
        """The venue called `name` (None or empty: the first)."""
        venues = self.venues
        for venue in venues:
            if not name or venue["name"] == name:
                return venue
        raise ConfigError(f"unknown venue {name!r}: {self.path} names "
                          f"{', '.join(repr(v['name']) for v in venues)}")

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.data.get(name, {}))

    @property
    def web_token_file(self) -> Path:
        """The web console's login token (0600), written by `ats-ctl init`."""
        return self.state_dir / "web-token"

    @property
    def web_audit_file(self) -> Path:
        """Every action taken through the web console, one JSON object a line."""
        return self.log_dir / "web-audit.jsonl"

    @property
    def alerts_log_file(self) -> Path:
        """Every alert ats-alerts raised, one JSON object a line (`ats-ctl alerts`)."""
        return self.log_dir / "alerts.jsonl"

    @property
    def web_url(self) -> str:
        web = self.data["web"]
        scheme = "https" if web["tls_cert"] and web["tls_key"] else "http"
        host = str(web["host"])
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}:{web['port']}/"

    @property
    def max_gross_leverage(self) -> float:
        return float(self.data["risk"]["max_gross_leverage"])

    def seed_strategies(self) -> list[dict[str, Any]]:
        return seed_strategies(self.data)

    def effective(self) -> dict[str, Any]:
        """The merged configuration plus the derived paths, as JSON-safe data; the alert URLs
        masked."""
        out = copy.deepcopy(self.data)
        out["home"] = str(self.home)
        out["paths"] = {
            "config": str(self.path),
            "run": str(self.run_dir),
            "log": str(self.log_dir),
            "state": str(self.state_dir),
            "supervisor_socket": str(self.supervisor_socket),
            "web_token": str(self.web_token_file),
            "web_audit": str(self.web_audit_file),
            "alerts_log": str(self.alerts_log_file),
        }
        out["alerts"]["urls"] = [_masked_url(u) for u in out["alerts"]["urls"]]
        out["web"]["url"] = self.web_url
        out["storage"]["arctic_uri"] = self.arctic_uri
        out["bus"]["endpoints"] = self.endpoints.to_mapping()
        return out


def _weight_problems(data: Mapping[str, Any]) -> list[str]:
    """What the schema cannot say: each seed's min <= target <= max, and the seeds' target
    weights within [risk] max_gross_leverage."""
    problems = []
    seeds = seed_strategies(data)
    for i, seed in enumerate(seeds):
        lo, target, hi = (seed[k] for k in ("min_weight", "target_weight", "max_weight"))
        if not lo <= target <= hi:
            problems.append(f"[manager] seed_strategies[{i}] ({seed['name']}) weights must "
                            f"satisfy min <= target <= max, got {lo}/{target}/{hi}")
    total = sum(float(seed["target_weight"]) for seed in seeds)
    leverage = float(data["risk"]["max_gross_leverage"])
    if total > leverage + WEIGHT_EPSILON:
        problems.append(f"[manager] seed_strategies target weights sum to {total:.4g}, more "
                        f"than [risk] max_gross_leverage {leverage:g}")
    return problems


def venues_of(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """[venue], then each [[venues]] table with the keys it leaves out filled in."""
    return [dict(data["venue"]), *(venue_entry(data, i) for i in range(len(data["venues"])))]


def venue_entry(data: Mapping[str, Any], index: int) -> dict[str, Any]:
    """[[venues]] table `index` with its defaults: connection keys as [venue]'s defaults, a sim
    venue's seed (the market: the same as the first venue's), account and cash from [sim] and
    its place."""
    sim = data["sim"]
    place = index + 1
    return {**DEFAULTS["venue"], "seed": int(sim["seed"]),
            "accounts": f"DU{place + 1:07d}", "cash": float(sim["cash"]), "admin_port": 0,
            **data["venues"][index]}


def _venue_problems(data: Mapping[str, Any]) -> list[str]:
    """Venue names are distinct, and no two venues (nor their simulators) share a port."""
    problems = []
    venues = venues_of(data)
    names = [str(v["name"]) for v in venues]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"[[venues]] name {name!r} is used by more than one venue")
    for i, seed in enumerate(seed_strategies(data)):
        if seed.get("venue") and seed["venue"] not in names:
            problems.append(f"[manager] seed_strategies[{i}] ({seed['name']}) venue "
                            f"{seed['venue']!r} is neither [venue]'s name nor a [[venues]] one")
    ports: dict[tuple[str, int], str] = {}
    sim_admin = int(data["sim"]["admin_port"])
    for i, v in enumerate(venues):
        used = [("port", int(v["port"]))]
        if v["kind"] == "sim":
            admin = sim_admin if i == 0 else int(v["admin_port"])
            if i and not admin:
                problems.append(f"[[venues]] {v['name']!r} is a sim venue: set its admin_port")
                continue
            used.append(("admin_port", admin))
        for key, port in used:
            where = f"{v['name']!r} {key} {port}"
            other = ports.get((str(v["host"]), port))
            if other is not None:
                problems.append(f"[[venues]] {where} is also {other}")
            ports[(str(v["host"]), port)] = where
    return problems


def _web_problems(data: Mapping[str, Any]) -> list[str]:
    """The console is served beyond loopback only over TLS: both files named, both present."""
    web = data["web"]
    cert, key = str(web["tls_cert"]), str(web["tls_key"])
    problems = []
    if bool(cert) != bool(key):
        problems.append("[web] tls_cert and tls_key must be set together")
    for name, path in (("tls_cert", cert), ("tls_key", key)):
        if path and not Path(path).is_file():
            problems.append(f"[web] {name} {path!r} is not a file")
    if not is_loopback(str(web["host"])) and not (cert and key):
        problems.append(f"[web] host {web['host']!r} is not a loopback address: the console "
                        "is served beyond this machine only over TLS; set [web] tls_cert and "
                        "tls_key (PEM files), or keep host = \"127.0.0.1\"")
    return problems


def _bus_problems(data: Mapping[str, Any]) -> list[str]:
    """Plain TCP never leaves this machine: a bus host beyond loopback needs CURVE."""
    bus = data["bus"]
    if bus["transport"] == "tcp" and not is_loopback(str(bus["host"])) and not bus["curve"]:
        return [f"[bus] host {bus['host']!r} is not a loopback address: plain TCP beyond this "
                "machine is refused; set [bus] curve = true (keys: `ats-ctl keys generate`), "
                "or keep host = \"127.0.0.1\""]
    return []


def is_s3(uri: str) -> bool:
    return uri.startswith(("s3://", "s3s://"))


#: query keys of an ArcticDB S3 URI that carry credentials
S3_SECRET_KEYS = frozenset({"access", "secret"})


def _storage_problems(data: Mapping[str, Any]) -> list[str]:
    """S3 credentials never sit in ats.toml: they come from the environment or a role."""
    uri = str(data["storage"]["arctic_uri"])
    if not is_s3(uri):
        return []
    address, _, query = uri.partition("?")
    keys = {part.partition("=")[0] for part in query.split("&") if part}
    if keys & S3_SECRET_KEYS or "@" in address:
        return ["[storage] arctic_uri holds S3 credentials: ats.toml never does; set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment of `ats-ctl up` "
                "(or give the machine an instance role) and remove them from the URI"]
    return []


def _validate(data: Mapping[str, Any], *, schema: bool = True) -> list[str]:
    """Every problem of the merged configuration, one sentence each; empty when valid.
    ``schema`` False: the schema's part is known to pass (see ats.configcheck)."""
    if schema:
        from ats import config_schema  # jsonschema: only where the file is not known to pass

        problems = config_schema.check(data, DEFAULTS)
        if problems:
            return problems
    return (_weight_problems(data) or _web_problems(data)
            or _bus_problems(data) + _storage_problems(data) + _venue_problems(data))


def load(home: Path | None = None) -> Config:
    home = (home or default_home()).resolve()
    path = home / CONFIG_FILE
    text = path.read_text() if path.exists() else ""
    try:
        override = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    data = _merge(DEFAULTS, override)
    run_dir = home / "run"
    checked = configcheck.already_checked(run_dir, text)
    problems = _validate(data, schema=not checked)
    if problems:
        raise ConfigError(f"{path}: {'; '.join(problems)}")
    if not checked:
        configcheck.record(run_dir, text)
    return Config(home=home, data=data)


def init_home(home: Path, overrides: Mapping[str, Any] | None = None) -> Config:
    """Create ATS_HOME with its folders and a config file holding every default."""
    home = home.resolve()
    path = home / CONFIG_FILE
    data = _merge(DEFAULTS, overrides or {})
    problems = [] if path.exists() else _validate(data)
    if problems:  # never create a home that every command would then refuse
        raise ConfigError(f"{path}: {'; '.join(problems)}")
    for sub in ("", "log", "state", "supervisor.d"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    (home / "run").mkdir(mode=0o700, exist_ok=True)
    os.chmod(home / "run", 0o700)
    if not path.exists():
        # No `venues = []`: the [[venues]] tables a user appends would then be a TOML error.
        written = {k: v for k, v in data.items() if v or k != "venues"}
        path.write_text(
            "# ats configuration. Every key is optional; see ats/config.py for the defaults.\n"
            + tomli_w.dumps(written)
        )
    return load(home)
