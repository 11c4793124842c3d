// copilot-hybrid dashboard: polls /dashboard/api/* every 2 s and draws with the DOM and SVG.
// Every value from the server is written with textContent (never as HTML): model ids,
// error messages and mismatch inputs come from clients.
"use strict";

const POLL_MS = 2000;
const ACCOUNT_MS = 30000;
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

// An API key, when the proxy requires one, can be given as #key=... (fragments never reach the server's logs).
const apiKey = new URLSearchParams(location.hash.slice(1)).get("key");

async function api(path) {
  const headers = apiKey ? { authorization: "Bearer " + apiKey } : {};
  const response = await fetch(path, { headers, cache: "no-store", credentials: "same-origin" });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error && body.error.message ? body.error.message : response.statusText;
    throw new Error(path + ": HTTP " + response.status + " " + message);
  }
  return body;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  return node;
}

const fmt = {
  int: (v) => (v === null || v === undefined ? "–" : Math.round(v).toLocaleString("en-US")),
  ms: (v) => (v === null || v === undefined ? "–" : v < 10 ? v.toFixed(1) + " ms" : Math.round(v) + " ms"),
  us: (v) => (v === null || v === undefined ? "–" : v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : Math.round(v).toLocaleString("en-US")),
  time: (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }),
  clock: (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
};

function setText(id, value) {
  $(id).textContent = value;
}

// ---- charts ----------------------------------------------------------------------------

const CHART = { w: 600, h: 160, left: 36, right: 6, top: 8, bottom: 18 };

function niceMax(value) {
  if (!(value > 0)) return 1;
  const step = Math.pow(10, Math.floor(Math.log10(value)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

function frame(node, series, max) {
  node.replaceChildren();
  const { w, h, left, right, top, bottom } = CHART;
  const plotH = h - top - bottom;
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH * (1 - f);
    node.append(svg("line", { x1: left, x2: w - right, y1: y, y2: y, class: "axis" }));
    const label = svg("text", { x: left - 4, y: y + 3, "text-anchor": "end" });
    label.textContent = Number.isInteger(max * f) ? fmt.int(max * f) : (max * f).toFixed(1);
    node.append(label);
  }
  if (series.length) {
    for (const [i, anchor] of [[0, "start"], [series.length - 1, "end"]]) {
      const label = svg("text", { x: i === 0 ? left : w - right, y: h - 4, "text-anchor": anchor });
      label.textContent = fmt.clock(series[i].t);
      node.append(label);
    }
  }
  const slot = (w - left - right) / Math.max(1, series.length);
  return { slot, x: (i) => left + i * slot, y: (v) => top + plotH * (1 - v / max), plotH };
}

function barChart(node, series) {
  const max = niceMax(Math.max(0, ...series.map((p) => p.requests)));
  const f = frame(node, series, max);
  series.forEach((p, i) => {
    if (!p.requests) return;
    const width = Math.max(1, f.slot - 1);
    const height = (p.requests / max) * f.plotH;
    const bar = svg("rect", { x: f.x(i), y: f.y(p.requests), width, height, class: "bar-requests" });
    const title = svg("title");
    title.textContent = fmt.clock(p.t) + ": " + p.requests + " requests, " + p.errors + " errors";
    bar.append(title);
    node.append(bar);
    if (p.errors) {
      node.append(svg("rect", { x: f.x(i), y: f.y(p.errors), width, height: (p.errors / max) * f.plotH, class: "bar-errors" }));
    }
  });
}

function lineChart(node, series, keys) {
  const values = series.flatMap((p) => keys.map((k) => p[k]).filter((v) => v !== null));
  const max = niceMax(Math.max(0, ...values));
  const f = frame(node, series, max);
  for (const key of keys) {
    let d = "";
    let pen = "M";
    series.forEach((p, i) => {
      if (p[key] === null) {
        pen = "M";
        return;
      }
      d += pen + (f.x(i) + f.slot / 2).toFixed(1) + "," + f.y(p[key]).toFixed(1) + " ";
      pen = "L";
    });
    if (d) node.append(svg("path", { d, class: "line line-" + key.replace("latency_", "").replace("_p50", "") }));
    // lone points (one busy minute) are invisible as a path: mark them
    series.forEach((p, i) => {
      if (p[key] !== null && (i === 0 || series[i - 1][key] === null) && (i === series.length - 1 || series[i + 1][key] === null)) {
        node.append(svg("circle", { cx: f.x(i) + f.slot / 2, cy: f.y(p[key]), r: 2.5, class: "line line-" + key.replace("latency_", "").replace("_p50", "") }));
      }
    });
  }
}

// ---- panels ----------------------------------------------------------------------------

function renderTraffic(data) {
  $("recording-off").hidden = data.recording !== false;
  if (data.recording === false) return;
  const t = data.totals;
  setText("stat-requests", fmt.int(t.requests));
  setText("stat-errors", fmt.int(t.errors));
  setText("stat-p50", fmt.ms(t.latency_p50));
  setText("stat-p95", fmt.ms(t.latency_p95));
  barChart($("chart-requests"), data.series);
  lineChart($("chart-latency"), data.series, ["latency_p50", "latency_p95", "latency_p99", "ttfb_p50"]);

  const body = $("tokens").tBodies[0];
  const entries = Object.entries(t.tokens);
  const most = Math.max(1, ...entries.map(([, v]) => v.input + v.output));
  body.replaceChildren(
    ...entries.map(([model, v]) => {
      const bar = el("div", { class: "hbar" });
      bar.style.width = ((100 * (v.input + v.output)) / most).toFixed(1) + "%";
      return el(
        "tr",
        { "data-model": model },
        el("td", { class: "model" }, model),
        el("td", { class: "num input" }, fmt.int(v.input)),
        el("td", { class: "num output" }, fmt.int(v.output)),
        el("td", { class: "num cached" }, fmt.int(v.cached)),
        el("td", { class: "bar-cell" }, bar),
      );
    }),
  );
  if (!entries.length) body.append(el("tr", {}, el("td", { colSpan: 5, class: "muted" }, "no token usage yet")));

  const { user, agent } = t.initiator;
  setText("initiator-user", fmt.int(user));
  setText("initiator-agent", fmt.int(agent));
  const share = $("initiator-share");
  share.children[0].style.flexGrow = String(user);
  share.children[1].style.flexGrow = String(agent);

  $("status-counts").replaceChildren(
    ...Object.entries(t.by_status).map(([status, count]) =>
      el("span", { class: "chip" + (Number(status) >= 400 ? " bad" : ""), "data-status": status }, status + " × " + count),
    ),
  );
}

function renderAccount(data) {
  $("account-error").hidden = true;
  setText("account-plan", data.plan || "–");
  setText("account-reset", data.reset_date || "–");
  const names = { premium: "Premium requests", chat: "Chat", completions: "Completions" };
  $("quotas").replaceChildren(
    ...Object.entries(data.quotas).map(([key, q]) => {
      const text = q.unlimited
        ? "unlimited"
        : fmt.int(q.used) + " / " + fmt.int(q.entitlement) + " used, " + fmt.int(q.remaining) + " left" +
          (q.percent_remaining !== null ? " (" + q.percent_remaining.toFixed(1) + "%)" : "");
      const meter = el("div", { class: "meter" });
      if (!q.unlimited && q.entitlement) {
        const fill = el("span");
        fill.style.width = Math.min(100, (100 * q.used) / q.entitlement).toFixed(1) + "%";
        meter.append(fill);
      }
      return el("div", { class: "quota", "data-quota": key }, el("div", {}, el("b", {}, names[key] || key), " ", el("span", { class: "quota-text" }, text)), meter);
    }),
  );
}

function modeSpan(value, cls) {
  const kind = String(value).split(":")[0];
  return el("span", { class: cls + " mode mode-" + kind }, value);
}

function latencyCell(latency) {
  const most = Math.max(1e-9, latency.native.p50_us || 0, latency.reference.p50_us || 0);
  const rows = [];
  for (const side of ["native", "reference"]) {
    const v = latency[side];
    const bar = el("div", { class: "hbar " + side });
    bar.style.width = (v.p50_us ? (100 * v.p50_us) / most : 0).toFixed(1) + "%";
    rows.push(el("span", { class: "latency-" + side }, side[0].toUpperCase() + " " + fmt.us(v.p50_us)), bar);
  }
  return el("td", {}, el("div", { class: "latency-pair" }, ...rows));
}

function renderNative(data) {
  const n = data.native;
  setText("native-status", n.status);
  setText("native-build", n.build_id ? n.build_id + " (zig " + (n.zig_version || "?") + ", " + (n.optimize || "?") + ")" : "–");
  setText("native-reason", n.reason);
  const mismatches = [];
  $("features").tBodies[0].replaceChildren(
    ...Object.entries(data.features).map(([name, f]) => {
      const verify = !f.verify
        ? "never verified"
        : (f.verify.passed ? "passed" : "FAILED") + (f.verify.current_build ? " on this build" : " on another build");
      const live = f.live;
      for (const m of f.recent_mismatches) mismatches.push([name, m]);
      return el(
        "tr",
        { "data-feature": name },
        el("td", { class: "feature" }, el("b", {}, name)),
        el(
          "td",
          {},
          modeSpan(f.configured, "configured"), el("span", { class: "muted" }, " (" + f.source + ") → "),
          modeSpan(f.effective, "effective"),
          el("div", { class: "reason" }, f.reason),
        ),
        el("td", { class: "verify" }, verify),
        el(
          "td",
          { class: "calls" },
          el("span", { class: "reference-calls" }, fmt.int(live.reference_calls)), " · ",
          el("span", { class: "native-calls" }, fmt.int(live.native_calls)), " · ",
          el("span", { class: "shadow-runs" }, fmt.int(live.shadow_runs)),
        ),
        latencyCell(f.latency),
        el("td", { class: "num native-errors" }, fmt.int(live.native_errors)),
        el("td", { class: "num mismatches" }, fmt.int(live.mismatches)),
        el("td", { class: "circuit" + (f.circuit.open ? " open" : "") }, f.circuit.open ? "open: " + f.circuit.reason : "closed"),
      );
    }),
  );
  mismatches.sort((a, b) => (b[1].time || 0) - (a[1].time || 0));
  $("no-mismatches").hidden = mismatches.length > 0;
  $("mismatches").replaceChildren(
    ...mismatches.map(([name, m]) =>
      el(
        "li",
        { "data-feature": name },
        el("b", {}, name), " ", el("span", { class: "muted" }, fmt.time(m.time || 0) + " · " + m.mode + " · build " + m.build_id),
        el("pre", { class: "input" }, "input: " + JSON.stringify(m.input)),
        el("pre", { class: "reference" }, "reference: " + m.reference + "  (" + fmt.us((m.reference_ms || 0) * 1000) + " µs)"),
        el("pre", { class: "native" }, "native: " + m.native + "  (" + fmt.us((m.native_ms || 0) * 1000) + " µs)"),
      ),
    ),
  );
}

function fillSelect(select, values) {
  const chosen = select.value;
  const wanted = ["", ...values];
  const have = [...select.options].map((o) => o.value);
  if (wanted.join("\n") === have.join("\n")) return;
  select.replaceChildren(...wanted.map((v) => el("option", { value: v }, v || "all")));
  select.value = wanted.includes(chosen) ? chosen : "";
}

function renderHistory(data) {
  if (data.recording === false) return;
  fillSelect($("filter-model"), data.filters.models);
  fillSelect($("filter-route"), data.filters.routes);
  const body = $("history-table").tBodies[0];
  body.replaceChildren(
    ...data.rows.map((r) => {
      const model = r.requested_model && r.resolved_model && r.requested_model !== r.resolved_model
        ? r.requested_model + " → " + r.resolved_model
        : r.resolved_model || r.requested_model || "–";
      return el(
        "tr",
        { "data-status": String(r.status), "data-model": r.resolved_model || r.requested_model || "", class: r.status >= 400 ? "bad" : "" },
        el("td", {}, fmt.time(r.time)),
        el("td", { class: "route" }, r.method + " " + r.route + (r.stream ? " (stream)" : "")),
        el("td", { class: "model" }, model),
        el("td", { class: "num status" }, r.status),
        el("td", { class: "num" }, fmt.int(r.latency_ms)),
        el("td", { class: "num" }, fmt.int(r.ttfb_ms)),
        el("td", { class: "num" }, fmt.int(r.input_tokens)),
        el("td", { class: "num" }, fmt.int(r.output_tokens)),
        el("td", { class: "num" }, fmt.int(r.cached_tokens)),
        el("td", {}, r.initiator || "–"),
        el("td", { class: "error" }, r.error_type ? r.error_type + (r.error_message ? ": " + r.error_message : "") : ""),
      );
    }),
  );
  if (!data.rows.length) body.append(el("tr", {}, el("td", { colSpan: 11, class: "muted" }, "no requests match")));
}

// ---- polling ---------------------------------------------------------------------------

function historyQuery() {
  const params = new URLSearchParams({ limit: "200" });
  for (const [id, key] of [["filter-model", "model"], ["filter-route", "route"], ["filter-status", "status"]]) {
    if ($(id).value) params.set(key, $(id).value);
  }
  return "/dashboard/api/history?" + params;
}

let lastAccount = 0;

async function refresh() {
  const jobs = [
    api("/dashboard/api/traffic").then(renderTraffic),
    api(historyQuery()).then(renderHistory),
    api("/dashboard/api/native").then(renderNative),
  ];
  if (Date.now() - lastAccount > ACCOUNT_MS) {
    lastAccount = Date.now();
    jobs.push(
      api("/dashboard/api/account").then(renderAccount, (error) => {
        $("account-error").hidden = false;
        setText("account-error", error.message);
      }),
    );
  }
  const results = await Promise.allSettled(jobs);
  const problems = results.filter((r) => r.status === "rejected").map((r) => r.reason.message);
  $("problems").hidden = problems.length === 0;
  setText("problems", problems.join("\n"));
  setText("updated", "updated " + new Date().toLocaleTimeString());
  document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
}

async function start() {
  try {
    const status = await api("/dashboard/api/status");
    setText("version", "v" + status.version + (status.recording ? "" : " · recording off"));
    $("recording-off").hidden = status.recording;
    setText("proxy-version", status.version);
    setText("proxy-started", new Date(status.started_at * 1000).toLocaleString());
    setText("proxy-recording", status.recording ? "on" : "off (COPILOT_HYBRID_NO_METRICS=1)");
    setText(
      "proxy-history",
      status.history.rows.toLocaleString("en-US") + " newest requests" + (status.history.text ? ", with redacted texts" : ", no prompt text") +
        " · " + status.history.file,
    );
  } catch (error) {
    $("problems").hidden = false;
    setText("problems", error.message);
  }
  for (const id of ["filter-model", "filter-route", "filter-status"]) $(id).addEventListener("change", refresh);
  await refresh();
  setInterval(refresh, POLL_MS);
}

start();
