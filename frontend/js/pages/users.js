// Admin: list users, create one, change a role, deactivate or reactivate, and
// reset a password (which also unlocks an account locked after failed logins).

import { api, idOf } from "../api.js";
import { formatTime, h, replace } from "../dom.js";
import { forgetNames } from "../people.js";

const MIN_PASSWORD = 12;

const ROLES = ["PARAMEDIC", "DOCTOR", "ADMIN"];

function field(id, label, input) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    input,
    h("p", { class: "field-error", id: `${id}-error` }),
  );
}

export function render(main, { user, showNotice }) {
  const list = h("div", {}, h("p", {}, "Loading..."));
  const formError = h("p", { class: "field-error", role: "alert", id: "user-form-error" });

  const inputs = {
    email: h("input", { id: "new-email", type: "email", autocomplete: "off", required: true }),
    name: h("input", {
      id: "new-name",
      type: "text",
      autocomplete: "off",
      required: true,
      maxlength: 200,
    }),
    role: h(
      "select",
      { id: "new-role" },
      ROLES.map((role) => h("option", { value: role }, role)),
    ),
    password: h("input", {
      id: "new-password",
      type: "password",
      autocomplete: "new-password",
      minlength: 12,
      required: true,
    }),
  };

  const clearErrors = () => {
    formError.textContent = "";
    for (const key of Object.keys(inputs)) {
      document.getElementById(`new-${key}-error`).textContent = "";
      inputs[key].removeAttribute("aria-invalid");
    }
  };

  const showFieldError = (fieldName, message) => {
    const slot = fieldName && document.getElementById(`new-${fieldName}-error`);
    if (slot) {
      slot.textContent = message;
      inputs[fieldName].setAttribute("aria-invalid", "true");
      inputs[fieldName].focus();
    } else {
      formError.textContent = message;
    }
  };

  const create = async (event) => {
    event.preventDefault();
    clearErrors();
    const body = {
      email: inputs.email.value.trim(),
      name: inputs.name.value.trim(),
      role: inputs.role.value,
      password: inputs.password.value,
    };
    if (!body.email) return showFieldError("email", "Enter an email address.");
    if (!body.name) return showFieldError("name", "Enter the name.");
    if (body.password.length < 12) return showFieldError("password", "Use at least 12 characters.");
    try {
      const created = await api.post("/users", body);
      showNotice(`User ${created.email} created.`, "success");
      event.target.reset();
      load();
    } catch (error) {
      showFieldError(error.field, error.message);
    }
  };

  const update = async (target, changes, label) => {
    try {
      await api.patch(`/users/${encodeURIComponent(idOf(target))}`, changes);
      forgetNames();
      showNotice(`${label}: ${target.email}.`, "success");
      load();
      return true;
    } catch (error) {
      showNotice(`${label} failed for ${target.email}: ${error.message}`, "error");
      return false;
    }
  };

  /** Build the "Reset password" button and its form. The input is type=password. */
  const resetForm = (item) => {
    const id = idOf(item);
    const input = h("input", {
      id: `reset-${id}`,
      type: "password",
      autocomplete: "new-password",
      minlength: MIN_PASSWORD,
      required: true,
    });
    const error = h("p", { class: "field-error", id: `reset-${id}-error`, role: "alert" });
    const form = h(
      "form",
      {
        class: "inline-form reset-form",
        hidden: true,
        novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          error.textContent = "";
          if (input.value.length < MIN_PASSWORD) {
            error.textContent = `Use at least ${MIN_PASSWORD} characters.`;
            input.setAttribute("aria-invalid", "true");
            input.focus();
            return;
          }
          if (await update(item, { password: input.value }, "Password reset")) form.hidden = true;
        },
      },
      h(
        "label",
        { for: `reset-${id}` },
        `New password for ${item.email} (at least ${MIN_PASSWORD} characters)`,
      ),
      input,
      h("button", { type: "submit", class: "btn btn-small" }, "Save password"),
      error,
    );
    const open = h(
      "button",
      {
        type: "button",
        class: "btn btn-small",
        "aria-expanded": "false",
        onclick: () => {
          form.hidden = !form.hidden;
          open.setAttribute("aria-expanded", String(!form.hidden));
          if (!form.hidden) input.focus();
        },
      },
      "Reset password",
    );
    return [open, form];
  };

  const row = (item) => {
    const id = idOf(item);
    const roleSelect = h(
      "select",
      { id: `role-${id}`, "aria-label": `Role of ${item.email}` },
      ROLES.map((role) => h("option", { value: role, selected: role === item.role }, role)),
    );
    const isSelf = id === user.id;
    const active = Boolean(item.active);
    return h(
      "tr",
      { dataset: { userId: id, email: item.email } },
      h("td", { "data-label": "Email" }, item.email),
      h("td", { "data-label": "Name" }, item.name),
      h(
        "td",
        { "data-label": "Role" },
        h(
          "div",
          { class: "inline-form" },
          roleSelect,
          h(
            "button",
            {
              type: "button",
              class: "btn btn-small",
              disabled: isSelf,
              onclick: () => update(item, { role: roleSelect.value }, "Role changed"),
            },
            "Change role",
          ),
        ),
      ),
      h(
        "td",
        { "data-label": "State" },
        active ? "active" : "deactivated",
        item.locked === true
          ? h(
              "span",
              { class: "badge locked", dataset: { testid: "locked" } },
              "Locked",
            )
          : null,
      ),
      h("td", { "data-label": "Created" }, formatTime(item.created_at)),
      h(
        "td",
        { "data-label": "" },
        h(
          "div",
          { class: "user-actions" },
        isSelf
          ? h("span", { class: "muted" }, "you")
          : active
            ? h(
                "button",
                {
                  type: "button",
                  class: "btn btn-small btn-danger",
                  onclick: () => update(item, { active: false }, "Deactivated"),
                },
                "Deactivate",
              )
            : h(
                "button",
                {
                  type: "button",
                  class: "btn btn-small",
                  onclick: () => update(item, { active: true }, "Reactivated"),
                },
                "Reactivate",
              ),
        isSelf ? null : resetForm(item),
        ),
      ),
    );
  };

  const load = async () => {
    try {
      const result = await api.get("/users");
      const users = Array.isArray(result) ? result : result.items || [];
      replace(
        list,
        h(
          "div",
          { class: "table-scroll" },
          h(
            "table",
            { class: "data table-cards", dataset: { testid: "users" } },
            h("caption", {}, `${users.length} users`),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Email", "Name", "Role", "State", "Created", ""].map((title) =>
                  h("th", { scope: "col" }, title),
                ),
              ),
            ),
            h("tbody", {}, users.map(row)),
          ),
        ),
      );
    } catch (error) {
      replace(list, h("p", { class: "notice-error" }, `Could not load users: ${error.message}`));
    }
  };

  main.replaceChildren(
    h("h1", {}, "Users"),
    h(
      "section",
      { class: "panel", "aria-labelledby": "create-heading" },
      h("h2", { id: "create-heading" }, "Create user"),
      h(
        "form",
        { class: "user-form", novalidate: true, onsubmit: create },
        field("new-email", "Email", inputs.email),
        field("new-name", "Name", inputs.name),
        field("new-role", "Role", inputs.role),
        field("new-password", "Initial password (at least 12 characters)", inputs.password),
        formError,
        h("button", { type: "submit", class: "btn btn-primary" }, "Create user"),
      ),
    ),
    list,
  );
  load();
}
