// The department desk (承办单位工作台): our tickets, earliest deadline first; sign, return, ask for
// more time, reply with files, add notes; answer supervision notices. Rules live in the API.
"use strict";

const D = ZH.departmentDesk;
const $ = (id) => document.getElementById(id);
const ACTIONS = {
  dispatched: ["a-sign", "a-return", "a-note"],
  in_progress: ["a-return", "a-extend", "a-reply", "a-note"],
  extension_requested: ["a-note"],
};

function td(value, className) {
  const cell = document.createElement("td");
  if (value instanceof Node) cell.append(value);
  else cell.textContent = value === null || value === undefined ? "" : String(value);
  if (className) cell.className = className;
  return cell;
}

function fill(table, headers, rows) {
  const head = document.createElement("tr");
  for (const h of headers) head.append(element("th", {}, h));
  table.querySelector("thead").replaceChildren(head);
  table.querySelector("tbody").replaceChildren(...rows);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : "";
}

// working time as the API counts it (seconds of working days), in days and hours
function workingTime(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const hours = Math.floor(Math.abs(seconds) / 3600);
  const text = `${Math.floor(hours / 24)}${D.days}${hours % 24}${D.hours}`;
  return seconds < 0 ? `${D.overdueBy} ${text}` : `${D.left} ${text}`;
}

async function upload(ticketId, file) {
  const session = Session.load();
  const reply = await fetch(
    `/tickets/${ticketId}/attachments?name=${encodeURIComponent(file.name)}`,
    {
      method: "POST",
      headers: {
        Authorization: "Bearer " + session.token,
        "Content-Type": file.type || "application/octet-stream",
      },
      body: file,
    }
  );
  const data = await reply.json().catch(() => null);
  if (!reply.ok) throw new Error((data && data.message) || `HTTP ${reply.status}`);
  return data;
}

async function download(ticketId, attachment) {
  const session = Session.load();
  const reply = await fetch(`/tickets/${ticketId}/attachments/${attachment.id}`, {
    headers: { Authorization: "Bearer " + session.token },
  });
  if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
  const url = URL.createObjectURL(await reply.blob());
  const link = element("a", { href: url, download: attachment.name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const Desk = {
  user: null,
  selected: null,

  say(text) {
    $("status-line").textContent = text;
  },

  async run(work) {
    try {
      await work();
      this.say("");
    } catch (err) {
      this.say(`${D.failed}: ${err.message}`);
    }
  },

  async list() {
    const q = new URLSearchParams();
    if ($("status").value) q.append("status", $("status").value);
    if ($("sla").value) q.set("sla", $("sla").value);
    if ($("q").value.trim()) q.set("q", $("q").value.trim());
    if ($("number").value.trim()) q.set("number", $("number").value.trim());
    const work = await Session.get("/worklist?" + q.toString());
    const rows = work.items.map((t) => {
      const row = element("tr", { className: "ticket" });
      row.dataset.id = t.id;
      row.dataset.sla = t.sla || "";
      row.append(
        td(t.number),
        td(element("span", { className: `sla ${t.sla || ""}` }, D.slaNames[t.sla] || "")),
        td(workingTime(t.working_seconds_left), t.working_seconds_left < 0 ? "late" : ""),
        td(D.statuses[t.status] || t.status),
        td(D.categories[t.category] || t.category || ""),
        td(t.address),
        td(t.summary),
        td(when(t.due_at))
      );
      row.addEventListener("click", () => this.run(() => this.open(t.id)));
      return row;
    });
    if (!rows.length) rows.push(element("tr", {}, td(D.none)));
    fill($("tickets"), D.headers, rows);
    document.body.dataset.listed = String(work.total);
  },

  async supervisions() {
    const found = await Session.get("/supervisions?open=true");
    const rows = found.items.map((s) => {
      const input = element("input", { maxLength: 2000, className: "answer" });
      const button = element("button", { type: "button" }, D.answer);
      button.addEventListener("click", () =>
        this.run(async () => {
          if (!input.value.trim()) return;
          await Session.post(`/tickets/${s.ticket_id}/notes`, {
            note: D.answerPrefix + input.value.trim(),
          });
          input.value = "";
          button.textContent = D.done;
        })
      );
      return element(
        "tr",
        {},
        td(s.ticket_number),
        td(D.reasons[s.reason] || s.reason),
        td(s.note),
        td(when(s.due_at), s.overdue ? "late" : ""),
        td(element("span", {}, input, button))
      );
    });
    if (!rows.length) rows.push(element("tr", {}, td(D.noSupervisions)));
    fill($("supervisions"), D.supervisionHeaders, rows);
  },

  async open(id) {
    const t = await Session.get(`/tickets/${id}`);
    this.selected = t;
    for (const row of document.querySelectorAll("#tickets tr.ticket")) {
      row.classList.toggle("selected", row.dataset.id === String(id));
    }
    $("detail").hidden = false;
    $("d-number").textContent = t.number;
    const facts = [
      [D.status, D.statuses[t.status] || t.status],
      [D.content, t.content],
      [D.caller, t.caller_hidden ? D.hiddenCaller : [t.caller_name, t.caller_phone].join(" ")],
      [D.signDue, when(t.sign_due_at)],
      [D.due, when(t.due_at)],
    ];
    $("facts").replaceChildren(
      ...facts.flatMap(([k, v]) => [element("dt", {}, k), element("dd", {}, v || "")])
    );
    const allowed = new Set(ACTIONS[t.status] || []);
    for (const id of ["a-sign", "a-return", "a-extend", "a-reply", "a-note"]) {
      $(id).hidden = !allowed.has(id);
    }
    const files = await Session.get(`/tickets/${t.id}/attachments`);
    $("attachments").replaceChildren(
      ...files.map((a) => {
        const button = element("button", { type: "button" }, `${D.download} ${a.name}`);
        button.addEventListener("click", () => this.run(() => download(t.id, a)));
        return element("li", {}, button, ` ${when(a.uploaded_at)} ${a.department || ""}`);
      })
    );
    $("detail").scrollIntoView();
  },

  async act(path, body) {
    const id = this.selected.id;
    await Session.post(`/tickets/${id}/${path}`, body);
    await this.list();
    if ((await Session.get(`/worklist?number=${encodeURIComponent(this.selected.number)}`)).total) {
      await this.open(id);
    } else {
      $("detail").hidden = true;
    }
  },

  async reply() {
    const id = this.selected.id;
    for (const file of $("reply-files").files) await upload(id, file);
    await this.act("reply", { result: $("reply-text").value.trim() });
    $("reply-text").value = "";
    $("reply-files").value = "";
  },

  async start(user) {
    this.user = user;
    $("login").replaceChildren();
    $("desk").hidden = false;
    $("who").textContent = `${user.display_name || user.username} · ${user.subject}`;
    $("logout").hidden = false;
    await this.run(async () => {
      await this.supervisions();
      await this.list();
    });
  },
};

function labels() {
  document.title = D.title;
  $("title").textContent = D.title;
  $("logout").textContent = ZH.login.logout;
  const text = {
    "h-supervisions": D.supervisions, "l-status": D.status, "l-sla": D.sla, "l-q": D.search,
    "l-number": D.number, apply: D.apply, "h-tickets": D.tickets, "h-detail": D.detail,
    sign: D.sign, "l-return": D.returnReason, return: D.ret, "l-extend-days": D.extendDays,
    "l-extend-reason": D.extendReason, extend: D.extend, "l-reply": D.replyText, reply: D.reply,
    "l-files": D.files, "l-note": D.note, note: D.addNote, "h-attachments": D.attachments,
  };
  for (const [id, value] of Object.entries(text)) $(id).textContent = value;
  $("status").replaceChildren(
    element("option", { value: "" }, D.allStatuses),
    ...["dispatched", "in_progress", "extension_requested"].map((s) =>
      element("option", { value: s }, D.statuses[s])
    )
  );
  $("sla").replaceChildren(
    element("option", { value: "" }, D.allSla),
    ...["red", "yellow", "green"].map((s) => element("option", { value: s }, D.slaNames[s]))
  );
}

function showLogin(notice) {
  $("desk").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  const root = $("login");
  if (notice) root.dataset.notice = notice;
  loginForm(root, accept, (user) => Desk.start(user));
}

function accept(user) {
  return user.role === "department" && user.subject ? null : D.wrongRole;
}

document.addEventListener("DOMContentLoaded", () => {
  labels();
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    Desk.run(() => Desk.list());
  });
  $("sign").addEventListener("click", () => Desk.run(() => Desk.act("sign", {})));
  $("a-return").addEventListener("submit", (event) => {
    event.preventDefault();
    Desk.run(() => Desk.act("return", { reason: $("return-reason").value.trim() }));
  });
  $("a-extend").addEventListener("submit", (event) => {
    event.preventDefault();
    Desk.run(() =>
      Desk.act("extension", {
        days: Number($("extend-days").value),
        reason: $("extend-reason").value.trim(),
      })
    );
  });
  $("a-reply").addEventListener("submit", (event) => {
    event.preventDefault();
    Desk.run(() => Desk.reply());
  });
  $("a-note").addEventListener("submit", (event) => {
    event.preventDefault();
    Desk.run(async () => {
      await Desk.act("notes", { note: $("note-text").value.trim() });
      $("note-text").value = "";
    });
  });
  $("logout").addEventListener("click", async () => {
    await Session.logout();
    showLogin();
  });
  Session.onExpired = () => showLogin(ZH.login.expired);
  const user = Session.user();
  if (user && !accept(user)) Desk.start(user);
  else showLogin();
});
