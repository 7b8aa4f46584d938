// hx dashboards: what every page shares.  The token lives in this tab's sessionStorage only and is sent as an
// Authorization header; it is never put in a URL.  Every action calls the component's own API route.
"use strict";
const HX = (() => {
  const PAGES = [["", "Overview"], ["executive", "Executive"], ["operations", "Operations"], ["aiml", "AI/ML"], ["cost", "Cost"]];
  const ROLES = ["viewer", "operator", "approver", "admin"];
  const KEY = "hx-token";
  const state = { me: null, timer: null, refresh: null, updated: null };
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  // p significant digits, never in exponent form for large figures (1440 s, not 1.44e+3)
  const num = (v, p = 3) => {
    if (v === null || v === undefined || Number.isNaN(Number(v))) return "-";
    const s = Number(v).toPrecision(p);
    return s.includes("e+") ? String(Math.round(Number(v))) : s;
  };
  const utc = (d = new Date()) => d.toISOString().slice(11, 19) + " UTC";
  const token = () => sessionStorage.getItem(KEY) || "";
  const bases = () => window.HX_API_BASES || {};

  // the window shown: ?until=ISO&hours=N in the page's own URL (never a token), passed on to the data routes
  function windowQuery(extra = {}) {
    const here = new URLSearchParams(location.search); const q = new URLSearchParams();
    for (const k of ["until", "hours"]) if (here.get(k)) q.set(k, here.get(k));
    for (const [k, v] of Object.entries(extra)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
    const s = q.toString(); return s ? "?" + s : "";
  }

  // fetch, saying so when the server cannot be reached at all (fetch's own error is only "Failed to fetch")
  async function reach(url, init = {}) {
    try { return await fetch(url, init); }
    catch (err) {
      if (err.name === "AbortError") throw err;
      const e = new Error(`hx server unreachable (${init.method || "GET"} ${url}: ${err.message})`); e.unreachable = true; throw e;
    }
  }

  async function call(method, path, { body, otp } = {}) {
    const family = (path.split("/")[3] || "").split("?")[0];
    const headers = { Authorization: "Bearer " + token() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (otp) headers["X-HX-OTP"] = otp;
    const r = await reach((bases()[family] || "") + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text(); let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { detail: text }; }
    if (!r.ok) { const e = new Error(`${method} ${path}: ${r.status} ${(data && (data.detail || data.title)) || ""}`); e.status = r.status; e.problem = data; throw e; }
    return data;
  }
  const api = (path) => call("GET", path);

  // an action as the signed-in user; a second factor is asked for when the route needs one
  async function act(method, path, body) {
    try { return await call(method, path, { body }); }
    catch (e) {
      if (e.problem && e.problem.title === "second factor required") {
        const otp = window.prompt("This action needs the TOTP code of your token:");
        if (otp) return call(method, path, { body, otp });
      }
      throw e;
    }
  }

  const allows = (least) => state.me !== null && ROLES.indexOf(state.me.role) >= ROLES.indexOf(least);

  function header(page) {
    const h = document.createElement("header");
    const links = PAGES.map(([p, name]) => `<a href="/dashboard${p ? "/" + p : ""}${windowQuery()}" class="${p === page ? "here" : ""}" data-page="${p || "overview"}">${name}</a>`).join("");
    h.innerHTML = `<h1>hx</h1><nav>${links}</nav><span id="hx-status"></span><span id="hx-error"></span><span class="spacer"></span>
      <label class="note">window <select id="hx-hours">${[1, 6, 24, 72, 168].map((n) => `<option value="${n}">${n} h</option>`).join("")}</select></label>
      <span id="hx-login"></span>`;
    document.body.prepend(h);
    const notice = document.createElement("div"); notice.id = "hx-notice"; h.after(notice);
    const hours = new URLSearchParams(location.search).get("hours") || "24";
    if (![...$("hx-hours").options].some((o) => o.value === hours)) $("hx-hours").add(new Option(hours + " h", hours));
    $("hx-hours").value = hours;
    $("hx-hours").onchange = () => { const q = new URLSearchParams(location.search); q.set("hours", $("hx-hours").value); location.search = q.toString(); };
  }

  function loginBox() {
    const box = $("hx-login");
    if (state.me) {
      box.innerHTML = `<span id="hx-me">${esc(state.me.name)} (${esc(state.me.role)})</span> <button id="hx-signout">sign out</button>`;
      $("hx-signout").onclick = () => { sessionStorage.removeItem(KEY); location.reload(); };  // nothing shown stays
    } else {
      box.innerHTML = `<form id="hx-signin"><input id="hx-token" type="password" autocomplete="off" placeholder="API token (viewer or above)"> <button type="submit">sign in</button></form>`;
      $("hx-signin").onsubmit = (ev) => { ev.preventDefault(); sessionStorage.setItem(KEY, $("hx-token").value.trim()); signIn(); };
    }
  }

  async function signIn() {
    state.me = null;
    if (token()) {
      try { state.me = await api("/api/v1/whoami"); $("hx-error").textContent = ""; }
      catch (e) { sessionStorage.removeItem(KEY); $("hx-error").textContent = "sign-in refused: " + e.message; }
    }
    loginBox();
    if (!state.me) signInNotice(); else $("hx-notice").style.display = "none";
    if (state.me && state.refresh) tick();
  }

  async function tick() {
    if (!state.me || !state.refresh) return;
    try { await state.refresh(); state.updated = utc(); $("hx-status").textContent = "updated " + state.updated; $("hx-error").textContent = ""; }
    catch (e) {
      $("hx-error").textContent = e.message + (e.unreachable && state.updated ? `; the figures shown are from ${state.updated}` : "");
      console.warn(e);
    }
  }

  // start a page: header, sign-in, then refresh() now and every ms
  function start(page, refresh, ms = 10000) {
    header(page); state.refresh = refresh; signIn();
    state.timer = setInterval(tick, ms);
  }

  // before sign-in every panel is empty: say why
  function signInNotice() {
    const el = $("hx-notice");
    el.textContent = "Sign in with an API token (viewer or above) to see this dashboard: every figure needs one (hx token create, or admin.token in the demo's data directory).";
    el.style.display = "block";
  }

  // when the window holds nothing, say when the platform last recorded something and offer that window
  function notice(data, empty) {
    const el = $("hx-notice");
    if (!empty || !data.latest_event_at || data.latest_event_at >= data.window.since) { el.style.display = "none"; return; }
    const q = new URLSearchParams(location.search); q.set("until", data.latest_event_at);
    el.innerHTML = `Nothing recorded in this window (${esc(data.window.since)} .. ${esc(data.window.until)}). The platform last recorded something at ${esc(data.latest_event_at)}: <a href="?${esc(q.toString())}">show the window ending then</a>.`;
    el.style.display = "block";
  }

  const DARK = { paper_bgcolor: "#1b2229", plot_bgcolor: "#1b2229", font: { color: "#d8dee9", size: 11 },
    margin: { l: 50, r: 12, t: 28, b: 36 }, legend: { orientation: "h", y: -0.2 }, xaxis: { gridcolor: "#2b333b" }, yaxis: { gridcolor: "#2b333b" } };

  // draw traces into a chart element, or say why there is nothing to draw
  function plot(id, traces, layout = {}, why = "no data in this window") {
    const el = $(id);
    const points = traces.reduce((n, t) => n + ((t.y || t.x || t.values || []).filter((v) => v !== null && v !== undefined).length), 0);
    if (!points) { Plotly.purge(el); el.innerHTML = `<p class="note empty">${esc(why)}</p>`; el.dataset.points = "0"; el.style.height = ""; return; }
    if (el.querySelector("p.empty")) el.innerHTML = "";
    // the element holds the chart's height: a resize (autosize) takes the element's, which would be the CSS minimum
    el.style.height = layout.height ? layout.height + "px" : "";
    Plotly.react(el, traces, { ...DARK, ...layout, xaxis: { ...DARK.xaxis, ...(layout.xaxis || {}) }, yaxis: { ...DARK.yaxis, ...(layout.yaxis || {}) } },
      { displaylogo: false, responsive: true, displayModeBar: false });
    el.dataset.points = String(points);
    if (!el.hxObserved) {  // redraw at the card's width when the layout settles or the window changes
      el.hxObserved = new ResizeObserver(() => { if (el.data) Plotly.Plots.resize(el); });
      el.hxObserved.observe(el);
    }
  }

  function table(id, head, rows) {
    const el = $(id);
    if (!rows.length) { el.innerHTML = `<tr><td class="note">none</td></tr>`; return; }
    el.innerHTML = "<tr>" + head.map((h) => `<th>${esc(h)}</th>`).join("") + "</tr>" +
      rows.map((r) => "<tr>" + r.map((c) => `<td>${c && c.html !== undefined ? c.html : esc(c)}</td>`).join("") + "</tr>").join("");
  }
  const html = (s) => ({ html: s });
  const badge = (s) => html(`<span class="badge ${esc(s)}">${esc(s)}</span>`);

  return { DARK, $, esc, num, utc, reach, api, act, allows, start, tick, notice, plot, table, html, badge, windowQuery, token, bases, me: () => state.me };
})();
