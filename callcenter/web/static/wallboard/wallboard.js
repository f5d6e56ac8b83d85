// 12345 wallboard: today's answer rates, queues and agent seats, refreshed from the API and
// pushed live over /ws/events. Data is only ever written with textContent (no HTML injection).
"use strict";

const REFRESH_MS = 5000;
const TOKEN_KEY = "callcenter.token";

const STATE_LABELS = {
  logged_out: "未登录 logged out",
  ready: "空闲 ready",
  ringing: "振铃 ringing",
  on_call: "通话 on call",
  wrap_up: "话后 wrap-up",
  paused: "小休 paused",
};
const PAUSE_LABELS = {
  break: "休息 break",
  meal: "用餐 meal",
  training: "培训 training",
  meeting: "会议 meeting",
  missed_call: "未接 missed call",
  callback: "回拨 calling back",
};

function percent(rate) {
  return rate === null || rate === undefined ? "–" : (rate * 100).toFixed(1) + "%";
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + " s";
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
}

// "good" when the figure meets the hotline norm, "bad" when it misses it, "" without data
function verdict(value, target, lowerIsBetter = false) {
  if (value === null || value === undefined) return "";
  return (lowerIsBetter ? value <= target : value >= target) ? "good" : "bad";
}

function stateLabel(seat) {
  const label = STATE_LABELS[seat.state] || seat.state;
  return seat.state === "paused" && seat.pause_reason
    ? `${label} · ${PAUSE_LABELS[seat.pause_reason] || seat.pause_reason}`
    : label;
}

function startOfToday(now) {
  const day = new Date(now.getTime());
  day.setHours(0, 0, 0, 0);
  return day.toISOString();
}

function summaryView(summary, queues, now) {
  const waiting = queues.queues.reduce((n, q) => n + q.waiting, 0);
  const longest = queues.queues.reduce((m, q) => Math.max(m, q.longest_wait_seconds), 0);
  return {
    "kpi-connect": { value: percent(summary.connect_rate), verdict: verdict(summary.connect_rate, 0.95) },
    "kpi-15s": {
      value: percent(summary.answered_within_15s_rate),
      verdict: verdict(summary.answered_within_15s_rate, 0.8),
    },
    "kpi-waiting": { value: String(waiting), verdict: waiting ? verdict(longest, 15, true) : "" },
    "kpi-offered": { value: String(summary.incoming), verdict: "" },
    "kpi-abandoned": { value: String(summary.abandoned), verdict: "" },
    "kpi-asa": {
      value: duration(summary.average_speed_of_answer_seconds),
      verdict: verdict(summary.average_speed_of_answer_seconds, 15, true),
    },
    "kpi-satisfaction": { value: percent(summary.satisfaction_rate), verdict: "" },
    notes: {
      // each rate's numerator / denominator, as /metrics/summary names them
      "connect-of": `${summary.answered_by_agent} / ${summary.incoming}`,
      "timely-of": `${summary.answered_within_15s} / ${summary.answered_by_agent}`,
      "asa-queue": duration(summary.average_queue_wait_seconds),
      offered: String(summary.offered),
      longest: waiting ? duration(longest) : "–",
      answered: String(summary.answered_by_agent),
      short: String(summary.short_abandoned),
      deflected: String(summary.deflected),
      aht: duration(summary.average_handle_time_seconds),
      rated: String(Object.values(summary.ratings || {}).reduce((a, b) => a + b, 0)),
    },
    updated: now.toLocaleTimeString("zh-CN", { hour12: false }),
  };
}

function agentRows(agents, summary, now) {
  const handled = new Map(summary.agents.map((a) => [a.agent_id, a.calls_handled]));
  return agents
    .filter((a) => a.active)
    .map((a) => ({
      id: a.id,
      cells: [
        a.id,
        a.name,
        a.seat.extension || "–",
        stateLabel(a.seat),
        a.seat.since && a.seat.state !== "logged_out"
          ? duration((now.getTime() - Date.parse(a.seat.since)) / 1000)
          : "–",
        String(handled.get(a.id) || 0),
      ],
      state: a.seat.state,
    }));
}

function queueRows(queues) {
  return queues.queues.map((q) => ({
    cells: [
      q.queue,
      String(q.waiting),
      q.waiting ? duration(q.longest_wait_seconds) : "–",
      String(q.agents.ready || 0),
      String(q.agents.on_call || 0),
      String(q.agents.ringing || 0),
      String(q.agents.wrap_up || 0),
      String(q.agents.paused || 0),
    ],
    state: "",
  }));
}

function eventLine(event) {
  const at = event.at ? new Date(event.at).toLocaleTimeString("zh-CN", { hour12: false }) : "";
  const parts = Object.entries(event)
    .filter(([k, v]) => k !== "type" && k !== "at" && v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `${k}=${v}`);
  return `${at} ${event.type} ${parts.join(" ")}`.trim();
}

// ---- the page: everything below touches the DOM or the network ----

function fillTable(table, rows) {
  const body = table.tBodies[0];
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement("tr");
      if (row.state) tr.className = "state-" + row.state;
      row.cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (/^\d+$/.test(text)) td.className = "num";
        if (row.state && i === 3) td.classList.add("state");
        tr.append(td);
      });
      if (row.id) tr.dataset.agent = row.id;
      return tr;
    }),
  );
}

// An unattended wall display opens /wallboard#token=<display token>; the token moves to this
// tab's session storage and leaves the address bar (it would end up in screenshots and history).
function displayToken() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const BOARD_READERS = new Set(["supervisor", "admin"]);

// accept(user) for the shared sign-in form: null when the account may watch the board
function accept(user) {
  return BOARD_READERS.has(user.role) ? null : ZH.login.wrongRole;
}

class Wallboard {
  // credential: {token, display}: a wall display's token, or the signed-in person's session
  constructor(credential) {
    this.credential = credential;
    this.timer = null;
    this.pending = null;
    this.socket = null;
    this.retry = 500;
  }

  async get(path) {
    const response = await fetch(path, {
      headers: { Authorization: "Bearer " + this.credential.token },
    });
    if (response.status === 401 || response.status === 403) {
      const body = await response.json().catch(() => ({}));
      throw new AuthError(response.status, body.message || body.detail || response.statusText);
    }
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  async refresh() {
    const now = new Date();
    try {
      const [summary, queues, agents] = await Promise.all([
        this.get("/metrics/summary?from=" + encodeURIComponent(startOfToday(now))),
        this.get("/queues"),
        this.get("/agents"),
      ]);
      this.render(summaryView(summary, queues, now), queueRows(queues), agentRows(agents, summary, now));
    } catch (err) {
      if (err instanceof AuthError) return this.refused(err.message);
      setStatus("bad", "刷新失败 refresh failed: " + err.message);
    }
  }

  render(view, queues, agents) {
    for (const [id, kpi] of Object.entries(view)) {
      const tile = document.getElementById(id);
      if (!tile || !tile.classList.contains("kpi")) continue;
      tile.querySelector(".value").textContent = kpi.value;
      tile.classList.remove("good", "bad");
      if (kpi.verdict) tile.classList.add(kpi.verdict);
    }
    for (const [id, text] of Object.entries(view.notes)) document.getElementById(id).textContent = text;
    document.getElementById("updated").textContent = "更新 updated " + view.updated;
    fillTable(document.getElementById("queues"), queues);
    fillTable(document.getElementById("agents"), agents);
  }

  soon() {
    // a burst of events (a call arriving, routed, answered) is one refresh
    if (this.pending === null) this.pending = setTimeout(() => { this.pending = null; this.refresh(); }, 300);
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const token = encodeURIComponent(this.credential.token);
    const socket = new WebSocket(`${scheme}//${location.host}/ws/events?token=${token}`);
    this.socket = socket;
    socket.onopen = () => { this.retry = 500; setStatus("good", "实时 live"); };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      const list = document.getElementById("events");
      const item = document.createElement("li");
      item.textContent = eventLine(event);
      list.prepend(item);
      while (list.children.length > 50) list.lastElementChild.remove();
      this.soon();
    };
    socket.onclose = (closed) => {
      if (this.socket !== socket) return;
      if (closed.code === 1008) return this.refused(closed.reason || "token refused");
      setStatus("bad", "重连中 reconnecting");
      setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 10000);
    };
  }

  start(who) {
    const login = document.getElementById("login");
    login.replaceChildren();
    login.hidden = true;
    document.getElementById("board").hidden = false;
    document.getElementById("who").textContent = who;
    document.getElementById("logout").hidden = false;
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    this.connect();
  }

  stop() {
    clearInterval(this.timer);
    clearTimeout(this.pending);
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close();
  }

  // the server refused the credential (revoked, expired, or not a supervisor's): sign in again
  refused(reason) {
    this.stop();
    if (this.credential.display) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin("大屏访问令牌被拒绝 display token refused: " + reason);
    } else {
      Session.clear();
      showLogin(ZH.login.expired);
    }
  }
}

class AuthError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function setStatus(kind, text) {
  const status = document.getElementById("status");
  status.className = kind;
  status.textContent = text;
}

let board = null;

function watch(credential, who) {
  board = new Wallboard(credential);
  board.start(who);
}

function showLogin(reason) {
  board = null;
  document.getElementById("board").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  setStatus("bad", "未连接 offline");
  const root = document.getElementById("login");
  root.hidden = false;
  if (reason) root.dataset.notice = reason;
  else delete root.dataset.notice;
  loginForm(root, accept, (user) =>
    watch({ token: Session.load().token, display: false }, user.display_name || user.username)
  );
}

function main() {
  document.getElementById("logout").addEventListener("click", async () => {
    const leaving = board;
    if (leaving) leaving.stop();
    if (leaving && leaving.credential.display) sessionStorage.removeItem(TOKEN_KEY);
    else await Session.logout();
    showLogin("");
  });
  const token = displayToken();
  if (token) return watch({ token, display: true }, "大屏 display");
  const session = Session.load();
  if (session && !accept(session.user)) {
    return watch({ token: session.token, display: false }, session.user.display_name || session.user.username);
  }
  showLogin("");
}

if (typeof module !== "undefined") {
  module.exports = { percent, duration, verdict, stateLabel, startOfToday, summaryView, agentRows, queueRows, eventLine };
} else {
  document.addEventListener("DOMContentLoaded", main);
}
