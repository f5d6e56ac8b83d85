// 12345 agent desk: seat, screen pop, ticket intake, knowledge and in-call actions. Every action
// calls the same JSON API a script would; data is written with textContent only.
"use strict";

const $ = (id) => document.getElementById(id);
const T = ZH.desk;
const DEBOUNCE_MS = 350;
const DESK_ROLES = ["agent", "supervisor", "admin"];

const desk = {
  user: null,
  agentId: null,
  seat: null,
  call: null, // the call ringing or talking at this seat (GET /agents/{id}/current-call)
  queues: null,
  queuesAt: 0,
  feed: null,
  topics: [],
  departments: [],
  draft: null,
  links: new Set(),
  answer: null,
  searches: { dup: 0, kb: 0 },
};

function el(tag, props, ...children) {
  return element(tag, props, ...children);
}

function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${r}` : `${m}:${r}`;
}

function localTime(iso) {
  return iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : "";
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function showError(err) {
  $("desk-error").textContent = err ? `${T.error}: ${err.message || err}` : "";
}

async function attempt(fn) {
  try {
    showError(null);
    return await fn();
  } catch (err) {
    showError(err);
    return undefined;
  }
}

// ---- boot and sign-in ------------------------------------------------------------------------

function refusal(user) {
  if (!DESK_ROLES.includes(user.role)) return ZH.login.wrongRole;
  if (!user.subject) return ZH.login.noSeat;
  return null;
}

function showLogin(notice) {
  if (desk.feed) desk.feed.stop();
  desk.feed = null;
  $("desk").hidden = true;
  const root = $("login-root");
  root.hidden = false;
  root.dataset.notice = notice || "";
  loginForm(root, refusal, start);
}

function labels() {
  document.title = `${T.title} · agent desk`;
  $("desk-title").textContent = T.title;
  for (const [id, key] of [
    ["seat-login", "login"], ["seat-ready", "ready"], ["seat-pause", "pause"],
    ["seat-end-wrap", "endWrapUp"], ["seat-extend-wrap", "extendWrapUp"], ["seat-logout", "logout"],
  ]) {
    $(id).textContent = T.actions[key];
    $(id).title = T.actionTitles[key];
  }
  $("pause-reason").replaceChildren(
    ...["break", "meal", "training", "meeting"].map((r) => el("option", { value: r }, T.pauses[r]))
  );
  $("user-logout").textContent = ZH.login.logout;
  $("pop-title").textContent = T.pop;
  $("pop-empty").textContent = T.noCall;
  $("pop-waited-label").textContent = T.waited;
  $("pop-ivr-label").textContent = T.ivr;
  $("pop-tickets-title").textContent = T.earlierTickets;
  $("pop-tickets").tHead.rows[0].replaceChildren(...T.ticketCols.map((c) => el("th", {}, c)));
  $("pop-calls-title").textContent = T.earlierCalls;
  $("incall-title").textContent = T.inCall;
  $("silent-call").textContent = T.silent;
  $("threeway-label").textContent = T.threeWayPick;
  $("threeway-dial").textContent = T.threeWay;
  $("rating-note").textContent = T.rating;
  $("intake-title").textContent = T.intake;
  $("category-label").textContent = T.category;
  const fieldset = $("categories");
  for (const [value, text] of Object.entries(T.categories)) {
    fieldset.append(
      el("label", {}, el("input", { type: "radio", name: "category", value, id: `category-${value}` }), text)
    );
  }
  $("topic-label").textContent = T.topic;
  $("department-label").textContent = T.department;
  $("phone-label").textContent = T.phone;
  $("name-label").textContent = T.callerName;
  $("address-label").textContent = T.address;
  $("content-label").textContent = T.content;
  $("content").title = "Alt+N";
  $("confidential-label").textContent = T.confidential;
  $("answer-cancel").textContent = T.cancelAnswer;
  $("dups-title").textContent = T.duplicates;
  $("save").textContent = T.save;
  $("new-ticket").textContent = T.newTicket;
  $("saved-text").textContent = T.saved;
  $("saved-number-label").textContent = T.ticketNumber;
  $("saved-code-label").textContent = T.queryCode;
  $("kb-title").textContent = T.kb;
  $("kb-query").placeholder = T.kbSearch;
  $("kb-query").title = "Alt+K";
  $("callbacks-title").textContent = T.callbacks;
  $("recent-title").textContent = T.recent;
  $("recent-calls-title").textContent = T.recentCalls;
  $("recent-tickets-title").textContent = T.recentTickets;
  $("shortcuts").textContent = T.shortcuts;
  $("feed-status").textContent = T.offline;
}

async function start(user) {
  desk.user = user;
  desk.agentId = user.subject;
  $("login-root").hidden = true;
  $("login-root").replaceChildren();
  $("desk").hidden = false;
  $("who").textContent = `${user.display_name}（${user.subject}）`;
  restoreDraft();
  desk.feed = Session.feed(onEvent, (live) => {
    $("feed-status").textContent = live ? T.live : T.offline;
    $("feed-status").className = live ? "good" : "bad";
    // after a (re)connection, catch up on what the feed may have missed
    if (live) {
      refreshSeat();
      refreshQueues();
      refreshCall();
    }
  });
  await Promise.all([
    refreshSeat(), refreshQueues(), refreshCall(), loadTopics(), loadDepartments(),
    refreshCallbacks(), refreshRecent(),
  ]);
}

// ---- seat -----------------------------------------------------------------------------------

async function refreshSeat() {
  const agent = await attempt(() => Session.get(`/agents/${encodeURIComponent(desk.agentId)}`));
  if (agent) showSeat(agent.seat);
}

function showSeat(seat) {
  desk.seat = seat;
  const state = seat.state;
  let text = T.states[state] || state;
  if (state === "paused" && seat.pause_reason) text += ` · ${T.pauses[seat.pause_reason] || seat.pause_reason}`;
  $("seat-state").textContent = text;
  $("seat-state").className = `state ${state}`;
  $("seat-state").dataset.state = state;
  const out = state === "logged_out";
  $("seat-login").disabled = !out;
  $("seat-ready").disabled = !(state === "paused" || state === "wrap_up");
  $("seat-pause").disabled = !(state === "ready" || state === "wrap_up");
  $("seat-end-wrap").disabled = state !== "wrap_up";
  $("seat-extend-wrap").disabled = state !== "wrap_up";
  $("seat-logout").disabled = out || state === "on_call" || state === "ringing";
  const talking = state === "on_call";
  $("silent-call").disabled = !talking;
  $("threeway-dial").disabled = !talking;
  tick();
}

function tick() {
  const seat = desk.seat;
  $("seat-timer").textContent =
    seat && seat.since && seat.state !== "logged_out"
      ? duration((Date.now() - Date.parse(seat.since)) / 1000)
      : "";
  if (seat && seat.state === "wrap_up" && seat.wrap_up_until) {
    $("seat-timer").textContent += ` (−${duration((Date.parse(seat.wrap_up_until) - Date.now()) / 1000)})`;
  }
  showQueues();
  if (desk.call && desk.call.state === "ringing") {
    $("pop-waited").textContent = duration(desk.call.waited_seconds + (Date.now() - desk.call.seenAt) / 1000);
  }
}

async function seatAction(action) {
  const path = `/agents/${encodeURIComponent(desk.agentId)}/${action}`;
  const body =
    action === "pause" ? { reason: $("pause-reason").value }
    : action === "wrap-up/extend" ? { seconds: 60 }
    : {};
  const agent = await attempt(() => Session.post(path, body));
  if (agent) showSeat(agent.seat);
}

// ---- queue picture --------------------------------------------------------------------------

async function refreshQueues() {
  const data = await attempt(() => Session.get("/queues"));
  if (!data) return;
  desk.queues = data;
  desk.queuesAt = Date.now();
  showQueues();
}

function showQueues() {
  const data = desk.queues;
  if (!data) return;
  const waiting = data.queues.reduce((n, q) => n + q.waiting, 0);
  const longest = data.queues.reduce((m, q) => Math.max(m, q.waiting ? q.longest_wait_seconds : 0), 0);
  const grown = waiting ? longest + (Date.now() - desk.queuesAt) / 1000 : 0;
  $("queue-picture").textContent = `${T.queue}: ${T.waiting} ${waiting} · ${T.longest} ${waiting ? duration(grown) : "–"}`;
  $("queue-picture").dataset.waiting = String(waiting);
}

const queuesSoon = debounce(refreshQueues, 300);

// ---- live feed ------------------------------------------------------------------------------

function onEvent(event) {
  const mine = event.agent_id === desk.agentId;
  if (event.type === "agent_state" && mine) {
    refreshSeat();
  }
  if (event.type === "call_offered" && mine) {
    refreshCall();
  } else if (event.type === "call_answered" && mine) {
    refreshCall();
  } else if (
    (event.type === "call_ended" || event.type === "call_missed") &&
    desk.call && event.call_id === desk.call.linkedid
  ) {
    callEnded();
  }
  if (event.type === "agent_call" && mine) refreshCallbacks();
  if (["call_queued", "call_offered", "call_answered", "call_ended", "call_missed", "call_deflected", "agent_state"].includes(event.type)) {
    queuesSoon();
  }
}

// ---- screen pop -----------------------------------------------------------------------------

async function refreshCall() {
  const call = await attempt(() =>
    Session.get(`/agents/${encodeURIComponent(desk.agentId)}/current-call`)
  );
  if (call === undefined) return;
  if (!call) {
    if (desk.call) callEnded();
    return;
  }
  const fresh = !desk.call || desk.call.linkedid !== call.linkedid;
  call.seenAt = Date.now();
  desk.call = call;
  showCall(call);
  if (fresh) {
    $("pop-tickets").tBodies[0].replaceChildren();
    $("pop-calls").replaceChildren();
    $("pop-repeat").textContent = "";
    startTicketFor(call);
    const history = await attempt(() =>
      Session.get(
        `/callers/${encodeURIComponent(call.caller_number)}/history?excluding=${encodeURIComponent(call.linkedid)}`
      )
    );
    if (history && desk.call && desk.call.linkedid === call.linkedid) showHistory(history);
  }
}

function showCall(call) {
  $("pop-empty").hidden = true;
  $("pop-call").hidden = false;
  $("pop").dataset.call = call.linkedid;
  $("pop-number").textContent = call.caller_number || "—";
  $("pop-state").textContent = call.state === "on_call" ? T.onCall : T.ringing;
  $("pop-state").dataset.state = call.state;
  $("pop-waited").textContent = duration(call.waited_seconds);
  const path = call.ivr_path;
  $("pop-ivr").textContent = path.length ? path.join(" → ") : T.noIvr;
}

function showHistory(history) {
  $("pop-repeat").textContent = history.repeat_caller ? T.repeat : T.firstTime;
  $("pop-repeat").className = history.repeat_caller ? "badge repeat" : "badge";
  $("pop-repeat").title = T.repeatNote(history.repeat_window_hours);
  const rows = history.tickets.map((t) =>
    el(
      "tr",
      {},
      el("td", {}, t.number),
      el("td", {}, T.statuses[t.status] || t.status),
      el("td", {}, t.sla ? el("span", { className: `sla ${t.sla}` }, T.sla[t.sla]) : "—"),
      el("td", { className: "code" }, t.query_code),
      el("td", {}, t.category ? T.categories[t.category] : ""),
      el("td", {}, t.content.slice(0, 40))
    )
  );
  for (const row of rows) row.dataset.ticket = row.firstChild.textContent;
  $("pop-tickets").tBodies[0].replaceChildren(
    ...(rows.length ? rows : [el("tr", {}, el("td", { colSpan: 6 }, T.none))])
  );
  const calls = history.calls.map((c) =>
    el("li", {}, `${localTime(c.entered_at)} · ${T.directions[c.direction] || c.direction} · ${T.dispositions[c.disposition] || c.disposition}`)
  );
  $("pop-calls").replaceChildren(...(calls.length ? calls : [el("li", {}, T.none)]));
  $("pop").dataset.popped = "1";
}

function callEnded() {
  if (desk.call) {
    $("pop-state").textContent = T.ended;
    $("pop-state").dataset.state = "ended";
    desk.call.state = "ended";
  }
  desk.call = null;
  refreshRecent();
}

// ---- ticket intake --------------------------------------------------------------------------

function draftKey() {
  return `callcenter.desk.draft.${desk.agentId}`;
}

function formDraft() {
  const checked = document.querySelector("input[name=category]:checked");
  return {
    category: checked ? checked.value : null,
    // before the topic tree has loaded, the select cannot hold the draft's topic yet
    topic: $("topic").options.length ? $("topic").value : (desk.draft && desk.draft.topic) || "",
    caller_phone: $("caller-phone").value.trim(),
    caller_name: $("caller-name").value.trim(),
    address: $("address").value.trim(),
    content: $("content").value,
    confidential: $("confidential").checked,
    call_id: desk.draft ? desk.draft.call_id : null,
    linkedid: desk.draft ? desk.draft.linkedid : null,
    links: [...desk.links],
    answer: desk.answer,
  };
}

function fillForm(d) {
  for (const input of document.querySelectorAll("input[name=category]")) input.checked = input.value === d.category;
  $("topic").value = d.topic || "";
  $("caller-phone").value = d.caller_phone || "";
  $("caller-name").value = d.caller_name || "";
  $("address").value = d.address || "";
  $("content").value = d.content || "";
  $("confidential").checked = Boolean(d.confidential);
  desk.links = new Set(d.links || []);
  desk.answer = d.answer || null;
  showAnswer();
  showDepartment();
}

function saveDraft() {
  desk.draft = formDraft();
  localStorage.setItem(draftKey(), JSON.stringify(desk.draft));
}

function restoreDraft() {
  let stored = null;
  try {
    stored = JSON.parse(localStorage.getItem(draftKey()) || "null");
  } catch (err) {
    stored = null;
  }
  desk.draft = stored || { call_id: null, linkedid: null };
  if (stored) {
    fillForm(stored);
    $("draft-note").textContent = T.draftRestored;
    searchSoon();
  }
}

function clearForm() {
  localStorage.removeItem(draftKey());
  desk.draft = { call_id: null, linkedid: null };
  fillForm({});
  $("duplicates").replaceChildren();
  $("kb-results").replaceChildren();
  $("kb-status").textContent = "";
  $("draft-note").textContent = "";
}

function startTicketFor(call) {
  // a new call: the form is for this caller, unless the agent is still writing for the same call
  if (desk.draft && desk.draft.linkedid === call.linkedid) {
    desk.draft.call_id = call.call_id ?? desk.draft.call_id;
    saveDraft();
    return;
  }
  clearForm();
  $("saved").hidden = true;
  desk.draft = { call_id: call.call_id, linkedid: call.linkedid };
  $("caller-phone").value = call.caller_number;
  saveDraft();
}

async function loadTopics() {
  const topics = await attempt(() => Session.get("/topics"));
  if (!topics) return;
  desk.topics = topics.filter((t) => t.active);
  const byParent = new Map();
  for (const t of desk.topics) {
    const key = t.parent || "";
    if (!byParent.has(key)) byParent.set(key, []);
    byParent.get(key).push(t);
  }
  const options = [el("option", { value: "" }, T.topicNone)];
  const walk = (parent, depth) => {
    for (const t of byParent.get(parent) || []) {
      options.push(el("option", { value: t.code }, `${"　".repeat(depth)}${t.name}`));
      walk(t.code, depth + 1);
    }
  };
  walk("", 0);
  const chosen = $("topic").value || (desk.draft && desk.draft.topic) || "";
  $("topic").replaceChildren(...options);
  $("topic").value = chosen;
  showDepartment();
}

function showDepartment() {
  // the department a topic suggests: the topic's own department if the dictionary names one,
  // else the nearest ancestor's
  let code = $("topic").value;
  let found = null;
  const byCode = new Map(desk.topics.map((t) => [t.code, t]));
  while (code && !found) {
    const topic = byCode.get(code);
    if (!topic) break;
    found = topic.department || null;
    code = topic.parent;
  }
  const department = desk.departments.find((d) => d.code === found);
  $("suggested-department").textContent = department ? department.name : found || "—";
  if (department) $("threeway-department").value = department.code;
}

async function loadDepartments() {
  const departments = await attempt(() => Session.get("/departments"));
  if (!departments) return;
  desk.departments = departments.filter((d) => d.active);
  $("threeway-department").replaceChildren(
    ...desk.departments
      .filter((d) => d.hotline)
      .map((d) => el("option", { value: d.code }, `${d.name} ${d.hotline}`))
  );
  showDepartment();
}

const searchSoon = debounce(() => {
  findDuplicates();
  searchKnowledge($("content").value);
}, DEBOUNCE_MS);

function onTyping() {
  saveDraft();
  searchSoon();
}

async function findDuplicates() {
  const d = formDraft();
  const turn = ++desk.searches.dup;
  if (!d.content.trim() || (!d.caller_phone && !d.address)) {
    $("duplicates").replaceChildren(el("li", {}, T.noDuplicates));
    return;
  }
  const found = await attempt(() =>
    Session.post("/tickets/duplicates", {
      content: d.content, caller_phone: d.caller_phone, address: d.address,
    })
  );
  if (!found || turn !== desk.searches.dup) return;
  const items = found.map((s) => {
    const button = el("button", { type: "button", className: "link" }, desk.links.has(s.ticket_id) ? T.linked : T.link);
    button.addEventListener("click", () => {
      if (desk.links.has(s.ticket_id)) desk.links.delete(s.ticket_id);
      else desk.links.add(s.ticket_id);
      button.textContent = desk.links.has(s.ticket_id) ? T.linked : T.link;
      saveDraft();
    });
    const li = el(
      "li", {},
      `${s.number} · ${T.statuses[s.status] || s.status} · ${Math.round(s.score * 100)}% `,
      button
    );
    li.dataset.ticket = s.number;
    return li;
  });
  $("duplicates").replaceChildren(...(items.length ? items : [el("li", {}, T.noDuplicates)]));
}

// keep only text and <mark> from the server's snippet (it is escaped text with <mark> hits)
function snippet(html) {
  const doc = new DOMParser().parseFromString(`<p>${html}</p>`, "text/html");
  const out = el("span", { className: "snippet" });
  for (const node of doc.body.firstChild.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) out.append(node.textContent);
    else if (node.nodeName === "MARK") out.append(el("mark", {}, node.textContent));
    else out.append(node.textContent);
  }
  return out;
}

async function searchKnowledge(text) {
  const q = text.trim().slice(0, 100);
  const turn = ++desk.searches.kb;
  if (!q) {
    $("kb-results").replaceChildren();
    $("kb-status").textContent = "";
    return;
  }
  let found;
  try {
    found = await Session.get(`/knowledge/search?q=${encodeURIComponent(q)}&limit=5`);
  } catch (err) {
    if (turn !== desk.searches.kb) return;
    $("kb-results").replaceChildren();
    $("kb-status").textContent = err.status === 404 || err.status === 405 ? T.kbUnavailable : `${T.error}: ${err.message}`;
    $("kb-status").dataset.unavailable = err.status === 404 ? "1" : "";
    return;
  }
  if (turn !== desk.searches.kb) return;
  $("kb-status").textContent = found.items.length ? "" : T.kbEmpty;
  $("kb-results").replaceChildren(
    ...found.items.map((item) => {
      const use = el("button", { type: "button" }, T.answerDirectly);
      use.addEventListener("click", () => chooseAnswer(item.id));
      const li = el("li", {}, el("strong", {}, item.title), " ", use, el("br"), snippet(item.snippet_html));
      li.dataset.entry = String(item.id);
      return li;
    })
  );
}

async function chooseAnswer(entryId) {
  const entry = await attempt(() => Session.get(`/knowledge/entries/${entryId}`));
  if (!entry) return;
  desk.answer = {
    entry_id: entry.id, version: entry.version, title: entry.title, text: entry.answer_markdown,
  };
  showAnswer();
  saveDraft();
}

function showAnswer() {
  $("answer-choice").hidden = !desk.answer;
  $("answer-text").textContent = desk.answer ? T.answerWith(desk.answer.title) : "";
}

async function saveTicket(event) {
  if (event) event.preventDefault();
  const d = formDraft();
  $("save").disabled = true;
  $("save").textContent = T.saving;
  try {
    showError(null);
    if (!d.call_id && d.linkedid && desk.call && desk.call.linkedid === d.linkedid) {
      d.call_id = desk.call.call_id;
    }
    if (!d.call_id && d.linkedid) {
      // the call record is written a moment after the call starts: ask again
      const call = await Session.get(`/agents/${encodeURIComponent(desk.agentId)}/current-call`);
      if (call && call.linkedid === d.linkedid) d.call_id = call.call_id;
    }
    const created = await Session.post("/tickets", {
      source: "call",
      call_id: d.call_id || null,
      category: d.category,
      topic: d.topic,
      caller_phone: d.caller_phone,
      caller_name: d.caller_name,
      address: d.address,
      content: d.content,
      confidential: d.confidential,
    });
    const ticket = created.ticket;
    for (const other of d.links) {
      await Session.post(`/tickets/${ticket.id}/links`, { ticket_id: other, note: T.linkNote });
    }
    if (d.answer) {
      await Session.post(`/tickets/${ticket.id}/answer`, {
        answer: d.answer.text,
        knowledge_entry_id: d.answer.entry_id,
        knowledge_version: d.answer.version,
      });
    }
    clearForm();
    $("saved-number").textContent = ticket.number;
    $("saved-code").textContent = ticket.query_code;
    $("saved").hidden = false;
    refreshRecent();
  } catch (err) {
    showError(err);
  } finally {
    $("save").disabled = false;
    $("save").textContent = T.save;
  }
}

// ---- in-call actions ------------------------------------------------------------------------

async function silentCall() {
  const done = await attempt(() => Session.post(`/agents/${encodeURIComponent(desk.agentId)}/silent-call`));
  if (done) {
    $("incall-result").textContent = T.silentDone;
    showSeat(done.seat);
  }
}

async function threeWay() {
  const code = $("threeway-department").value;
  if (!code) return;
  const department = desk.departments.find((d) => d.code === code);
  const done = await attempt(() =>
    Session.post(`/agents/${encodeURIComponent(desk.agentId)}/three-way`, { department: code })
  );
  if (done) $("incall-result").textContent = T.threeWayDone(department ? department.name : code);
}

async function refreshCallbacks() {
  const page = await attempt(() => Session.get("/callbacks?limit=10"));
  if (!page) return;
  const items = page.items.map((item) => {
    const dial = el("button", { type: "button" }, T.dial);
    dial.addEventListener("click", async () => {
      const done = await attempt(() =>
        Session.post(`/callbacks/${item.id}/dial`, { agent_id: desk.agentId })
      );
      if (done) dial.textContent = T.dialing;
    });
    return el("li", {}, `${item.caller_number} · ${localTime(item.requested_at)} `, dial);
  });
  $("callbacks").replaceChildren(...(items.length ? items : [el("li", {}, T.noCallbacks)]));
}

async function refreshRecent() {
  const recent = await attempt(() => Session.get(`/agents/${encodeURIComponent(desk.agentId)}/recent?limit=8`));
  if (!recent) return;
  $("recent-calls").replaceChildren(
    ...recent.calls.map((c) => el("li", {}, `${localTime(c.queued_at)} · ${c.caller_number} · ${T.outcomes[c.outcome] || c.outcome}${c.silent ? ` · ${T.silentMark}` : ""}`))
  );
  $("recent-tickets").replaceChildren(
    ...recent.tickets.map((t) =>
      el("li", {}, `${t.number} · ${T.statuses[t.status] || t.status} · ${T.queryCode} `, el("span", { className: "code" }, t.query_code))
    )
  );
}

// ---- wiring ---------------------------------------------------------------------------------

function wire() {
  labels();
  for (const button of document.querySelectorAll("#seat-actions button")) {
    button.addEventListener("click", () => seatAction(button.dataset.action));
  }
  $("user-logout").addEventListener("click", async () => {
    await Session.logout();
    showLogin("");
  });
  $("ticket-form").addEventListener("submit", saveTicket);
  $("ticket-form").addEventListener("input", onTyping);
  $("ticket-form").addEventListener("change", () => {
    showDepartment();
    saveDraft();
  });
  $("new-ticket").addEventListener("click", () => {
    clearForm();
    $("saved").hidden = true;
  });
  $("answer-cancel").addEventListener("click", () => {
    desk.answer = null;
    showAnswer();
    saveDraft();
  });
  $("kb-query").addEventListener("input", debounce(() => searchKnowledge($("kb-query").value), DEBOUNCE_MS));
  $("silent-call").addEventListener("click", silentCall);
  $("threeway-dial").addEventListener("click", threeWay);
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey && event.key === "Enter") {
      event.preventDefault();
      saveTicket();
    } else if (event.altKey && !event.ctrlKey) {
      const target = { 1: "seat-ready", 2: "seat-pause", 3: "seat-end-wrap" }[event.key];
      if (target && !$(target).disabled) {
        event.preventDefault();
        $(target).click();
      } else if (event.key === "n" || event.key === "N") {
        event.preventDefault();
        $("content").focus();
      } else if (event.key === "k" || event.key === "K") {
        event.preventDefault();
        $("kb-query").focus();
      }
    }
  });
  Session.onExpired = () => showLogin(ZH.login.expired);
  setInterval(tick, 1000);
  const user = Session.user();
  if (user && !refusal(user)) start(user);
  else showLogin("");
}

document.addEventListener("DOMContentLoaded", wire);
