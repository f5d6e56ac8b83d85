// The sign-in form every page shares: name and password -> a session, or why not.
"use strict";

function element(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

// accept(user) returns null when the account may use the page, or the reason it may not
function loginForm(root, accept, onLogin) {
  root.replaceChildren();
  const username = element("input", {
    id: "login-username", autocomplete: "username", required: true, autofocus: true,
  });
  const password = element("input", {
    id: "login-password", type: "password", autocomplete: "current-password", required: true,
  });
  const submit = element("button", { id: "login-submit", type: "submit" }, ZH.login.submit);
  const error = element("p", { id: "login-error", className: "error" });
  error.setAttribute("role", "alert");
  const form = element(
    "form",
    { id: "login-form", className: "login" },
    element("h2", {}, ZH.login.title),
    element("label", {}, ZH.login.username, username),
    element("label", {}, ZH.login.password, password),
    submit,
    error
  );
  if (root.dataset.notice) error.textContent = root.dataset.notice;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    submit.textContent = ZH.login.busy;
    error.textContent = "";
    try {
      const data = await Session.login(username.value.trim(), password.value);
      const refused = accept(data.user);
      if (refused) {
        // signed out at once; the password is not left in the form for the next person
        await Session.logout();
        password.value = "";
        error.textContent = refused;
        username.select();
        return;
      }
      password.value = "";
      onLogin(data.user);
    } catch (err) {
      password.value = "";
      error.textContent =
        err.status === 401 ? ZH.login.bad
        : err.status === 423 ? ZH.login.locked
        : `${ZH.login.failed}: ${err.message}`;
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = ZH.login.submit;
    }
  });
  root.append(form);
  username.focus();
}
