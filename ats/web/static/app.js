// ats web console: one script for every page. The page is drawn from the live event stream
// (GET /events: Clone snapshots then updates, status every 2 s, bus events) and the JSON API.
// Changes are POSTs with the session cookie and the X-CSRF-Token header; each asks first.
"use strict";

const DONE_ORDERS = new Set(["Filled", "Cancelled", "ApiCancelled", "Inactive", "Rejected"]);
const UP_STATES = new Set(["RUNNING", "ERRORING", "STARTING", "UNRESPONSIVE", "BACKOFF"]);
const BAD_STATES = new Set(["FATAL", "EXITED", "CRASH_LOOP", "UNKNOWN", "UNRESPONSIVE", "LOST"]);
const WARN_STATES = new Set(["ERRORING", "STARTING", "BACKOFF", "STOPPING", "WAITING_HOST"]);
const LIMIT_KEYS = ["max_order_qty", "max_order_notional", "max_position", "max_gross_exposure",
                    "max_orders_per_minute"];

// -- state -------------------------------------------------------------------------------
const S = {
  states: {strategies: {}, positions: {}, pnl: {}, orders: {}, account: {}},
  status: {time: 0, rows: []}, statusAt: 0,
  reconcile: null, events: [], errors: {},
  session: {logged_in: false, csrf: null, who: null},
  fills: [],          // recent fills (API first, then live), newest first
  equity: null,       // equity samples of the open strategy page
  bench: null,        // its benchmark, as P&L of its capital base (GET .../benchmark)
  todayBase: {},      // strategy -> equity at the start of today (UTC)
};
window.atsSeen = {};     // strategy -> every state shown, in order (for tests and debugging)
window.atsRendered = []; // [bench id, epoch ms] when a bench alert reached the DOM

// -- small helpers ------------------------------------------------------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  // A control drawn before the session is known (or without one) waits for loadSession.
  if (attrs && attrs["data-needs-login"] && !S.session.logged_in) {
    el.disabled = true;
    el.title = "log in to change anything";
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const $ = (sel) => document.querySelector(sel);
function fill(el, ...children) { if (el) el.replaceChildren(...children.flat()); }
function num(x, digits = 2) {
  if (x === null || x === undefined || x === "" || Number.isNaN(Number(x))) return "–";
  return Number(x).toLocaleString("en-US", {minimumFractionDigits: digits,
                                            maximumFractionDigits: digits});
}
function signed(x) {
  // Shown to the cent: what rounds to zero is zero, neither red nor "-0.00".
  const v = x === null || x === undefined || x === "" ? x
    : Math.abs(Number(x)) < 0.005 ? 0 : Number(x);
  return h("span", {class: v > 0 ? "pos" : v < 0 ? "neg" : ""}, num(v));
}
function duration(sec) {
  if (!sec || sec <= 0) return "–";
  sec = Math.floor(sec);
  const hh = Math.floor(sec / 3600), mm = Math.floor(sec % 3600 / 60), ss = sec % 60;
  return `${hh}:${String(mm).padStart(2, "0")}:${String(ss).padStart(2, "0")}`;
}
function serverNow() {  // the server's clock, from the last status it sent
  if (!S.statusAt) return Date.now() / 1000;
  return S.status.time + (Date.now() - S.statusAt) / 1000;
}
function age(ts) { return ts ? `${Math.max(0, serverNow() - ts).toFixed(1)}s` : "–"; }
function badge(state) {
  const cls = state === "RUNNING" || state === "ACTIVE" ? "ok" : BAD_STATES.has(state) ||
    state === "HALTED" ? "bad" : WARN_STATES.has(state) || state === "REDUCING" ? "warn" : "";
  return h("span", {class: `badge ${cls}`}, state || "–");
}
function toast(text, isError) {
  const t = $("#toast");
  t.textContent = text;
  t.className = isError ? "toast error" : "toast";
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}
function table(columns, rows, opts = {}) {
  // columns: [header, (row) => cell, {num, wrap, class}]
  const head = h("tr", {}, columns.map(([title, , o]) =>
    h("th", {class: o && o.num ? "num" : ""}, title)));
  const body = rows.length ? rows.map((r) => h("tr", opts.rowAttrs ? opts.rowAttrs(r) : {},
    columns.map(([, cell, o]) => {
      const cls = [o && o.num ? "num" : "", o && o.wrap ? "wrap" : "", o && o.class || ""]
        .join(" ").trim();
      return h("td", {class: cls || null}, cell(r));
    }))) : [h("tr", {}, h("td", {colspan: columns.length, class: "muted"},
                                 opts.empty || "(none)"))];
  return h("table", {id: opts.id || null}, h("thead", {}, head), h("tbody", {}, body));
}

// -- the JSON API -------------------------------------------------------------------------
async function api(path, opts = {}) {
  const init = {method: opts.method || "GET", headers: {}, credentials: "same-origin"};
  if (opts.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  if (init.method !== "GET" && S.session.csrf) init.headers["X-CSRF-Token"] = S.session.csrf;
  const r = await fetch(path, init);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (!r.ok) {
    const err = new Error(data && data.error ? data.error.message : `HTTP ${r.status}`);
    err.status = r.status;
    err.code = data && data.error ? data.error.code : null;
    throw err;
  }
  return data;
}
async function loadSession() {
  try { S.session = await api("/api/session"); } catch (e) { /* read-only */ }
  $("#who").textContent = S.session.logged_in ? S.session.who : "read-only";
  $("#login-link").hidden = S.session.logged_in;
  $("#logout").hidden = !S.session.logged_in;
  document.body.classList.toggle("logged-in", S.session.logged_in);
  for (const b of document.querySelectorAll("[data-needs-login]")) {
    b.disabled = !S.session.logged_in;
    b.title = S.session.logged_in ? "" : "log in to change anything";
  }
}
// A change: ask, POST, say how it ended. Returns the result, or null.
async function change(question, path, body, done) {
  if (question && !window.confirm(question)) return null;
  try {
    const data = await api(path, {method: "POST", body: body === undefined ? {} : body});
    toast(done || "done");
    return data;
  } catch (e) {
    toast(`${e.code ? e.code + ": " : ""}${e.message}`, true);
    if (e.status === 401) loadSession();
    throw e;
  }
}

// -- the live stream ----------------------------------------------------------------------
let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; page.render(); afterRender(); });
}
let pendingBench = [];
function afterRender() {
  if (!pendingBench.length) return;
  const t = performance.timeOrigin + performance.now();
  for (const id of pendingBench) window.atsRendered.push([id, t]);
  pendingBench = [];
}
function noteStates() {
  for (const [name, st] of Object.entries(S.states.strategies)) {
    const seen = window.atsSeen[name] || (window.atsSeen[name] = []);
    if (seen[seen.length - 1] !== st.state) seen.push(st.state);
  }
}
function connect() {
  const es = new EventSource("/events");
  // Closed when the page goes: a page kept in the back-forward cache would hold its stream,
  // and the browser's few connections per server, open.
  window.addEventListener("pagehide", () => es.close());
  const conn = $("#conn");
  es.onopen = () => { conn.textContent = "live"; conn.className = "conn live"; };
  es.onerror = () => { conn.textContent = "reconnecting"; conn.className = "conn down"; };
  const on = (kind, fn) => es.addEventListener(kind, (ev) => {
    fn(JSON.parse(ev.data));
    scheduleRender();
  });
  on("hello", (d) => { S.errors = d.errors || {}; S.events = []; });
  on("snapshot", (d) => { S.states[d.state] = d.data; if (d.state === "strategies") noteStates(); });
  on("set", (d) => {
    (S.states[d.state] = S.states[d.state] || {})[d.key] = d.value;
    if (d.state === "strategies") noteStates();
  });
  on("del", (d) => { if (S.states[d.state]) delete S.states[d.state][d.key]; });
  on("status", (d) => { S.status = d; S.statusAt = Date.now(); });
  on("reconcile", (d) => { S.reconcile = d; });
  on("errors", (d) => { S.errors = d; });
  on("event", (d) => {
    S.events.unshift(d);
    if (S.events.length > 300) S.events.length = 300;
    if (d.family === "fill" && d.type === "fill") {
      if (!S.fills.some((f) => f.exec_id === d.body.exec_id)) S.fills.unshift(d.body);
    }
    if (d.body && d.body.bench_id !== undefined) pendingBench.push(d.body.bench_id);
  });
  return es;
}

// -- shared views -------------------------------------------------------------------------
function statusRows(kind) { return S.status.rows.filter((r) => (r.kind || "strategy") === kind); }
function strategyRows() {
  // The Clone state is pushed on every change; the status poll adds uptime and heartbeats.
  const polled = Object.fromEntries(statusRows("strategy").map((r) => [r.name, r]));
  const names = new Set([...Object.keys(S.states.strategies), ...Object.keys(polled)]);
  return [...names].sort().map((name) => {
    const p = polled[name] || {}, c = S.states.strategies[name] || {};
    return {...p, ...c, uptime: p.uptime, last_heartbeat: p.last_heartbeat,
            samePid: p.pid === c.pid};
  });
}
function positionsOf(name) {
  return Object.values(S.states.positions).filter((p) => (!name || p.strategy === name) &&
                                                        Number(p.position));
}
function totalPnl(row) {
  return row ? Number(row.realized_pnl_net || 0) + Number(row.unrealized_pnl || 0) : null;
}
function uptimeOf(r) {
  if (!UP_STATES.has(r.state) || !r.samePid) return UP_STATES.has(r.state) ? r.uptime : 0;
  return (r.uptime || 0) + (Date.now() - S.statusAt) / 1000;
}
function renderErrors() {
  const box = $("#errors");
  const msgs = Object.values(S.errors || {});
  box.hidden = !msgs.length;
  box.textContent = msgs.length ? `unavailable: ${msgs.join("; ")}` : "";
}
function ordersTable(rows, id) {
  return table([
    ["strategy", (o) => o.strategy], ["order ref", (o) => o.order_ref],
    ["symbol", (o) => o.symbol], ["side", (o) => o.side],
    ["qty", (o) => num(o.quantity, 0), {num: true}], ["type", (o) => o.order_type],
    ["status", (o) => o.status], ["filled", (o) => num(o.filled, 0), {num: true}],
    ["perm id", (o) => o.perm_id || "–", {num: true}],
    ["client id", (o) => o.client_id ?? "–", {num: true}],
  ], rows, {id, empty: "(no orders)"});
}
function fillsTable(rows, id) {
  return table([
    ["time", (f) => String(f.time || "").replace("T", " ").slice(0, 19)],
    ["strategy", (f) => f.strategy], ["symbol", (f) => f.symbol], ["side", (f) => f.side],
    ["shares", (f) => num(f.shares, 0), {num: true}], ["price", (f) => num(f.price), {num: true}],
    ["commission", (f) => num(f.commission), {num: true}], ["exec id", (f) => f.exec_id],
    ["order ref", (f) => f.order_ref || "–"],
  ], rows, {id, empty: "(no fills)"});
}
function positionsTable(rows, id) {
  return table([
    ["strategy", (p) => p.strategy], ["symbol", (p) => p.symbol],
    ["position", (p) => num(p.position, 0), {num: true}],
    ["avg cost", (p) => num(p.avg_cost), {num: true}], ["mark", (p) => num(p.mark), {num: true}],
    ["market value", (p) => num(p.market_value), {num: true}],
    ["unrealized", (p) => signed(p.unrealized_pnl), {num: true}],
    ["realized", (p) => signed(p.realized_pnl), {num: true}],
  ], rows, {id, empty: "(flat)"});
}
async function loadFills(strategy) {
  const q = strategy ? `?strategy=${encodeURIComponent(strategy)}&limit=100` : "?limit=500";
  try {
    const rows = await api(`/api/fills${q}`);
    const known = new Set(S.fills.map((f) => f.exec_id));
    S.fills = [...S.fills, ...rows.reverse().filter((f) => !known.has(f.exec_id))];
    S.fills.sort((a, b) => String(b.time).localeCompare(String(a.time)));
    scheduleRender();
  } catch (e) { /* the broker may be down: live fills only */ }
}
async function loadTodayBase() {
  // P&L today = equity now - equity at the last sample before 00:00 UTC.
  try {
    const samples = await api("/api/equity?points=2000");
    const start = new Date(); start.setUTCHours(0, 0, 0, 0);
    // A strategy with no sample before today had no P&L before today: its base is 0.
    const base = {};
    for (const s of samples) {
      if (Date.parse(s.ts) < start.getTime()) base[s.strategy] = Number(s.equity);
      else if (!(s.strategy in base)) base[s.strategy] = 0;
    }
    S.todayBase = base;
    scheduleRender();
  } catch (e) { S.todayBase = {}; }
}

// -- pages ----------------------------------------------------------------------------------
const overview = {
  init() {
    fill($("#main"),
      h("h1", {}, "Overview"),
      h("div", {class: "card"}, h("div", {id: "strategies-box"})),
      h("div", {class: "grid"},
        h("div", {}, h("h2", {}, "Infrastructure"), h("div", {class: "card", id: "procs-box"})),
        h("div", {}, h("h2", {}, "Account vs books"), h("div", {class: "card", id: "acct-box"}))),
      h("h2", {}, "Alerts and warnings"), h("div", {class: "card", id: "alerts-box"}));
    loadTodayBase();
    this.timer = setInterval(loadTodayBase, 60000);
  },
  render() {
    const rows = strategyRows();
    // several venues ([[venues]]): say which Gateway or account each strategy trades on
    const venues = new Set(rows.map((r) => r.venue_name)).size > 1;
    fill($("#strategies-box"), table([
      ["strategy", (r) => h("a", {href: `/strategy/${r.name}`}, r.name)],
      ["state", (r) => badge(r.state), {class: "state"}],
      ["trading", (r) => r.trading_state ? badge(r.trading_state) : "–", {class: "trading"}],
      ["pid", (r) => r.pid || "–", {num: true, class: "pid"}],
      ["client id", (r) => r.client_id, {num: true}],
      ["host", (r) => r.host || "–", {class: "host"}],
      venues && ["venue", (r) => r.venue_name, {class: "venue"}],
      ["uptime", (r) => duration(uptimeOf(r)), {num: true}],
      ["heartbeat", (r) => UP_STATES.has(r.state) ? age(r.last_heartbeat) : "–", {num: true}],
      ["positions", (r) => positionsOf(r.name).length, {num: true}],
      ["P&L today", (r) => {
        const p = S.states.pnl[r.name];
        return p && r.name in S.todayBase ? signed(Number(p.equity) - S.todayBase[r.name]) : "–";
      }, {num: true}],
      ["P&L total", (r) => { const p = S.states.pnl[r.name]; return p ? signed(totalPnl(p)) : "–"; },
       {num: true, class: "pnl"}],
      ["errors 5m", (r) => r.errors_5m || 0, {num: true}],
      ["last error", (r) => r.last_error || "–", {wrap: true}],
    ].filter(Boolean), rows, {id: "strategies", empty: "(no strategies registered)",
              rowAttrs: (r) => ({"data-name": r.name, "data-state": r.state})}));
    fill($("#procs-box"), table([
      ["process", (r) => r.name], ["state", (r) => badge(r.state), {class: "state"}],
      ["pid", (r) => r.pid || "–", {num: true}],
      ["uptime", (r) => duration(r.state === "RUNNING" ? r.uptime + (Date.now() - S.statusAt) / 1000 : 0),
       {num: true}],
      ["heartbeat", (r) => age(r.last_heartbeat), {num: true}],
      ["venue / disk", (r) => [r.venue, r.venue_code ? `(last ${r.venue_code})` : null, r.disk]
        .filter(Boolean).join(" ") || "–", {wrap: true}],
    ], statusRows("process"), {id: "processes", empty: "(waiting for the manager)",
                               rowAttrs: (r) => ({"data-name": r.name, "data-state": r.state})}));
    this.renderAccount();
    const alerts = S.events.filter((e) => e.family === "alert" || e.family === "log" ||
                                          e.family === "reconcile").slice(0, 15);
    fill($("#alerts-box"), table([
      ["time", (e) => new Date(e.ts * 1000).toLocaleTimeString()],
      ["from", (e) => `${e.family}.${e.name}`],
      ["level", (e) => e.body.level || e.type],
      ["message", (e) => e.body.message || e.body.msg || JSON.stringify(e.body), {wrap: true}],
    ], alerts, {id: "alerts", empty: "(none since this page opened)"}));
  },
  renderAccount() {
    // each venue's value of a tag once (USD or BASE), summed over the venues
    // (as ats/broker/account.py's account_totals)
    const perVenue = {};
    for (const v of Object.values(S.states.account)) {
      if (v.currency === "USD" || v.currency === "BASE") {
        perVenue[`${v.venue || ""}|${v.tag}`] = [v.tag, Number(v.value)];
      }
    }
    const acct = {};
    for (const [tag, value] of Object.values(perVenue)) acct[tag] = (acct[tag] || 0) + value;
    const books = Object.values(S.states.pnl);
    const sum = (k) => books.reduce((a, r) => a + Number(r[k] || 0), 0);
    const booksTotal = sum("realized_pnl_net") + sum("unrealized_pnl");
    const venueTotal = "RealizedPnL" in acct && "UnrealizedPnL" in acct ?
      acct.RealizedPnL + acct.UnrealizedPnL : null;
    const rec = S.reconcile;
    const light = !rec ? ["", "not checked yet"] : rec.breaks.length ?
      ["bad", `${rec.breaks.length} break(s): ${rec.breaks.map((b) => `conId ${b.con_id} ` +
        `ledger ${b.ledger} vs account ${b.account}`).join("; ")}`] :
      ["ok", `reconciled: ${rec.checked} contracts, no breaks`];
    fill($("#acct-box"),
      h("p", {id: "reconcile"}, h("span", {class: `light ${light[0]}`, "data-light": light[0] || "none"}),
        light[1]),
      h("dl", {class: "kv"},
        h("dt", {}, "net liquidation"), h("dd", {}, num(acct.NetLiquidation)),
        h("dt", {}, "cash"), h("dd", {}, num(acct.TotalCashValue)),
        h("dt", {}, "gross position value"), h("dd", {}, num(acct.GrossPositionValue)),
        h("dt", {}, "account P&L (venue)"), h("dd", {}, venueTotal === null ? "–" : signed(venueTotal)),
        h("dt", {}, "sum of the books' P&L"), h("dd", {}, signed(booksTotal)),
        h("dt", {}, "difference"), h("dd", {}, venueTotal === null ? "–" : signed(booksTotal - venueTotal)),
        h("dt", {}, "positions (all books)"), h("dd", {}, positionsOf(null).length)));
  },
};

const strategyPage = {
  init() {
    this.name = decodeURIComponent(location.pathname.split("/")[2] || "");
    const btn = (id, label, fn, danger) => h("button", {type: "button", class: `act${danger ? " danger" : ""}`,
      id, "data-needs-login": true, onclick: fn}, label);
    const n = this.name, path = (v) => `/api/strategies/${encodeURIComponent(n)}/${v}`;
    fill($("#main"),
      h("h1", {}, `Strategy ${n} `, h("span", {id: "st-state"})),
      h("p", {class: "muted", id: "st-desc"}),
      h("div", {class: "buttons"},
        btn("btn-start", "Start", () => change(`Start ${n}?`, path("start"), {}, `${n} started`)),
        btn("btn-stop", "Stop", () => change(`Stop ${n}? It stays stopped until started.`, path("stop"), {},
                                             `${n} stopped`), true),
        btn("btn-restart", "Restart", () => change(`Restart ${n}?`, path("restart"), {}, `${n} restarted`)),
        btn("btn-halt", "Halt", () => change(`Halt ${n}'s trading? Its open orders are cancelled.`,
                                             path("halt"), {flatten: false}, `${n} halted`), true),
        btn("btn-halt-flatten", "Halt + flatten", () => change(
          `Halt ${n} AND close its positions with market orders?`, path("halt"), {flatten: true},
          `${n} halted, flattening`), true),
        btn("btn-resume", "Resume", () => change(`Resume ${n}'s trading?`, path("resume"), {},
                                                 `${n} resumed`))),
      h("div", {class: "grid"},
        h("div", {}, h("h2", {}, "State"), h("div", {class: "card", id: "st-kv"})),
        h("div", {}, h("h2", {}, "Equity and drawdown"),
          h("div", {class: "card"}, h("div", {id: "equity-box"}),
            h("p", {class: "muted"}, "Equity is the strategy's P&L (it starts with no cash of its " +
              "own); the shaded area is the drawdown from its running peak."),
            h("p", {class: "muted", id: "bench-note"})))),
      h("div", {class: "grid"},
        h("div", {}, h("h2", {}, "Parameters"), h("div", {class: "card", id: "params-box"}, "loading…")),
        h("div", {}, h("h2", {}, "Weights"), h("div", {class: "card", id: "weights-box"}))),
      h("h2", {}, "Positions"), h("div", {class: "card", id: "pos-box"}),
      h("h2", {}, "Open orders"), h("div", {class: "card", id: "orders-box"}),
      h("h2", {}, "Recent fills"), h("div", {class: "card", id: "fills-box"}),
      h("h2", {}, "Log"), h("div", {class: "card"}, h("pre", {class: "log", id: "log"}, "")));
    this.describe();
    loadFills(n);
    this.loadEquity();
    this.loadLog();
    this.timers = [setInterval(() => this.loadEquity(), 10000), setInterval(() => this.loadLog(), 3000)];
  },
  async describe() {
    try {
      this.info = await api(`/api/strategies/${encodeURIComponent(this.name)}`);
    } catch (e) {
      fill($("#params-box"), h("p", {class: "message error"}, e.message));
      return;
    }
    $("#st-desc").textContent = `${this.info.description || ""} (${this.info.spec})`;
    this.paramsForm();
    this.weightsForm();
    loadSession();
  },
  paramsForm() {
    const rows = this.info.params || [];
    const field = (p) => {
      const id = `param-${p.name}`, value = p.value === null || p.value === undefined ? "" :
        Array.isArray(p.value) ? p.value.join(",") : String(p.value);
      let input;
      if (p.type === "bool" || (p.choices && p.choices.length)) {
        const opts = p.type === "bool" ? ["true", "false"] : p.choices.map(String);
        input = h("select", {id, name: p.name, "data-initial": value},
          opts.map((o) => h("option", {value: o, selected: o === value}, o)));
      } else {
        input = h("input", {id, name: p.name, type: "text", value, "data-initial": value,
                            inputmode: p.type === "int" || p.type === "float" ? "decimal" : null});
      }
      input.addEventListener("input", () => input.classList.toggle("changed",
        input.value !== input.dataset.initial));
      const bounds = [p.min !== null && p.min !== undefined ? `min ${p.min}` : null,
                      p.max !== null && p.max !== undefined ? `max ${p.max}` : null]
        .filter(Boolean).join(", ");
      return h("div", {class: "field"}, h("label", {for: id}, p.name, " ",
        h("span", {class: "muted"}, `(${p.type || "?"}${bounds ? "; " + bounds : ""})`)), input,
        h("div", {class: "hint"}, `${p.doc || ""} — default ${JSON.stringify(p.default)}`));
    };
    const msg = h("div", {id: "params-message"});
    const form = h("form", {class: "params", id: "params-form"}, rows.map(field),
      h("button", {type: "submit", class: "act", id: "params-apply", "data-needs-login": true},
        "Apply changes"), msg);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const changes = {};
      for (const el of form.querySelectorAll("input, select")) {
        if (el.value !== el.dataset.initial) changes[el.name] = el.value;
      }
      if (!Object.keys(changes).length) { fill(msg, h("p", {class: "message"}, "nothing changed")); return; }
      const text = Object.entries(changes).map(([k, v]) => `${k}=${v}`).join(" ");
      try {
        const r = await change(`Set ${this.name} ${text}?`, `/api/strategies/${encodeURIComponent(this.name)}/params`,
                               {changes});
        if (!r) return;
        fill(msg, h("p", {class: "message ok"}, `${text} (` + (r.result.ack ?
          "acknowledged by the running strategy" : "stored; applied at next start") + ")"));
        this.describe();
      } catch (e) {
        fill(msg, h("p", {class: "message error", id: "params-error"}, e.message));
      }
    });
    fill($("#params-box"), rows.length ? form : h("p", {class: "muted"}, "no parameters"));
  },
  weightsForm() {
    const i = this.info, msg = h("div", {id: "weights-message"});
    const inp = (k) => h("input", {type: "text", id: `w-${k}`, name: k, value: String(i[k]), size: 6});
    const force = h("input", {type: "checkbox", id: "w-force"});
    const form = h("form", {id: "weights-form"},
      h("p", {}, "min ", inp("min_weight"), " target ", inp("target_weight"), " max ", inp("max_weight"),
        " of the account"),
      h("p", {}, h("label", {}, force, " force past [risk] max_gross_leverage (with a warning)")),
      h("button", {type: "submit", class: "act", "data-needs-login": true}, "Set weights"), msg);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {force: force.checked};
      for (const k of ["min_weight", "target_weight", "max_weight"]) body[k] = Number(form.elements[k].value);
      try {
        const r = await change(`Set ${this.name}'s weights to ${body.min_weight}/${body.target_weight}/` +
          `${body.max_weight}?`, `/api/strategies/${encodeURIComponent(this.name)}/weights`, body);
        if (r) fill(msg, h("p", {class: "message ok"}, r.result.warning ? `warning: ${r.result.warning}` : "set"));
      } catch (e) { fill(msg, h("p", {class: "message error"}, e.message)); }
    });
    fill($("#weights-box"), form);
  },
  async loadEquity() {
    try {
      S.equity = await api(`/api/equity?strategy=${encodeURIComponent(this.name)}&points=500`);
      const ts = S.equity.map((x) => x.ts).sort();
      if (ts.length) {
        const q = `start=${encodeURIComponent(ts[0])}&end=${encodeURIComponent(ts[ts.length - 1])}`;
        S.bench = await api(`/api/strategies/${encodeURIComponent(this.name)}/benchmark?${q}`);
      }
      scheduleRender();
    } catch (e) { /* broker down: keep the last curve */ }
  },
  async loadLog() {
    try {
      const r = await api(`/api/strategies/${encodeURIComponent(this.name)}/log?lines=200`);
      const pre = $("#log");
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent = r.lines.join("\n");
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    } catch (e) { /* no log yet */ }
  },
  render() {
    const n = this.name;
    const r = strategyRows().find((x) => x.name === n) || {name: n};
    fill($("#st-state"), badge(r.state));
    $("#st-state").setAttribute("data-state", r.state || "");
    const p = S.states.pnl[n];
    fill($("#st-kv"), h("dl", {class: "kv"},
      h("dt", {}, "state"), h("dd", {class: "state"}, r.state || "–"),
      h("dt", {}, "trading state"), h("dd", {}, r.trading_state || "–"),
      h("dt", {}, "pid / client id"), h("dd", {}, `${r.pid || "–"} / ${r.client_id ?? "–"}`),
      h("dt", {}, "uptime"), h("dd", {}, duration(uptimeOf(r))),
      h("dt", {}, "heartbeat"), h("dd", {}, age(r.last_heartbeat)),
      h("dt", {}, "desired"), h("dd", {}, r.desired || "–"),
      h("dt", {}, "P&L (realized net + unrealized)"), h("dd", {}, p ? signed(totalPnl(p)) : "–"),
      h("dt", {}, "errors (5 min)"), h("dd", {}, r.errors_5m || 0),
      h("dt", {}, "last error"), h("dd", {}, r.last_error || "–")));
    fill($("#pos-box"), positionsTable(positionsOf(n), "positions"));
    fill($("#orders-box"), ordersTable(Object.values(S.states.orders)
      .filter((o) => o.strategy === n && !DONE_ORDERS.has(o.status)), "orders"));
    fill($("#fills-box"), fillsTable(S.fills.filter((f) => f.strategy === n).slice(0, 50), "fills"));
    if (this.drawnEquity !== S.equity || this.drawnBench !== S.bench) {
      this.drawnEquity = S.equity;
      this.drawnBench = S.bench;
      fill($("#equity-box"), equityChart(S.equity || [], S.bench));
      const b = S.bench;
      fill($("#bench-note"), !b ? "" : b.points.length
        ? `Dashed: ${b.symbol} held with its capital base (${num(b.capital_base, 0)}) from the first sample.`
        : `Benchmark ${b.symbol}: ${b.note}.`);
    }
  },
};

function equityChart(samples, bench) {
  const NS = "http://www.w3.org/2000/svg";
  const s = (tag, attrs) => {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    return el;
  };
  const pts = samples.map((x) => [Date.parse(x.ts), Number(x.equity)])
    .filter(([t, v]) => Number.isFinite(t) && Number.isFinite(v)).sort((a, b) => a[0] - b[0]);
  const svg = s("svg", {class: "chart", id: "equity-chart", viewBox: "0 0 600 220",
                        preserveAspectRatio: "none", "data-points": String(pts.length)});
  if (!pts.length) {
    const t = s("text", {x: 10, y: 110}); t.textContent = "no equity samples yet";
    svg.append(t);
    return svg;
  }
  let peak = -Infinity;
  const dd = pts.map(([t, v]) => { peak = Math.max(peak, v); return [t, v - peak]; });
  const t0 = pts[0][0], t1 = Math.max(pts[pts.length - 1][0], t0 + 1);
  const bpts = (bench && bench.points || []).map((x) => [Date.parse(x.ts), Number(x.pnl)])
    .filter(([t, v]) => Number.isFinite(t) && Number.isFinite(v) && t >= pts[0][0]);
  const vals = [...pts, ...bpts].map((p) => p[1]);
  const lo = Math.min(...vals, 0), hi = Math.max(...vals, 0);
  const ddLo = Math.min(...dd.map((d) => d[1]), -1e-9);
  const X = (t) => 40 + (t - t0) / (t1 - t0) * 550;
  const Y = (v) => 10 + (hi - v) / Math.max(hi - lo, 1e-9) * 140;   // top 150 px: equity
  const D = (v) => 165 + v / ddLo * 45;                              // bottom: drawdown
  svg.append(s("line", {class: "axis", x1: 40, x2: 590, y1: Y(0), y2: Y(0)}));
  svg.append(s("polyline", {class: "eq", points: pts.map(([t, v]) => `${X(t)},${Y(v)}`).join(" ")}));
  if (bpts.length) {
    svg.setAttribute("data-bench-points", String(bpts.length));
    svg.append(s("polyline", {class: "bench", points: bpts.filter(([t]) => t <= t1)
      .map(([t, v]) => `${X(t)},${Y(v)}`).join(" ")}));
  }
  svg.append(s("polygon", {class: "dd", points: `${X(t0)},165 ` +
    dd.map(([t, v]) => `${X(t)},${D(v)}`).join(" ") + ` ${X(pts[pts.length - 1][0])},165`}));
  const label = (x, y, text) => { const t = s("text", {x, y}); t.textContent = text; svg.append(t); };
  label(2, 14, num(hi, 0)); label(2, 150, num(lo, 0)); label(2, 210, `dd ${num(ddLo, 0)}`);
  label(X(t0), 218, new Date(t0).toLocaleTimeString());
  label(520, 218, new Date(t1).toLocaleTimeString());
  return svg;
}

const ordersPage = {
  init() {
    const strategySel = h("select", {id: "f-strategy"}, h("option", {value: ""}, "all strategies"));
    const symbol = h("input", {id: "f-symbol", type: "text", placeholder: "symbol"});
    const finished = h("input", {id: "f-finished", type: "checkbox"});
    for (const el of [strategySel, symbol, finished]) el.addEventListener("input", scheduleRender);
    this.filters = {strategySel, symbol, finished};
    fill($("#main"), h("h1", {}, "Orders and fills"),
      h("div", {class: "filters"}, strategySel, symbol, h("label", {}, finished, " finished orders too")),
      h("h2", {}, "Orders"), h("div", {class: "card", id: "orders-box"}),
      h("h2", {}, "Fills"), h("div", {class: "card", id: "fills-box"}));
    loadFills(null);
  },
  render() {
    const {strategySel, symbol, finished} = this.filters;
    const names = new Set([...Object.keys(S.states.strategies), "unattributed",
      ...Object.values(S.states.orders).map((o) => o.strategy), ...S.fills.map((f) => f.strategy)]);
    if (strategySel.options.length !== names.size + 1) {
      const keep = strategySel.value;
      fill(strategySel, h("option", {value: ""}, "all strategies"),
           [...names].sort().map((n) => h("option", {value: n, selected: n === keep}, n)));
    }
    const st = strategySel.value, sym = symbol.value.trim().toUpperCase();
    const keep = (r) => (!st || r.strategy === st) && (!sym || String(r.symbol).toUpperCase().includes(sym));
    fill($("#orders-box"), ordersTable(Object.values(S.states.orders)
      .filter((o) => keep(o) && (finished.checked || !DONE_ORDERS.has(o.status))), "orders"));
    fill($("#fills-box"), fillsTable(S.fills.filter(keep).slice(0, 500), "fills"));
  },
};

const riskPage = {
  init() {
    fill($("#main"), h("h1", {}, "Risk"),
      h("div", {class: "buttons"},
        h("button", {type: "button", class: "act danger", id: "btn-halt-all", "data-needs-login": true,
          onclick: () => change("Halt ALL trading, account-wide (every strategy's orders are cancelled)?",
                                "/api/halt", {flatten: false}, "account halted")}, "Halt all trading"),
        h("button", {type: "button", class: "act", id: "btn-resume-all", "data-needs-login": true,
          onclick: () => change("Resume trading account-wide?", "/api/resume", {}, "account resumed")},
          "Resume all trading")),
      h("h2", {}, "Limits"), h("div", {class: "card", id: "limits-box"}, "loading…"),
      h("p", {class: "muted"}, "A strategy without limits of its own has the default ones ([risk.default] " +
        "in ats.toml). Changes are kept across restarts (state/risk-limits.json). The account row " +
        "applies to all strategies together."),
      h("h2", {}, "Trading states"), h("div", {class: "card", id: "trading-box"}));
    this.load();
  },
  async load() {
    try { this.limits = await api("/api/limits"); } catch (e) {
      fill($("#limits-box"), h("p", {class: "message error"}, e.message)); return;
    }
    this.draw();
  },
  draw() {
    const L = this.limits, names = Object.keys(S.states.strategies).sort();
    const rows = [{scope: "account", values: L.account}, {scope: "default", values: L.default_strategy},
      ...names.map((n) => ({scope: n, values: L.strategies[n] || L.default_strategy, own: n in L.strategies}))];
    const row = (r) => {
      const inputs = LIMIT_KEYS.map((k) => h("input", {type: "text", size: 10, name: k,
        value: r.values[k] ?? "", disabled: r.scope === "default", "data-initial": String(r.values[k] ?? "")}));
      const save = r.scope === "default" ? h("span", {class: "muted"}, "from ats.toml") :
        h("button", {type: "button", class: "act", "data-needs-login": true, onclick: async () => {
          const limits = {};
          inputs.forEach((el, i) => { if (el.value !== el.dataset.initial) limits[LIMIT_KEYS[i]] = el.value === "" ? null : Number(el.value); });
          if (!Object.keys(limits).length) { toast("nothing changed"); return; }
          const text = Object.entries(limits).map(([k, v]) => `${k}=${v}`).join(", ");
          const account = r.scope === "account";
          const q = account ? `ACCOUNT-WIDE change: it limits every strategy together.\nSet ${text}?` :
            `Set ${r.scope}'s limits: ${text}?`;
          try {
            const res = await change(q, "/api/limits", account ? {account: true, limits} :
                                     {strategy: r.scope, limits}, "limits changed");
            if (res) { this.limits = res.result; this.draw(); }
          } catch (e) { /* shown */ }
        }}, "Save");
      return h("tr", {"data-scope": r.scope}, h("td", {}, r.scope + (r.own === false ? " (default)" : "")),
        inputs.map((i) => h("td", {}, i)), h("td", {}, save));
    };
    fill($("#limits-box"), h("table", {id: "limits"},
      h("thead", {}, h("tr", {}, h("th", {}, "scope"), LIMIT_KEYS.map((k) => h("th", {}, k)), h("th", {}, ""))),
      h("tbody", {}, rows.map(row))));
    loadSession();
  },
  render() {
    if (this.limits && Object.keys(S.states.strategies).length + 2 !==
        document.querySelectorAll("#limits tbody tr").length) this.draw();
    fill($("#trading-box"), table([["strategy", (r) => r.name],
      ["trading state", (r) => badge(r.trading_state || "–")]], strategyRows(), {id: "trading"}));
  },
};

const performancePage = {
  init() {
    fill($("#main"), h("h1", {}, "Performance"),
      h("p", {class: "muted"}, "What `ats-ctl report` computes, since inception, for the account and " +
        "each strategy on its capital base (target weight x the account's). Refreshed every 30 s. " +
        "The benchmark comparison, the periods and the charts are in the report: " +
        "`ats-ctl report --out DIR`."),
      h("div", {class: "card", id: "perf-box"}, "measuring…"));
    this.load();
    this.timer = setInterval(() => this.load(), 30000);
  },
  async load() {
    try { this.data = await api("/api/performance"); } catch (e) {
      fill($("#perf-box"), h("p", {class: "message error"}, e.message)); return;
    }
    this.render();
  },
  render() {
    if (!this.data || !$("#perf-box")) return;
    const pct = (x) => x === null || x === undefined ? "–" : signed(100 * x);
    const ratio = (x) => x === null || x === undefined ? "–" : num(x);
    // Annualised figures of a short record say little: shown as "short", as the report notes.
    const yearly = (r, cell) => r.short_record ? h("span", {class: "muted", title: r.record}, "short") : cell;
    fill($("#perf-box"), table([
      ["book", (r) => r.name], ["capital base", (r) => num(r.capital_base, 0), {num: true}],
      ["record", (r) => r.record],
      ["total return %", (r) => pct(r.total_return), {num: true}],
      ["CAGR %", (r) => yearly(r, pct(r.cagr)), {num: true}],
      ["volatility %", (r) => yearly(r, pct(r.volatility)), {num: true}],
      ["Sharpe", (r) => yearly(r, ratio(r.sharpe)), {num: true}],
      ["Sortino", (r) => yearly(r, ratio(r.sortino)), {num: true}],
      ["max drawdown %", (r) => pct(r.max_drawdown), {num: true}],
      ["Calmar", (r) => yearly(r, ratio(r.calmar)), {num: true}],
      ["hit rate %", (r) => pct(r.hit_rate), {num: true}],
      ["profit factor", (r) => ratio(r.profit_factor), {num: true}],
      ["turnover", (r) => ratio(r.turnover), {num: true}],
      ["commissions", (r) => num(r.commissions), {num: true}],
    ], this.data.rows, {id: "performance", empty: this.data.note || "(none)"}));
  },
};

const positionsPage = {
  // Every book's positions, `unattributed` first (manual trades, positions from before the
  // system); Assign moves one to a strategy, as `ats-ctl assign` does.
  init() {
    fill($("#main"), h("h1", {}, "Positions"),
      h("p", {class: "muted"}, "Every book's open positions. Assign moves a quantity to another " +
        "book (`ats-ctl assign`): a transfer at the source's average cost unless a price is " +
        "given, journalled, shown in the fills as a transfer; the account is unchanged."),
      h("div", {class: "card", id: "positions-box"}),
      h("div", {class: "card", id: "assign-box", hidden: true}));
  },
  render() {
    const order = (p) => `${p.strategy === "unattributed" ? "0" : "1"}${p.strategy} ${p.symbol}`;
    const rows = positionsOf(null).sort((a, b) => order(a).localeCompare(order(b)));
    // Drawn again only when something shown changed: a button under the pointer stays put.
    const drawn = JSON.stringify([S.session.logged_in, rows.map((p) =>
      [p.strategy, p.con_id, p.position, p.avg_cost, p.unrealized_pnl])]);
    if (drawn === this.drawn) return;
    this.drawn = drawn;
    fill($("#positions-box"), table([
      ["book", (p) => p.strategy], ["symbol", (p) => p.symbol],
      ["con id", (p) => p.con_id, {num: true}],
      ["position", (p) => num(p.position, 0), {num: true}],
      ["avg cost", (p) => num(p.avg_cost), {num: true}],
      ["unrealized", (p) => signed(p.unrealized_pnl), {num: true}],
      ["", (p) => h("button", {type: "button", class: "act", "data-needs-login": true,
        onclick: () => this.form(p)}, "Assign…")],
    ], rows, {id: "positions", empty: "(flat)",
              rowAttrs: (p) => ({"data-book": p.strategy, "data-symbol": p.symbol})}));
  },
  form(p) {
    const box = $("#assign-box");
    const names = Object.keys(S.states.strategies).filter((n) => n !== p.strategy).sort();
    if (p.strategy !== "unattributed") names.unshift("unattributed");
    const qty = h("input", {type: "number", id: "assign-qty", value: Number(p.position), step: "any"});
    const dest = h("select", {id: "assign-to"}, names.map((n) => h("option", {value: n}, n)));
    const price = h("input", {type: "number", id: "assign-price", step: "any",
                              placeholder: `average cost ${num(p.avg_cost)}`});
    const reason = h("input", {type: "text", id: "assign-reason", placeholder: "why (audited)"});
    const force = h("input", {type: "checkbox", id: "assign-force"});
    const msg = h("div", {id: "assign-message"});
    const submit = async (ev) => {
      ev.preventDefault();
      const body = {symbol: p.symbol, con_id: p.con_id, quantity: Number(qty.value),
                    to: dest.value, from: p.strategy, reason: reason.value, force: force.checked,
                    price: price.value === "" ? null : Number(price.value)};
      window.atsAssign = {asked: body};  // for tests and debugging
      const q = `Move ${body.quantity} ${p.symbol} from ${p.strategy} to ${body.to}` +
        `${body.price === null ? " at the average cost" : ` at ${body.price}`}?`;
      try {
        const res = await change(q, "/api/assign", body, "assigned");
        window.atsAssign.answer = res;
        if (!res) return;
        const out = res.result.transfer.find((r) => r.side === "OUT");
        fill(msg, h("p", {class: "message ok"}, `assigned ${-out.position_change} ${out.symbol} ` +
          `from ${out.from} to ${out.to} at ${num(out.price)} (transfer ${out.transfer_id})`));
      } catch (e) {
        window.atsAssign.error = e.message;
        fill(msg, h("p", {class: "message error"}, e.message));
      }
    };
    const field = (label, el) => h("div", {class: "field"}, h("label", {}, label), el);
    box.hidden = false;
    fill(box, h("form", {class: "params", id: "assign-form", onsubmit: submit},
      h("h2", {}, `Assign ${p.symbol} (con id ${p.con_id}) from ${p.strategy}`),
      field(`quantity (of ${num(p.position, 0)} held)`, qty), field("to", dest),
      field("price (empty: the average cost)", price), field("reason", reason),
      h("label", {}, force, " also into or out of a HALTED strategy"),
      h("div", {class: "buttons"}, h("button", {type: "submit", class: "act", id: "assign-submit",
        "data-needs-login": true}, "Assign"),
        h("button", {type: "button", class: "act", onclick: () => { box.hidden = true; }}, "Close")),
      msg));
    loadSession();
  },
};

const schedulePage = {
  // The scheduled data jobs (`ats-ctl data schedule list`); Run now asks the scheduler for a run.
  init() {
    fill($("#main"), h("h1", {}, "Schedule"),
      h("p", {class: "muted"}, "Data jobs the scheduler process runs on exchange sessions: " +
        "fetches (`ats-ctl data schedule add NAME --fetch SYMBOLS --at after_close|CRON`) and " +
        "Python jobs. Adding and removing is `ats-ctl data schedule`. Refreshed every 5 s."),
      h("div", {class: "card", id: "schedule-box"}, "loading…"));
    this.load();
    this.timer = setInterval(() => this.load(), 5000);
  },
  async load() {
    try { this.rows = await api("/api/schedule"); } catch (e) {
      fill($("#schedule-box"), h("p", {class: "message error"}, e.message)); return;
    }
    const when = (ts) => ts ? new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19) : "–";
    fill($("#schedule-box"), table([
      ["job", (r) => r.name], ["what", (r) => r.what, {wrap: true}],
      ["at", (r) => r.at + (r.any_day ? " (any day)" : "")],
      ["next run (UTC)", (r) => when(r.next_run)], ["last run (UTC)", (r) => when(r.last_run)],
      ["took", (r) => r.duration === null ? "–" : `${r.duration.toFixed(1)} s`, {num: true}],
      ["last result", (r) => h("span", {class: r.ok === false ? "neg" : ""}, r.result_line),
       {wrap: true, class: "result"}],
      ["", (r) => h("button", {type: "button", class: "act", "data-needs-login": true,
        disabled: r.running, onclick: async () => {
          try { await change(`Run ${r.name} now?`, `/api/schedule/${encodeURIComponent(r.name)}/run`,
                             {}, `asked the scheduler to run ${r.name}`); this.load(); } catch (e) { /* shown */ }
        }}, r.running ? "running" : "Run now")],
    ], this.rows, {id: "schedule", empty: "(no jobs: `ats-ctl data schedule add`)",
                   rowAttrs: (r) => ({"data-job": r.name})}));
    window.atsScheduleLoaded = (window.atsScheduleLoaded || 0) + 1;
  },
  render() {},
};

const dataPage = {
  // The ArcticDB store, read-only: libraries -> their symbols -> a symbol's first or last rows.
  // The choice lives in the address (?library=&symbol=&end=head|tail), so it can be linked.
  init() {
    const q = new URLSearchParams(location.search);
    this.library = q.get("library");
    this.symbol = q.get("symbol");
    this.end = q.get("end") === "head" ? "head" : "tail";
    const link = (params, text, id) => h("a", {id: id || null, href: `/data?${new URLSearchParams(params)}`}, text);
    this.link = link;
    fill($("#main"), h("h1", {}, "Data"),
      h("p", {class: "muted"}, "The data store (ArcticDB), read-only: what `ats-ctl data libraries`, " +
        "`data list LIBRARY` and `data show LIBRARY SYMBOL` print. Deleting is `ats-ctl data delete`."),
      h("h2", {}, "Libraries"), h("div", {class: "card", id: "data-libraries"}, "loading…"),
      h("h2", {}, this.library ? `Symbols of ${this.library}` : "Symbols"),
      h("div", {class: "card", id: "data-symbols"}, this.library ? "loading…" : "pick a library"),
      h("h2", {}, this.symbol ? `${this.symbol}: ${this.end === "head" ? "first" : "last"} rows` : "Rows"),
      h("div", {class: "card", id: "data-rows"}, this.symbol ? "loading…" : "pick a symbol"));
    this.load();
  },
  async load() {
    const show = async (box, path, draw) => {
      try { fill($(box), draw(await api(path))); } catch (e) {
        fill($(box), h("p", {class: "message error"}, e.message));
      }
    };
    const enc = encodeURIComponent, link = this.link, lib = this.library, sym = this.symbol;
    await show("#data-libraries", "/api/data/libraries", (rows) => table([
      ["library", (r) => link({library: r.library}, r.library, `lib-${r.library}`)],
      ["symbols", (r) => r.symbols, {num: true}],
      ["protected", (r) => r.protected ? "yes (its process's own)" : ""],
    ], rows, {id: "libraries"}));
    if (lib) {
      await show("#data-symbols", `/api/data/libraries/${enc(lib)}`, (rows) => table([
        ["symbol", (r) => link({library: lib, symbol: r.symbol}, r.symbol, `sym-${r.symbol}`)],
        ["rows", (r) => r.rows, {num: true}], ["first", (r) => r.first || "–"],
        ["last", (r) => r.last || "–"], ["columns", (r) => r.columns.join(", "), {wrap: true}],
        ["last update", (r) => r.last_update],
      ], rows, {id: "symbols"}));
    }
    if (lib && sym) {
      await show("#data-rows", `/api/data/libraries/${enc(lib)}/${enc(sym)}?${this.end}=20`, (d) => {
        const cols = d.rows.length ? Object.keys(d.rows[0]) : d.summary.columns;
        const s = d.summary;
        return [h("p", {class: "muted", id: "data-summary"},
          `${s.rows} rows, ${s.first || "–"} to ${s.last || "–"}, last update ${s.last_update}; `,
          this.end === "head" ? link({library: lib, symbol: sym, end: "tail"}, "last rows", "data-tail")
            : link({library: lib, symbol: sym, end: "head"}, "first rows", "data-head")),
          table(cols.map((c) => [c, (r) => r[c] === null ? "–" : String(r[c]),
            {num: typeof d.rows[0]?.[c] === "number"}]), d.rows, {id: "data-table"})];
      });
    }
    window.atsDataLoaded = true;
  },
  render() {},
};

const loginPage = {
  init() {
    const input = h("input", {type: "password", id: "token", autocomplete: "current-password",
                              placeholder: "token"});
    const msg = h("div", {id: "login-message"});
    const form = h("form", {class: "card login", id: "login-form"},
      h("p", {}, "Paste the token that ", h("code", {}, "ats-ctl web token"), " prints."),
      input, h("button", {type: "submit", class: "act", id: "login-submit"}, "Log in"), msg);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api("/api/login", {method: "POST", body: {token: input.value}});
        location.href = new URLSearchParams(location.search).get("next") || "/";
      } catch (e) { fill(msg, h("p", {class: "message error"}, e.message)); }
    });
    fill($("#main"), h("h1", {}, "Log in"), form,
      h("p", {class: "muted"}, "Without a login the console is read-only."));
  },
  render() {},
};

// -- start ---------------------------------------------------------------------------------
const path = location.pathname;
const PAGES = {"/orders": ["orders", ordersPage], "/positions": ["positions", positionsPage],
  "/risk": ["risk", riskPage], "/performance": ["performance", performancePage],
  "/data": ["data", dataPage], "/schedule": ["schedule", schedulePage], "/login": ["", loginPage]};
const [pageName, page] = path.startsWith("/strategy/") ? ["", strategyPage] :
  PAGES[path] || ["overview", overview];
document.addEventListener("DOMContentLoaded", () => {
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === pageName);
  $("#login-link").href = `/login?next=${encodeURIComponent(path)}`;
  $("#logout").addEventListener("click", async () => {
    try { await api("/api/logout", {method: "POST", body: {}}); } catch (e) { /* gone already */ }
    location.reload();
  });
  page.init();
  loadSession();
  if (page !== loginPage) connect(); else $("#conn").hidden = true;
  setInterval(() => { renderErrors(); scheduleRender(); }, 1000);  // ages and uptimes tick
  window.atsReady = true;
});
