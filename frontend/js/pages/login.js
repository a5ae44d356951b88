// Login form: POST /auth/login, then hand over to the role's home page.

import { ApiError, request } from "../api.js";
import { h } from "../dom.js";
import { store } from "../session.js";

export function render(main, { message, onLogin }) {
  const error = h("p", { class: "field-error", id: "login-error", role: "alert" });
  const email = h("input", {
    id: "login-email",
    name: "email",
    type: "email",
    autocomplete: "username",
    required: true,
  });
  const password = h("input", {
    id: "login-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const button = h("button", { type: "submit", class: "btn btn-primary btn-block" }, "Log in");

  const onSubmit = async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!email.value.trim() || !password.value) {
      error.textContent = "Enter your email and password.";
      return;
    }
    button.disabled = true;
    try {
      const tokens = await request("POST", "/auth/login", {
        auth: false,
        body: { email: email.value.trim(), password: password.value },
      });
      store(tokens, "login");
      onLogin();
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) {
        error.textContent = "Email or password is wrong, or the account is deactivated.";
      } else {
        error.textContent = caught.message;
      }
      button.disabled = false;
    }
  };

  main.replaceChildren(
    h(
      "section",
      { class: "login card" },
      h("h1", {}, "Log in"),
      message
        ? h(
            "p",
            { class: "notice-info", role: "status", dataset: { testid: "login-message" } },
            message,
          )
        : null,
      h(
        "form",
        { novalidate: true, onsubmit: onSubmit, "aria-describedby": "login-error" },
        h("div", { class: "field" }, h("label", { for: "login-email" }, "Email"), email),
        h("div", { class: "field" }, h("label", { for: "login-password" }, "Password"), password),
        error,
        button,
      ),
    ),
  );
  email.focus();
}
