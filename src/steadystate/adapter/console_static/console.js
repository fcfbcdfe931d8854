// steadystate console: vanilla JavaScript, no framework, no build step.
// The view is in the URL fragment: #/ (environment), #/cluster/<name>, #/object/<id>.  Every POLL_MS the page
// fetches the JSON document of its view from /console/api/... and redraws it.  Charts and timelines are inline SVG.
"use strict";

const POLL_MS = 1000;
const API = "/console/api";
const PROCESS_COLORS = { "online": "#1a7f37", "offline": "#8c959f", "crash-looping": "#cf222e",
                         "oom-killed": "#8250df" };
const CLEAN_COLORS = { "clean": "#2da44e", "dirty": "#bf8700" };
const LINE_COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#bc4c00", "#57606a"];

let generation = 0;  // bumped on navigation: a late answer for the previous view is dropped
let renders = 0;     // data-renders on <body>: how many times a document was drawn (tests wait on it)

function esc(value) {
  return String(value === null || value === undefined ? "" : value)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
function badge(text, kind) { return `<span class="badge ${kind}">${esc(text)}</span>`; }
function seconds(s) {
  if (s === null || s === undefined) return "–";
  return s < 1 ? `${Math.round(s * 1000)} ms` : s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`;
}
function bytes(n) {
  if (!n) return "0 B";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
function clock(ms) { return ms ? new Date(ms).toISOString().substring(11, 19) : "–"; }
function clusterLink(name) { return `<a href="#/cluster/${encodeURIComponent(name)}">${esc(name)}</a>`; }
function objectLink(id, name) { return `<a href="#/object/${encodeURIComponent(id)}">${esc(name || id)}</a>`; }
function table(headers, rows) {
  if (!rows.length) return `<p class="muted">none</p>`;
  return `<table><thead><tr>${headers.map(h => `<th>${esc(h)}</th>`).join("")}</tr></thead>` +
         `<tbody>${rows.join("")}</tbody></table>`;
}
function progressBar(fraction, done) {
  const pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
  return `<div class="bar ${done ? "" : "partial"}" title="${pct}%"><span style="width:${pct}%"></span></div>`;
}

// ------------------------------------------------------------------ the environment at a glance

function renderEnvironment(doc) {
  const rows = doc.clusters.map(c => {
    const state = c.ready ? badge("ready", "ok") : badge("not ready", "bad");
    const sealed = c.sealed ? badge("sealed", "ok") : badge("unsealed", "");
    const busy = c.reconfiguring ? badge("reconfiguring", "warn") : "";
    const total = c.replicas.length;
    return `<tr data-cluster="${esc(c.name)}" data-sealed="${c.sealed}" data-ready="${c.ready}" ` +
           `data-online="${c.online}" data-clean="${c.clean}" data-replicas="${total}">` +
           `<td>${clusterLink(c.name)}</td><td>${sealed}${busy}</td><td>${state}</td>` +
           `<td class="reason">${esc(c.first_reason || (c.warnings[0] ? "warning: " + c.warnings[0] : ""))}</td>` +
           `<td>${c.online}/${total} online</td><td>${c.clean}/${total} clean</td><td>${c.objects}</td>` +
           `<td class="hydration">${hydrationSummary(c.hydration)}</td>` +
           `<td>${seconds(c.expected_downtime_s)}</td></tr>`;
  });
  const sealed = doc.clusters.filter(c => c.sealed);
  return `<h1>Environment</h1>
    <div class="cards">
      <div class="card"><div class="value">${doc.clusters.length}</div><div class="label">clusters</div></div>
      <div class="card"><div class="value">${sealed.length}</div><div class="label">sealed</div></div>
      <div class="card"><div class="value">${sealed.filter(c => c.ready).length}/${sealed.length}</div>
        <div class="label">sealed clusters ready</div></div>
      <div class="card"><div class="value">${seconds(doc.expected_downtime_s)}</div>
        <div class="label">expected downtime of a full restart</div></div>
    </div>
    <h2>Clusters</h2>
    ${table(["cluster", "sealed", "ready", "first reason not", "replicas", "clean", "objects", "hydrated",
             "restart downtime"], rows)}
    ${renderCopies(doc.copies)}`;
}

function hydrationSummary(h) {
  if (!h.total) return "–";
  if (h.hydrated === h.total) return `${h.total}/${h.total}`;
  const left = h.time_left_estimate === null ? "" : `, ~${seconds(h.time_left_estimate)} left`;
  return `${progressBar(h.hydrated / h.total, false)}${h.hydrated}/${h.total}${left}`;
}

function renderCopies(copies) {
  if (!copies.length) return "";
  const rows = copies.map(c => `<tr data-copy="${c.session_id}"><td>${esc(c.table)}</td><td>${esc(c.user)}</td>` +
    `<td>${esc(c.phase)}</td><td>${c.rows_received.toLocaleString()}</td>` +
    `<td>${c.rows_per_second ? Math.round(c.rows_per_second).toLocaleString() : "–"}</td>` +
    `<td>${clock(c.started_at)}</td></tr>`);
  return `<h2>COPY FROM in progress</h2>${table(["table", "user", "phase", "rows received", "rows/s", "started"],
                                                  rows)}`;
}

// ------------------------------------------------------------------ one cluster

function renderCluster(doc) {
  const c = doc.cluster;
  const reasons = c.reasons.map(r => `<li>${esc(r)}</li>`).concat(
    c.warnings.map(w => `<li class="warning">warning: ${esc(w)}</li>`));
  const replicas = doc.replicas.map(r => `<tr data-replica="${esc(r.name)}" data-clean="${r.clean}" ` +
    `data-status="${esc(r.status)}"><td>${esc(r.name)}</td><td>${esc(r.size)}</td>` +
    `<td>${badge(r.status || "unknown", r.status === "online" ? "ok" : r.status === "offline" ? "" : "bad")}` +
    `${r.status !== "online" && r.reason ? `<span class="muted">${esc(r.reason)}</span>` : ""}</td>` +
    `<td>${r.clean ? badge("clean", "ok") : badge("dirty", "warn")}</td>` +
    `<td class="dirtied-by">${esc(r.dirtied_by || r.error || "")}</td><td>${clock(r.dirtied_at)}</td></tr>`);
  const hydration = doc.hydration.map(h => `<tr data-hydration="${esc(h.object_id)}:${esc(h.replica)}" ` +
    `data-hydrated="${h.hydrated}"><td>${objectLink(h.object_id, h.name)}</td><td>${esc(h.replica)}</td>` +
    `<td>${progressBar(hydrationFraction(h), h.hydrated)}</td>` +
    `<td>${h.rows_total === null ? "total not known yet" :
           `${h.rows_done.toLocaleString()} / ${h.rows_total.toLocaleString()} rows`}</td>` +
    `<td>${h.hydrated ? "hydrated in " + seconds(h.hydration_time) : h.hydrating_for === null ? "not started" :
           "for " + seconds(h.hydrating_for) + (h.time_left_estimate === null ? "" :
                                                ", about " + seconds(h.time_left_estimate) + " left")}</td></tr>`);
  const diff = doc.restart_diff.map(d => `<tr data-restart="${esc(d.object_id)}"><td>${esc(d.name)}</td>` +
    `<td>${badge(d.restart, d.restart === "identical" ? "ok" : d.restart === "transient" ? "" : "warn")}</td>` +
    `<td>${esc(d.detail)}</td></tr>`);
  const residuals = doc.residuals.map(r => `<tr><td>${esc(r.name)}</td><td>${esc(r.replica_id)}</td>` +
    `<td>${esc(r.held_by)}</td></tr>`);
  const objects = doc.objects.map(o => `<tr><td>${objectLink(o.id, o.name)}</td><td>${esc(o.kind)}</td></tr>`);
  const pending = doc.pending.map(p => `<li>${esc(p.kind)}: replacing with ${esc(p.pending_replicas)}</li>`);
  return `<h1 data-cluster-page="${esc(c.name)}" data-sealed="${c.sealed}" data-ready="${c.ready}">
      Cluster ${esc(c.name)} ${c.sealed ? badge("sealed", "ok") : badge("unsealed", "")}
      ${c.ready ? badge("ready", "ok") : badge("not ready", "bad")}</h1>
    <div class="cards">
      <div class="card"><div class="value">${esc(doc.size || "–")}</div><div class="label">size</div></div>
      <div class="card"><div class="value">${doc.replicas.length}</div><div class="label">replicas</div></div>
      <div class="card"><div class="value">${seconds(doc.expected_downtime_s)}</div>
        <div class="label">expected downtime of a restart</div></div>
      <div class="card"><div class="value">${doc.residuals.length}</div><div class="label">residual dataflows</div></div>
    </div>
    ${reasons.length ? `<ul class="reasons">${reasons.join("")}</ul>` : `<p>Nothing stands in the way.</p>`}
    ${pending.length ? `<ul class="reasons">${pending.join("")}</ul>` : ""}
    <h2>Replicas</h2>${table(["replica", "size", "process", "clean", "dirtied by", "dirtied at"], replicas)}
    <h2>Timeline</h2>${timeline(doc)}
    <h2>Hydration</h2>${table(["object", "replica", "progress", "rows", "time"], hydration)}
    <h2>Freshness (lag behind the wall clock)</h2>${lagChart(doc.lag, doc.now)}
    <h2>Restart diff</h2>${table(["object", "a restart", "detail"], diff)}
    <h2>Residual dataflows</h2>${table(["dataflow", "replica", "held by"], residuals)}
    <h2>Objects</h2>${table(["object", "kind"], objects)}`;
}

function hydrationFraction(h) {
  if (h.hydrated) return 1;
  if (h.rows_total && h.rows_done) return h.rows_done / h.rows_total;
  if (h.hydrating_for !== null && h.time_left_estimate !== null) {
    const whole = h.hydrating_for + h.time_left_estimate;
    return whole > 0 ? Math.min(0.99, h.hydrating_for / whole) : 0;
  }
  return 0;
}

// A row per replica: its process status (upper band) and clean/dirty (lower band) as coloured segments from the
// status history, and the cluster's audit events (seal, unseal, restart, replicas) as marks across all rows.
function timeline(doc) {
  const times = doc.history.map(h => h.at).concat(doc.events.map(e => e.at)).filter(t => t);
  const end = doc.now;
  const span = Math.max(10000, end - Math.min(end, ...times));  // the whole history, at least ten seconds
  const start = end - span * 1.04;
  const width = 1000, left = 110, rowHeight = 34, top = 44;  // three staggered rows of event labels above
  const x = t => left + (width - left - 10) * (t - start) / Math.max(1, end - start);
  const ids = doc.replicas.map(r => r.id);
  doc.history.forEach(h => { if (!ids.includes(h.replica_id)) ids.push(h.replica_id); });
  const names = Object.fromEntries(doc.replicas.map(r => [r.id, r.name]));
  const height = top + rowHeight * Math.max(1, ids.length) + 22;
  let svg = `<svg id="timeline" width="100%" viewBox="0 0 ${width} ${height}" role="img">`;
  ids.forEach((id, row) => {
    const y = top + row * rowHeight;
    svg += `<text x="4" y="${y + 17}">${esc(names[id] || id + " (dropped)")}</text>`;
    const events = doc.history.filter(h => h.replica_id === id).sort((a, b) => a.at - b.at);
    for (const [band, colors] of [[0, PROCESS_COLORS], [1, CLEAN_COLORS]]) {
      const mine = events.filter(e => e.status in colors);
      mine.forEach((e, i) => {
        const until = i + 1 < mine.length ? mine[i + 1].at : end;
        const x0 = x(e.at), x1 = Math.max(x0 + 1, x(until));
        // an exit over the memory limit is an offline event whose reason is oom-killed: drawn as its own state
        const state = e.status === "offline" && e.reason === "oom-killed" ? "oom-killed" : e.status;
        svg += `<rect x="${x0}" y="${y + band * 13}" width="${x1 - x0}" height="12" fill="${colors[state]}">` +
               `<title>${esc(state)} ${clock(e.at)}${e.reason ? ": " + esc(e.reason) : ""}</title></rect>`;
      });
    }
  });
  doc.events.forEach((e, i) => {
    const ex = x(e.at), ly = 11 + (i % 3) * 12;
    svg += `<line x1="${ex}" x2="${ex}" y1="${ly - 8}" y2="${height - 20}" stroke="#24292f" stroke-dasharray="3,2">` +
           `<title>${esc(e.label)} by ${esc(e.user)} at ${clock(e.at)}</title></line>` +
           `<text class="event" x="${ex + 3}" y="${ly}">${esc(e.label)}</text>`;
  });
  svg += `<text x="${left}" y="${height - 4}">${clock(start)}</text>` +
         `<text x="${width - 60}" y="${height - 4}">${clock(end)}</text></svg>`;
  const legend = Object.entries(PROCESS_COLORS).concat(Object.entries(CLEAN_COLORS))
    .map(([k, c]) => `<span><i style="background:${c}"></i>${esc(k)}</span>`).join("");
  return svg + `<div class="legend">${legend}<span>┆ audit event</span></div>`;
}

// Lag of each object over time (its freshest replica, per minute: mz_wallclock_lag_history), one polyline per object.
function lagChart(series, now) {
  const points = series.flatMap(s => s.points);
  if (!points.length) return `<p class="muted">no measurements yet</p>`;
  const width = 1000, height = 200, left = 60, bottom = 20;
  const start = Math.min(...points.map(p => p[0])), end = Math.max(now, start + 1000);
  const top = Math.max(0.05, ...points.map(p => p[1]));
  const x = t => left + (width - left - 10) * (t - start) / (end - start);
  const y = v => 8 + (height - bottom - 8) * (1 - v / top);
  let svg = `<svg id="lag-chart" width="100%" viewBox="0 0 ${width} ${height}" role="img">` +
            `<line class="axis" x1="${left}" x2="${width}" y1="${y(0)}" y2="${y(0)}"/>` +
            `<line class="axis" x1="${left}" x2="${left}" y1="8" y2="${y(0)}"/>` +
            `<text x="4" y="14">${seconds(top)}</text><text x="4" y="${y(0)}">0</text>` +
            `<text x="${left}" y="${height - 4}">${clock(start)}</text>` +
            `<text x="${width - 60}" y="${height - 4}">${clock(end)}</text>`;
  series.forEach((s, i) => {
    const color = LINE_COLORS[i % LINE_COLORS.length];
    const path = s.points.map(p => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    svg += `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${path}"><title>${esc(s.name)}</title>` +
           `</polyline>`;
    // one dot per minute of mz_wallclock_lag_history (a single minute is a dot, not an invisible line)
    svg += s.points.map(p => `<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="2.5" ` +
                             `fill="${color}"><title>${esc(s.name)}: ${seconds(p[1])}</title></circle>`).join("");
  });
  const legend = series.map((s, i) => `<span><i style="background:${LINE_COLORS[i % LINE_COLORS.length]}"></i>` +
    `${esc(s.name)} (now ${seconds(s.points[s.points.length - 1][1])})</span>`).join("");
  return svg + `</svg><div class="legend">${legend}</div>`;
}

// ------------------------------------------------------------------ one object

function renderObject(doc) {
  const where = doc.hydration.map(h => `<tr data-runs-on="${esc(h.replica)}"><td>${esc(h.replica)}</td>` +
    `<td>${h.hydrated ? badge("hydrated", "ok") : badge("hydrating", "warn")}</td>` +
    `<td>${progressBar(hydrationFraction(h), h.hydrated)}</td><td>${seconds(h.hydration_time)}</td></tr>`);
  const sizes = doc.arrangements.map(a => `<tr><td>${esc(a.replica)}</td><td>${a.records.toLocaleString()}</td>` +
    `<td>${bytes(a.size_bytes)}</td></tr>`);
  const deps = doc.depends_on.map(d => objectLink(d.id, d.name)).join(", ");
  return `<h1 data-object-page="${esc(doc.id)}">${esc(doc.kind.replace(/_/g, " "))} ${esc(doc.name)}</h1>
    <p>${doc.cluster ? "on cluster " + clusterLink(doc.cluster) : "no cluster"} · owner ${esc(doc.owner)}
       ${deps ? " · depends on " + deps : ""}</p>
    ${doc.sql ? `<pre>${esc(doc.sql)}</pre>` : ""}
    <h2>Plan (EXPLAIN)</h2>${doc.plan.length ? `<pre id="plan">${esc(doc.plan.join("\n"))}</pre>` :
                                                `<p class="muted">a table has no plan</p>`}
    <h2>Where it runs</h2>${table(["replica", "state", "hydration", "took"], where)}
    <h2>Arrangement sizes</h2>${table(["replica", "records", "size"], sizes)}
    <h2>Freshness</h2>${lagChart(doc.lag.length ? [{ name: doc.name, points: doc.lag }] : [], doc.now)}`;
}

// ------------------------------------------------------------------ routing and polling

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "cluster" && parts[1]) {
    return { url: `${API}/clusters/${encodeURIComponent(parts[1])}`, render: renderCluster,
             crumbs: [["#/", "environment"], [null, "cluster " + parts[1]]] };
  }
  if (parts[0] === "object" && parts[1]) {
    return { url: `${API}/objects/${encodeURIComponent(parts[1])}`, render: renderObject,
             crumbs: [["#/", "environment"], [null, "object " + parts[1]]] };
  }
  return { url: `${API}/environment`, render: renderEnvironment, crumbs: [[null, "environment"]] };
}

async function refresh() {
  const mine = generation;
  const view = route();
  document.getElementById("crumbs").innerHTML = view.crumbs
    .map(([href, text]) => href ? `<a href="${href}">${esc(text)}</a>›` : `<span>${esc(text)}</span>`).join(" ");
  const live = document.getElementById("live");
  try {
    const response = await fetch(view.url, { cache: "no-store" });
    const doc = await response.json();
    if (mine !== generation) return;
    const main = document.getElementById("view");
    main.innerHTML = response.ok ? view.render(doc) : `<p class="error">${esc(doc.error || response.statusText)}</p>`;
    live.textContent = "live · " + clock(doc.now || Date.now());
    live.className = "";
    document.body.dataset.renders = String(++renders);
  } catch (error) {
    live.textContent = "disconnected";
    live.className = "stale";
  }
}

async function loop() {
  await refresh();
  setTimeout(loop, POLL_MS);
}

window.addEventListener("hashchange", () => { generation++; refresh(); });
loop();
