// The report page: 考核 and 热点 for a month or quarter, drawn with ECharts from the /reports API.
"use strict";

const T = ZH.reports;
const READERS = new Set(["supervisor", "admin", "department"]);
const $ = (id) => document.getElementById(id);
const charts = {};

function pct(rate) {
  return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(2)}%`;
}

function cell(value, className) {
  const td = document.createElement("td");
  if (value instanceof Node) td.append(value);
  else td.textContent = value === null || value === undefined ? "—" : String(value);
  if (className) td.className = className;
  return td;
}

function fill(table, headers, rows) {
  const head = table.querySelector("thead");
  const body = table.querySelector("tbody");
  const tr = document.createElement("tr");
  for (const h of headers) tr.append(element("th", {}, h));
  head.replaceChildren(tr);
  body.replaceChildren(
    ...rows.map((cells) => {
      const row = document.createElement("tr");
      row.append(...cells);
      return row;
    })
  );
}

function drillLink(text, onClick) {
  const link = element("a", { className: "drill", tabIndex: 0 }, text);
  link.addEventListener("click", onClick);
  link.addEventListener("keydown", (event) => {
    if (event.key === "Enter") onClick();
  });
  return link;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") q.set(key, value);
  }
  return q.toString();
}

function chart(id) {
  if (!charts[id]) charts[id] = echarts.init($(id));
  return charts[id];
}

const Report = {
  user: null,
  assessment: null,
  hot: null,
  intraday: null,

  period() {
    return $("period").value.trim();
  },

  async load() {
    const period = this.period();
    const department = $("department").value;
    $("status").textContent = T.loading;
    try {
      this.assessment = await Session.get(
        "/reports/assessment?" + query({ period, department })
      );
      this.hot = await Session.get("/reports/hot?" + query({ period }));
      const center = this.assessment.center !== null;
      this.intraday = null;
      if (center) {
        const day = $("day").value || this.assessment.start.slice(0, 10);
        this.intraday = await Session.get("/reports/intraday?" + query({ day }));
      }
      this.render();
      $("status").textContent = "";
      document.body.dataset.loaded = period;
    } catch (err) {
      $("status").textContent = `${T.failed}: ${err.message}`;
    }
  },

  render() {
    const a = this.assessment;
    const center = a.center !== null;
    $("center-section").hidden = !center;
    $("agents-section").hidden = !center;
    if (center) {
      fill(
        $("center"),
        T.indicatorHeaders,
        a.center.map((i) => [
          cell(i.name, "text"),
          cell(i.numerator),
          cell(i.denominator),
          cell(pct(i.rate)),
          cell(`${i.at_least ? "≥" : "≤"}${(i.norm * 100).toFixed(0)}%`),
          cell(
            i.met === null ? T.noJudge : i.met ? T.met : T.notMet,
            i.met === null ? "" : i.met ? "met" : "unmet"
          ),
          cell(i.definition, "text"),
        ])
      );
      fill(
        $("agents"),
        T.agentHeaders,
        a.agents.map((g) => [
          cell(g.agent_id, "text"),
          cell(g.name, "text"),
          cell(g.calls),
          cell(g.average_handle_time_seconds === null ? null : g.average_handle_time_seconds.toFixed(1)),
          cell(g.rated),
          cell(pct(g.satisfaction_rate)),
          cell(g.missed),
          cell(g.pauses),
          cell(g.pause_seconds.toFixed(0)),
        ])
      );
      this.drawDaily();
      this.drawIntraday();
    }
    const rate = (d, code) => d.indicators.find((i) => i.code === code).rate;
    const measure = (d, name) =>
      drillLink(d[name], () => this.behindDepartment(d.department, name));
    fill(
      $("league"),
      T.leagueHeaders,
      a.departments.map((d) => [
        cell(d.rank),
        cell(d.name, "text"),
        cell(measure(d, "received")),
        cell(measure(d, "signed_on_time")),
        cell(measure(d, "completed_on_time")),
        cell(measure(d, "returned")),
        cell(measure(d, "extended")),
        cell(measure(d, "overdue")),
        cell(measure(d, "supervised")),
        cell(measure(d, "redo")),
        cell(measure(d, "callback_reached")),
        cell(d.satisfied),
        cell(pct(rate(d, "on_time_rate"))),
        cell(pct(rate(d, "satisfaction_rate"))),
      ])
    );
    this.drawLeague(rate);
    this.renderHot();
  },

  drawDaily() {
    const days = this.assessment.daily;
    const norm = (value, label) => ({
      silent: true,
      symbol: "none",
      data: [{ yAxis: value, name: label }],
      label: { formatter: `${label} ${value * 100}%` },
    });
    chart("chart-daily").setOption(
      {
        tooltip: { trigger: "axis" },
        legend: {},
        xAxis: { type: "category", data: days.map((d) => d.day) },
        yAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: (v) => `${v * 100}%` } },
        series: [
          {
            name: T.connectRate,
            type: "line",
            data: days.map((d) => d.connect_rate),
            markLine: norm(0.95, T.norm),
          },
          {
            name: T.rate15,
            type: "line",
            data: days.map((d) => d.answer_15s_rate),
            markLine: norm(0.8, T.norm),
          },
        ],
      },
      true
    );
  },

  drawIntraday() {
    const slots = this.intraday.slots;
    chart("chart-intraday").setOption(
      {
        tooltip: { trigger: "axis" },
        legend: {},
        xAxis: { type: "category", data: slots.map((s) => s.label) },
        yAxis: [{ type: "value", minInterval: 1 }, { type: "value", minInterval: 1 }],
        series: [
          { name: T.offered, type: "bar", data: slots.map((s) => s.offered) },
          { name: T.answered, type: "bar", data: slots.map((s) => s.answered) },
          { name: T.abandoned, type: "bar", data: slots.map((s) => s.abandoned) },
          { name: T.onDuty, type: "line", step: "start", yAxisIndex: 1, data: slots.map((s) => s.on_duty) },
        ],
      },
      true
    );
  },

  drawLeague(rate) {
    const rows = this.assessment.departments;
    chart("chart-league").setOption(
      {
        tooltip: { trigger: "axis" },
        legend: {},
        xAxis: { type: "category", data: rows.map((d) => d.name) },
        yAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: (v) => `${v * 100}%` } },
        series: [
          { name: T.onTime, type: "bar", data: rows.map((d) => rate(d, "on_time_rate")) },
          { name: T.satisfaction, type: "bar", data: rows.map((d) => rate(d, "satisfaction_rate")) },
        ],
      },
      true
    );
  },

  renderHot() {
    const h = this.hot;
    const names = Object.fromEntries(h.topics.map((t) => [t.topic, t.name]));
    const named = (code) => names[code] || code || T.unclassified;
    const top = h.topics.slice(0, 5).map((t) => t.topic);
    chart("chart-trend").setOption(
      {
        tooltip: { trigger: "axis" },
        legend: {},
        xAxis: { type: "category", data: h.days },
        yAxis: { type: "value", minInterval: 1 },
        series: top.map((code) => ({ name: named(code), type: "line", data: h.trend[code] })),
      },
      true
    );
    fill(
      $("topics"),
      T.countHeaders,
      h.topics.map((t) => [
        cell(named(t.topic), "text"),
        cell(drillLink(t.count, () => this.behindHot({ topic: t.topic }))),
      ])
    );
    fill(
      $("districts"),
      T.countHeaders,
      h.districts.map((d) => [
        cell(d.district || T.unknownDistrict, "text"),
        cell(d.district ? drillLink(d.count, () => this.behindHot({ district: d.district })) : d.count),
      ])
    );
    fill(
      $("rising"),
      T.risingHeaders,
      h.rising.map((r) => [cell(named(r.topic), "text"), cell(r.this_week), cell(r.last_week)])
    );
    fill(
      $("repeats"),
      T.repeatHeaders,
      h.repeats.map((r) => [
        cell(r.address, "text"),
        cell(named(r.topic), "text"),
        cell(drillLink(r.count, () => this.behindHot({ address: r.address, topic: r.topic }))),
      ])
    );
  },

  async behind(path) {
    try {
      const found = await Session.get(path);
      $("behind-section").hidden = false;
      fill(
        $("behind"),
        T.ticketHeaders,
        found.items.map((t) => [
          cell(t.number, "text"),
          cell(new Date(t.created_at).toLocaleString("zh-CN"), "text"),
          cell(t.category, "text"),
          cell(t.address, "text"),
          cell(t.status, "text"),
          cell(t.department, "text"),
        ])
      );
      $("behind-section").scrollIntoView();
    } catch (err) {
      $("status").textContent = `${T.failed}: ${err.message}`;
    }
  },

  behindDepartment(department, measure) {
    this.behind(
      "/reports/assessment/tickets?" + query({ period: this.period(), department, measure })
    );
  },

  behindHot(filter) {
    this.behind("/reports/hot/tickets?" + query({ period: this.period(), ...filter }));
  },

  async download(path, params, name) {
    const session = Session.load();
    const reply = await fetch(path + "?" + query(params), {
      headers: { Authorization: "Bearer " + session.token },
    });
    if (!reply.ok) {
      $("status").textContent = `${T.failed}: HTTP ${reply.status}`;
      return;
    }
    const url = URL.createObjectURL(await reply.blob());
    const link = element("a", { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  },

  async departments() {
    const select = $("department");
    select.replaceChildren(element("option", { value: "" }, T.allDepartments));
    if (this.user.role === "department") {
      select.replaceChildren(element("option", { value: this.user.subject }, this.user.subject));
      return;
    }
    try {
      const found = await Session.get("/departments");
      const items = Array.isArray(found) ? found : found.items || [];
      for (const d of items) select.append(element("option", { value: d.code }, d.name));
    } catch (err) {
      // the list is a convenience: all departments remain selectable as "all"
    }
  },

  async start(user) {
    this.user = user;
    $("login").replaceChildren();
    $("report").hidden = false;
    $("who").textContent = user.display_name || user.username;
    $("logout").hidden = false;
    await this.departments();
    await this.load();
  },
};

function accept(user) {
  return READERS.has(user.role) ? null : T.wrongRole;
}

function labels() {
  document.title = T.title;
  $("title").textContent = T.title;
  $("logout").textContent = ZH.login.logout;
  const text = {
    "l-period": T.period, "l-department": T.department, "l-day": T.day, show: T.refresh,
    xlsx: T.xlsx, csv: T.csv, "hot-xlsx": T.hotXlsx, "h-center": T.center, "h-daily": T.daily,
    "h-intraday": T.intraday, "h-league": T.league, "h-agents": T.agents, "h-hot": T.hot,
    "h-topics": T.topics, "h-districts": T.districts, "h-rising": T.rising,
    "h-repeats": T.repeats, "h-behind": T.behind,
  };
  for (const [id, value] of Object.entries(text)) $(id).textContent = value;
}

function showLogin(notice) {
  $("report").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  const root = $("login");
  if (notice) root.dataset.notice = notice;
  loginForm(root, accept, (user) => Report.start(user));
}

document.addEventListener("DOMContentLoaded", () => {
  labels();
  const now = new Date();
  $("period").value = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
  $("controls").addEventListener("submit", (event) => {
    event.preventDefault();
    Report.load();
  });
  const fileParams = () => ({ period: Report.period(), department: $("department").value });
  $("xlsx").addEventListener("click", () =>
    Report.download("/reports/assessment", { ...fileParams(), format: "xlsx" },
      `考核-${Report.period()}.xlsx`));
  $("csv").addEventListener("click", () =>
    Report.download("/reports/assessment", { ...fileParams(), format: "csv" },
      `考核-${Report.period()}.csv`));
  $("hot-xlsx").addEventListener("click", () =>
    Report.download("/reports/hot", { period: Report.period(), format: "xlsx" },
      `热点-${Report.period()}.xlsx`));
  $("logout").addEventListener("click", async () => {
    await Session.logout();
    showLogin();
  });
  Session.onExpired = () => showLogin(ZH.login.expired);
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  const user = Session.user();
  if (user && !accept(user)) Report.start(user);
  else showLogin();
});
