// Keys: create a client key (shown once, with a copy button), list, revoke.
import { busy, checkbox, confirmAction, errorBox, field, h, showError, splitList, when } from "../dom.js";

const SCOPES = ["chat", "models", "admin"];

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
    this.createButton = h("button", { type: "submit" }, "Create key");
    this.created = h("div", { class: "created", "aria-live": "polite" });
    this.list = h("tbody");
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
      h("div", { class: "row" }, this.createButton),
      this.createError,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create(form);
    });
    root.append(
      h("h2", { id: "keys-title" }, "Keys"),
      form,
      this.created,
      h("h3", {}, "Existing keys"),
      this.error,
      h(
        "div",
        { class: "table-wrap" },
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
              ["Name", "Key", "Scopes", "Created", "Expires", ""].map((t) =>
                h("th", { scope: "col" }, t),
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
    await busy(null, this.error, async () => {
      const page = await this.client.listKeys();
      this.list.replaceChildren(...page.data.map((key) => this.row(key)));
      if (!page.data.length) {
        this.list.append(h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No client keys yet.")));
      }
    });
  }

  row(key) {
    const revoke = h("button", { type: "button", class: "danger" }, "Revoke");
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
      { "data-key-id": key.id },
      h("td", {}, key.name),
      h("td", { class: "mono" }, key.prefix ?? key.hint ?? "—"),
      h("td", {}, (key.scopes ?? []).join(", ")),
      h("td", {}, when(key.created_at)),
      h("td", {}, when(key.expires_at)),
      h("td", {}, revoke),
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
    await busy(this.createButton, this.createError, async () => {
      const created = await this.client.createKey(body);
      form.reset();
      this.showCreated(created);
      await this.load();
    });
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
