// The signed-in person's session (a bearer token from POST /auth/login, kept in this tab's
// session storage), the JSON API with it, and the live event feed.
"use strict";

const SESSION_KEY = "callcenter.session";

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function problemText(data, status) {
  if (!data) return `HTTP ${status}`;
  if (typeof data.message === "string") return data.message;
  if (typeof data.detail === "string") return data.detail;
  if (Array.isArray(data.detail)) return data.detail.map((d) => d.msg).join("; ");
  return `HTTP ${status}`;
}

const Session = {
  onExpired: null,

  load() {
    try {
      return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    } catch (err) {
      return null;
    }
  },

  save(session) {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  },

  clear() {
    sessionStorage.removeItem(SESSION_KEY);
  },

  user() {
    const session = this.load();
    return session ? session.user : null;
  },

  async request(method, path, body) {
    const session = this.load();
    const headers = { Accept: "application/json" };
    if (session) headers.Authorization = "Bearer " + session.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const reply = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (reply.status === 204) return null;
    let data = null;
    try {
      data = await reply.json();
    } catch (err) {
      data = null;
    }
    if (!reply.ok) {
      if (reply.status === 401 && path !== "/auth/login") {
        this.clear();
        if (this.onExpired) this.onExpired();
      }
      throw new ApiError(reply.status, data && data.error, problemText(data, reply.status));
    }
    return data;
  },

  get(path) {
    return this.request("GET", path);
  },

  post(path, body) {
    return this.request("POST", path, body === undefined ? {} : body);
  },

  async login(username, password) {
    const data = await this.request("POST", "/auth/login", { username, password });
    this.save(data);
    return data;
  },

  async logout() {
    try {
      await this.request("POST", "/auth/logout");
    } catch (err) {
      // an expired session is logged out already
    }
    this.clear();
  },

  // /ws/events with this session; reconnects until stop() is called
  feed(onEvent, onStatus) {
    let socket = null;
    let stopped = false;
    let retry = 500;
    const open = () => {
      const session = this.load();
      if (stopped || !session) return;
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(
        `${scheme}//${location.host}/ws/events?token=${encodeURIComponent(session.token)}`
      );
      socket.onopen = () => {
        retry = 500;
        onStatus(true);
      };
      socket.onmessage = (message) => {
        try {
          onEvent(JSON.parse(message.data));
        } catch (err) {
          console.error(err);
        }
      };
      socket.onclose = () => {
        onStatus(false);
        if (!stopped) setTimeout(open, (retry = Math.min(retry * 2, 10000)));
      };
    };
    open();
    return {
      stop() {
        stopped = true;
        if (socket) socket.close();
      },
    };
  },
};

if (typeof module !== "undefined") module.exports = { Session, ApiError };
