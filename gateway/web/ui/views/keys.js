// Keys: create a client key (shown once, with a copy button); list each key's limits,
// budget, last use and spend; revoke (revoked keys stay listed, greyed).
import {
  busy,
  checkbox,
  confirmAction,
  errorBox,
  field,
  fieldErrors,
  h,
  showError,
  splitList,
  when,
} from "../dom.js";

const SCOPES = ["chat", "models", "admin"];
const PERIODS = [
  { value: "month", label: "per month" },
  { value: "day", label: "per day" },
  { value: "total", label: "in total" },
];

function usd(amount) {
  return `$${amount.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 4 })}`;
}

/** A key's limits as short lines: rate limits, models, budget. */
function limits(key) {
  const rate = [key.rpm ? `${key.rpm} rpm` : null, key.tpm ? `${key.tpm.toLocaleString()} tpm` : null]
    .filter(Boolean)
    .join(" · ");
  const period = PERIODS.find((p) => p.value === (key.budget_period ?? "month"))?.label ?? "";
  const budget = [
    key.budget_usd != null ? usd(key.budget_usd) : null,
    key.max_tokens != null ? `${key.max_tokens.toLocaleString()} tokens` : null,
  ]
    .filter(Boolean)
    .join(" and ");
  return [
    rate || "no rate limit",
    key.models?.length ? `models: ${key.models.join(", ")}` : "every model",
    budget ? `budget ${budget} ${period}` : "no budget",
  ];
}

/** Spend in the key's current budget period, when the gateway reports it. */
function spend(key) {
  const s = key.spend;
  if (!s) return "—";
  const period = { day: "today", month: "this month", total: "in total" }[s.period] ?? s.period;
  return `${usd(s.cost_usd ?? 0)} · ${s.tokens.toLocaleString()} tokens · ${s.requests} requests ${period}`;
}

export class KeysView {
  constructor(client, root) {
    this.client = client;
    this.root = root;
    this.error = errorBox();
    this.createError = errorBox();
    this.name = field("Name", { name: "name", required: true, maxlength: 100 });
    this.scopes = SCOPES.map((scope) =>
      checkbox(scope, { name: "scopes", value: scope, checked: scope === "chat" }),
    );
    this.models = field(
      "Allowed models",
      { name: "models" },
      "Comma-separated; empty allows every model.",
    );
    this.rpm = field("Requests per minute", { name: "rpm", type: "number", min: 1, step: 1 });
    this.tpm = field("Tokens per minute", { name: "tpm", type: "number", min: 1, step: 1 });
    this.expires = field("Expires", { name: "expires_at", type: "datetime-local" }, "Empty: never.");
    this.budget = field(
      "Budget (USD)",
      { name: "budget_usd", type: "number", min: 0, step: "any" },
      "Spend allowed per period; empty: no budget.",
    );
    this.maxTokens = field(
      "Max tokens",
      { name: "max_tokens", type: "number", min: 1, step: 1 },
      "Tokens allowed per period.",
    );
    this.period = field("Budget period", { tag: "select", name: "budget_period", options: PERIODS });
    this.createButton = h("button", { type: "submit" }, "Create key");
    this.created = h("div", { class: "created", "aria-live": "polite" });
    this.list = h("tbody");
    this.reloadButton = h("button", { type: "button", class: "secondary" }, "Reload keys");
    this.reloadButton.addEventListener("click", () => this.load());
    const form = h(
      "form",
      { class: "form", "aria-labelledby": "keys-create-title" },
      h("h3", { id: "keys-create-title" }, "Create a client key"),
      this.name.row,
      h(
        "fieldset",
        { class: "scopes" },
        h("legend", {}, "Scopes"),
        this.scopes.map((s) => s.row),
      ),
      this.models.row,
      h("div", { class: "grid3" }, this.rpm.row, this.tpm.row, this.expires.row),
      h("div", { class: "grid3" }, this.budget.row, this.maxTokens.row, this.period.row),
      h("div", { class: "row" }, this.createButton),
      this.createError,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create(form);
    });
    this.marks = fieldErrors({
      name: this.name.input,
      scopes: this.scopes[0].input,
      models: this.models.input,
      rpm: this.rpm.input,
      tpm: this.tpm.input,
      expires_at: this.expires.input,
      budget_usd: this.budget.input,
      max_tokens: this.maxTokens.input,
      budget_period: this.period.input,
    });
    root.append(
      h("h2", { id: "keys-title" }, "Keys"),
      form,
      this.created,
      h("div", { class: "row" }, h("h3", {}, "Existing keys"), this.reloadButton),
      this.error,
      h(
        "div",
        { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Client keys" },
        h(
          "table",
          { class: "keys" },
          h("caption", { class: "visually-hidden" }, "Client keys"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Name", "Key", "Scopes", "Limits", "Last used", "Spend", "Created", "Expires", "Status"].map(
                (t) => h("th", { scope: "col" }, t),
              ),
            ),
          ),
          this.list,
        ),
      ),
    );
  }

  open() {
    this.load();
  }

  reset() {
    this.created.replaceChildren();
    this.list.replaceChildren();
    showError(this.error, null);
    showError(this.createError, null);
  }

  async load() {
    await busy(this.reloadButton, this.error, async () => {
      const page = await this.client.listKeys();
      // Active keys first, newest first; revoked ones after them.
      const keys = [...page.data].sort(
        (a, b) =>
          Boolean(a.revoked_at) - Boolean(b.revoked_at) ||
          String(b.created_at).localeCompare(String(a.created_at)),
      );
      this.list.replaceChildren(...keys.map((key) => this.row(key)));
      if (!keys.length) {
        this.list.append(h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No client keys yet.")));
      }
    });
  }

  row(key) {
    const revoked = Boolean(key.revoked_at);
    const revoke = h(
      "button",
      { type: "button", class: "danger", "aria-label": `Revoke ${key.name}` },
      "Revoke",
    );
    revoke.addEventListener("click", async () => {
      if (!(await confirmAction(`Revoke key "${key.name}"? Clients using it stop at once.`, "Revoke"))) {
        return;
      }
      await busy(revoke, this.error, async () => {
        await this.client.revokeKey(key.id);
        await this.load();
      });
    });
    return h(
      "tr",
      { "data-key-id": key.id, class: revoked ? "revoked" : null },
      h("td", {}, key.name),
      h("td", { class: "mono" }, key.prefix ?? key.hint ?? "—"),
      h("td", {}, (key.scopes ?? []).join(", ")),
      h("td", { class: "limits" }, limits(key).map((line) => h("div", {}, line))),
      h("td", {}, when(key.last_used_at)),
      h("td", { class: "spend" }, spend(key)),
      h("td", {}, when(key.created_at)),
      h("td", {}, when(key.expires_at)),
      h("td", {}, revoked ? `Revoked ${when(key.revoked_at)}` : revoke),
    );
  }

  async create(form) {
    const body = {
      name: this.name.input.value.trim(),
      scopes: this.scopes.filter((s) => s.input.checked).map((s) => s.input.value),
      models: splitList(this.models.input.value),
    };
    if (this.rpm.input.value) body.rpm = Number(this.rpm.input.value);
    if (this.tpm.input.value) body.tpm = Number(this.tpm.input.value);
    if (this.expires.input.value) body.expires_at = new Date(this.expires.input.value).toISOString();
    if (this.budget.input.value) body.budget_usd = Number(this.budget.input.value);
    if (this.maxTokens.input.value) body.max_tokens = Number(this.maxTokens.input.value);
    if (body.budget_usd !== undefined || body.max_tokens !== undefined) {
      body.budget_period = this.period.input.value;
    }
    this.marks.clear();
    let failure = null;
    await busy(this.createButton, this.createError, async () => {
      try {
        const created = await this.client.createKey(body);
        form.reset();
        this.showCreated(created);
        await this.load();
      } catch (error) {
        failure = error;
        throw error;
      }
    });
    if (failure) this.marks.show(failure);
  }

  showCreated(created) {
    const output = field("New key (shown only once)", {
      name: "new-key",
      readonly: true,
      value: created.key,
      class: "mono",
      spellcheck: "false",
    });
    const status = h("span", { class: "hint", "aria-live": "polite" });
    const copy = h("button", { type: "button" }, "Copy");
    copy.addEventListener("click", async () => {
      output.input.select();
      try {
        await navigator.clipboard.writeText(created.key);
        status.textContent = "Copied.";
      } catch {
        status.textContent = "Copy failed; the key is selected, copy it by hand.";
      }
    });
    const done = h("button", { type: "button", class: "secondary" }, "I have saved it");
    done.addEventListener("click", () => this.created.replaceChildren());
    this.created.replaceChildren(
      h(
        "div",
        { class: "notice" },
        h("p", {}, `Key "${created.name}" created. Copy it now: it cannot be shown again.`),
        output.row,
        h("div", { class: "row" }, copy, done, status),
      ),
    );
  }
}
