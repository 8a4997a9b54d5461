// Live board: a snapshot then updates over SSE (/board/events). No build step, no library.
"use strict";
(function () {
  const key = new URLSearchParams(location.search).get("key") || "";
  const q = key ? "?key=" + encodeURIComponent(key) : "";
  const AMBER_S = 5 * 60;
  const DEST = {
    "command-centre": "110 指挥中心 Command centre",
    "12345": "12345 热线 Hotline",
    "maritime-sar": "海上搜救 Maritime SAR",
    "ocean-fishery": "海洋与渔业 Ocean & fishery",
  };
  const CHANNEL = { call: "电话 call", sms: "短信 SMS", wechat: "微信 WeChat", api: "平台 API" };
  const MILESTONE = { acknowledge: "签收 ack", arrive: "到场 arrive", report: "书面反馈 report" };
  const STATE = {
    issued: "已下达 issued", delivered: "已送达 delivered", acknowledged: "已签收 acked",
    arrived: "已到场 arrived", refused: "拒绝 refused", escalated: "已升级 escalated",
    completed: "已完成 done", reported: "已反馈 reported",
  };
  const state = { alerts: new Map(), orders: new Map(), breaches: [], offsetMs: 0 };

  const $ = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  const serverNow = () => Date.now() + state.offsetMs;
  function hhmmss(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
  }
  function countdown(seconds) {
    const s = Math.abs(Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const body = (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(r).padStart(2, "0");
    return (seconds < 0 ? "超时 +" : "") + body;
  }
  function drillTag(item) {
    return item.status && item.status !== "actual" ? el("span", "tag drill", "演练 DRILL") : null;
  }
  function emptyRow(tbody, cols, text) {
    const tr = el("tr", "empty"); const td = el("td", null, text); td.colSpan = cols;
    tr.appendChild(td); tbody.appendChild(tr);
  }

  function renderAlerts() {
    const tbody = $("alerts"); tbody.textContent = "";
    const items = Array.from(state.alerts.values()).reverse().slice(0, 50);
    $("alert-count").textContent = state.alerts.size;
    if (!items.length) return emptyRow(tbody, 5, "暂无 none yet");
    for (const a of items) {
      const tr = el("tr", a.emergency ? "alert emergency" : "alert");
      tr.dataset.alertId = a.alert_id;
      tr.appendChild(el("td", "time", hhmmss(a.received_at)));
      tr.appendChild(el("td", null, CHANNEL[a.channel] || a.channel));
      const text = el("td", "text", a.text || "（无文字 no text）");
      const drill = drillTag(a); if (drill) text.prepend(drill);
      tr.appendChild(text);
      const dest = el("td", "dest");
      if (a.destination) dest.appendChild(el("span", "badge d-" + a.destination, DEST[a.destination] || a.destination));
      else dest.appendChild(el("span", "badge pending", "分拨中 routing…"));
      tr.appendChild(dest);
      tr.appendChild(el("td", "cat", a.category ? a.category + (a.rule ? " · " + a.rule : "") : ""));
      tbody.appendChild(tr);
    }
  }

  function renderOrders() {
    const tbody = $("orders"); tbody.textContent = "";
    const items = Array.from(state.orders.values()).sort((a, b) => (a.due || "~").localeCompare(b.due || "~"));
    $("order-count").textContent = items.length;
    if (!items.length) return emptyRow(tbody, 5, "暂无 none");
    for (const o of items) {
      const tr = el("tr", "order"); tr.dataset.orderId = o.order_id; tr.dataset.due = o.due || "";
      const code = el("td", "code", o.code); const drill = drillTag(o); if (drill) code.appendChild(drill);
      tr.appendChild(code);
      tr.appendChild(el("td", null, o.unit_id));
      tr.appendChild(el("td", null, STATE[o.state] || o.state));
      tr.appendChild(el("td", null, MILESTONE[o.milestone] || o.milestone || "—"));
      tr.appendChild(el("td", "left"));
      tbody.appendChild(tr);
    }
    tick();
  }

  function renderBreaches() {
    const tbody = $("breaches"); tbody.textContent = "";
    $("breach-count").textContent = state.breaches.length;
    if (!state.breaches.length) return emptyRow(tbody, 4, "暂无 none");
    for (const b of state.breaches.slice(0, 30)) {
      const tr = el("tr", "breach");
      tr.appendChild(el("td", "time", hhmmss(b.at)));
      const code = el("td", null, b.code || b.order_id); const drill = drillTag(b); if (drill) code.appendChild(drill);
      tr.appendChild(code);
      tr.appendChild(el("td", null, b.unit_id));
      tr.appendChild(el("td", null, MILESTONE[b.milestone] || b.milestone));
      tbody.appendChild(tr);
    }
  }

  // Countdowns: amber under 5 minutes, red once the deadline passed or a breach was reported.
  function tick() {
    $("clock").textContent = new Date(serverNow()).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) + " 北京时间";
    for (const tr of document.querySelectorAll("#orders tr.order")) {
      const o = state.orders.get(tr.dataset.orderId); const cell = tr.querySelector("td.left");
      if (!o || !cell) continue;
      tr.classList.remove("amber", "red");
      if (!o.due) { cell.textContent = "—"; continue; }
      const left = (Date.parse(o.due) - serverNow()) / 1000;
      cell.textContent = countdown(left);
      const breached = left < 0 || (o.breached || []).includes(o.milestone);
      if (breached) tr.classList.add("red"); else if (left < AMBER_S) tr.classList.add("amber");
    }
  }

  function setFeed(feed) {
    const pill = $("feed"), banner = $("banner");
    const up = feed.state === "up", waiting = feed.state === "waiting";
    pill.className = "pill " + (up ? "pill-up" : waiting ? "pill-wait" : "pill-down");
    pill.textContent = up ? "实时 live" : waiting ? "等待 waiting" : "中断 feed " + feed.state;
    banner.classList.toggle("hidden", up);
    banner.classList.toggle("warn", waiting);
    const head = waiting ? "⚠ 尚无消费队列，暂无数据 — no consumer queues yet" : "⚠ 消息总线连接中断，画面可能不是最新 — bus feed " + feed.state;
    banner.textContent = up ? "" : head + " since " + hhmmss(feed.since) + (feed.detail ? " (" + feed.detail + ")" : "");
  }

  function applySnapshot(s) {
    if (s.now) state.offsetMs = Date.parse(s.now) - Date.now();
    state.alerts = new Map((s.alerts || []).slice().reverse().map((a) => [a.alert_id, a]));
    state.orders = new Map((s.orders || []).map((o) => [o.order_id, o]));
    state.breaches = s.breaches || [];
    setFeed(s.feed || { state: "unknown" });
    renderAlerts(); renderOrders(); renderBreaches();
  }

  function connect() {
    const source = new EventSource("/board/events" + q);
    source.addEventListener("snapshot", (e) => applySnapshot(JSON.parse(e.data)));
    source.addEventListener("alert", (e) => {
      const a = JSON.parse(e.data); state.alerts.delete(a.alert_id); state.alerts.set(a.alert_id, a);
      while (state.alerts.size > 200) state.alerts.delete(state.alerts.keys().next().value);
      renderAlerts();
    });
    source.addEventListener("order", (e) => { const o = JSON.parse(e.data); state.orders.set(o.order_id, o); renderOrders(); });
    source.addEventListener("order_closed", (e) => { state.orders.delete(JSON.parse(e.data).order_id); renderOrders(); });
    source.addEventListener("breach", (e) => { state.breaches.unshift(JSON.parse(e.data)); state.breaches.length = Math.min(state.breaches.length, 50); renderBreaches(); });
    source.addEventListener("feed", (e) => setFeed(JSON.parse(e.data)));
    source.onerror = () => setFeed({ state: "disconnected", since: new Date(serverNow()).toISOString(), detail: "reconnecting 重连中" });
  }

  setInterval(tick, 1000);
  tick();
  connect();
})();
