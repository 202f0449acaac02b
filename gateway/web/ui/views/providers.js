// Providers: list with health badges, add from a template, edit, delete, test, models.
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

/** Display name of a template, whichever field the gateway uses for it. */
function templateLabel(template) {
  return template.display_name || template.name || template.id;
}

/** "Name: value" lines -> {Name: value}. */
function parsePairs(text, separator) {
  const out = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf(separator);
    if (at <= 0) continue;
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

function formatPairs(pairs, separator) {
  return Object.entries(pairs ?? {})
    .map(([name, value]) => `${name}${separator} ${value}`)
    .join("\n");
}

/** A live test's outcome as one line; the upstream's reason is kept as the gateway gave it. */
function describeTest(outcome) {
  return outcome.ok
    ? `Connected in ${outcome.latency_ms ?? "?"} ms; ${outcome.models_found ?? 0} models found.`
    : `Failed${outcome.status_code ? ` (HTTP ${outcome.status_code})` : ""}: ${
        outcome.error ?? "unknown error"
      }`;
}

export class ProvidersView {
  constructor(client, root, shell) {
    this.client = client;
    this.root = root;
    this.shell = shell;
    this.templates = null;
    this.error = errorBox();
    this.editorSlot = h("div", { class: "editor-slot" });
    this.list = h("ul", { class: "cards", "aria-label": "Providers" });
    this.addButton = h("button", { type: "button", onclick: () => this.openAdd() }, "Add provider");
    this.reloadButton = h(
      "button",
      { type: "button", class: "secondary", onclick: () => this.load() },
      "Reload",
    );
    root.append(
      h("h2", { id: "providers-title" }, "Providers"),
      h("div", { class: "row toolbar" }, this.addButton, this.reloadButton),
      this.error,
      this.editorSlot,
      this.list,
    );
  }

  open() {
    this.load();
  }

  reset() {
    this.templates = null;
    this.editorSlot.replaceChildren();
    this.list.replaceChildren();
    showError(this.error, null);
  }

  async load() {
    await busy(this.reloadButton, this.error, async () => {
      const page = await this.client.listProviders();
      this.list.replaceChildren(...page.data.map((provider) => this.card(provider)));
      if (!page.data.length) {
        this.list.append(h("li", { class: "empty" }, "No providers yet. Add one from a template."));
      }
    });
  }

  card(provider) {
    const badge = h("span", { class: "badge", "data-status": "unknown" }, "checking…");
    const result = h("div", { class: "result", "aria-live": "polite" });
    const models = h("div", { class: "models", hidden: true });
    const error = errorBox();
    const readOnly = provider.source === "file";
    const item = h(
      "li",
      { class: "card", "data-provider-id": provider.id },
      h(
        "div",
        { class: "card-head" },
        h("h3", {}, provider.name),
        badge,
        provider.enabled ? null : h("span", { class: "badge", "data-status": "off" }, "disabled"),
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "ID"),
        h("dd", {}, provider.id),
        h("dt", {}, "Template"),
        h("dd", {}, provider.template),
        h("dt", {}, "Base URL"),
        h("dd", { class: "url" }, provider.base_url),
        h("dt", {}, "API key"),
        h("dd", {}, provider.has_api_key ? `set (${provider.api_key_hint || "hidden"})` : "none"),
        h("dt", {}, "Priority / weight"),
        h("dd", {}, `${provider.priority} / ${provider.weight}`),
        h("dt", {}, "Source"),
        h("dd", {}, readOnly ? "file (read-only)" : provider.source),
      ),
    );
    const testButton = h("button", { type: "button", class: "secondary" }, "Test connection");
    testButton.addEventListener("click", async () => {
      result.textContent = "Testing…";
      delete result.dataset.ok;
      await busy(testButton, error, async () => {
        const outcome = await this.client.testProvider(provider.id);
        result.dataset.ok = String(outcome.ok);
        result.textContent = describeTest(outcome);
      });
      if (!result.dataset.ok) result.textContent = "";
      // The test counts as a probe: the badge and the status strip change with it.
      this.health(provider, badge);
      this.shell.refreshStatus();
    });
    const modelsButton = h(
      "button",
      { type: "button", class: "secondary", "aria-expanded": "false" },
      "Models",
    );
    modelsButton.addEventListener("click", () => {
      const opening = models.hidden;
      models.hidden = !opening;
      modelsButton.setAttribute("aria-expanded", String(opening));
      if (opening) this.showModels(provider, models, error, false);
    });
    const editButton = h(
      "button",
      { type: "button", class: "secondary", disabled: readOnly },
      "Edit",
    );
    editButton.addEventListener("click", () => this.openEdit(provider));
    const deleteButton = h("button", { type: "button", class: "danger", disabled: readOnly }, "Delete");
    deleteButton.addEventListener("click", async () => {
      const sure = await confirmAction(`Delete provider "${provider.name}" (${provider.id})?`, "Delete");
      if (!sure) return;
      await busy(deleteButton, error, async () => {
        await this.client.deleteProvider(provider.id);
        await this.load();
        this.shell.refreshStatus();
      });
    });
    item.append(
      h("div", { class: "row actions" }, testButton, modelsButton, editButton, deleteButton),
      result,
      models,
      error,
    );
    this.health(provider, badge);
    return item;
  }

  async health(provider, badge) {
    try {
      const health = await this.client.providerHealth(provider.id);
      badge.dataset.status = health.status;
      badge.textContent = health.circuit === "open" ? `${health.status} · circuit open` : health.status;
      const details = [
        health.latency_ms != null ? `${Math.round(health.latency_ms)} ms` : null,
        health.checked_at ? `checked ${when(health.checked_at)}` : "not checked yet",
        health.last_error ? `last error: ${health.last_error}` : null,
      ].filter(Boolean);
      badge.title = details.join("; ");
    } catch (error) {
      badge.dataset.status = "unknown";
      badge.textContent = "health unknown";
      badge.title = error.message;
    }
  }

  async showModels(provider, box, error, refresh) {
    const refreshButton = h("button", { type: "button", class: "secondary" }, "Refresh models");
    refreshButton.addEventListener("click", () => this.showModels(provider, box, error, true));
    box.replaceChildren(h("p", {}, refresh ? "Refreshing…" : "Loading models…"));
    await busy(refreshButton, error, async () => {
      const page = refresh
        ? await this.client.refreshProviderModels(provider.id)
        : await this.client.listProviderModels(provider.id);
      const note = [
        `${page.data.length} models`,
        page.cached ? "from cache" : "fresh",
        page.fetched_at ? `fetched ${when(page.fetched_at)}` : null,
        page.stale ? "stale: the upstream failed, showing the last good list" : null,
      ]
        .filter(Boolean)
        .join(" · ");
      box.replaceChildren(
        h("p", { class: "hint" }, note),
        h(
          "ul",
          { class: "model-list", "aria-label": `Models of ${provider.name}` },
          page.data.map((model) => h("li", {}, model.id)),
        ),
        refreshButton,
      );
    });
    if (!box.contains(refreshButton)) box.replaceChildren(refreshButton);
  }

  async openAdd() {
    const error = errorBox();
    const picker = field("Template", { tag: "select", name: "template", required: true });
    const fields = h("div", { class: "template-fields" });
    const form = h(
      "form",
      { class: "form editor", "aria-labelledby": "provider-form-title" },
      h("h3", { id: "provider-form-title" }, "Add a provider"),
      picker.row,
      fields,
      error,
    );
    this.editorSlot.replaceChildren(form);
    await busy(this.addButton, error, async () => {
      if (!this.templates) this.templates = (await this.client.listTemplates()).data;
      picker.input.replaceChildren(
        h("option", { value: "" }, "Choose a template…"),
        ...this.templates.map((t) => h("option", { value: t.id }, templateLabel(t))),
      );
    });
    picker.input.addEventListener("change", () => {
      const template = this.templates?.find((t) => t.id === picker.input.value);
      fields.replaceChildren();
      if (template) fields.append(...this.providerFields(form, template, null, error));
    });
    picker.input.focus();
  }

  openEdit(provider) {
    const error = errorBox();
    const template = this.templates?.find((t) => t.id === provider.template) ?? {
      id: provider.template,
      base_url: provider.base_url,
      key_required: false,
      models: [],
    };
    const form = h(
      "form",
      { class: "form editor", "aria-labelledby": "provider-form-title" },
      h("h3", { id: "provider-form-title" }, `Edit ${provider.name}`),
      h("p", { class: "hint" }, `Template: ${provider.template} · ID: ${provider.id}`),
    );
    form.append(...this.providerFields(form, template, provider, error), error);
    this.editorSlot.replaceChildren(form);
    form.querySelector("input")?.focus();
  }

  /** The fields of the provider form, built from the template (and the provider when editing). */
  providerFields(form, template, provider, error) {
    const editing = provider !== null;
    const name = field("Name", {
      name: "name",
      required: true,
      maxlength: 100,
      value: provider?.name ?? templateLabel(template),
    });
    const id = editing
      ? null
      : field(
          "ID (optional)",
          { name: "id", pattern: "[a-z0-9][a-z0-9_\\-]{0,62}", spellcheck: "false" },
          "Lowercase letters, digits, - and _; derived from the name when empty.",
        );
    const baseUrl = field("Base URL", {
      name: "base_url",
      type: "url",
      required: true,
      value: provider?.base_url ?? template.base_url ?? "",
      spellcheck: "false",
    });
    const keyHint = editing
      ? provider.has_api_key
        ? `A key is stored (${provider.api_key_hint || "hidden"}). Leave empty to keep it.`
        : "No key is stored."
      : template.key_required
        ? "Required by this provider. It is sent once and never shown again."
        : "Optional for this provider.";
    const apiKey = field(
      "API key",
      {
        name: "api_key",
        type: "password",
        autocomplete: "new-password",
        spellcheck: "false",
        required: !editing && Boolean(template.key_required),
      },
      keyHint,
    );
    const removeKey = editing && provider.has_api_key ? checkbox("Remove the stored key") : null;
    const listId = `models-${template.id}`;
    const defaultModel = field(
      "Default model",
      { name: "default_model", list: listId, value: provider?.default_model ?? "" },
      null,
    );
    const datalist = h(
      "datalist",
      { id: listId },
      (template.models ?? []).map((m) => h("option", { value: typeof m === "string" ? m : m.id })),
    );
    const models = field(
      "Allowed models",
      { name: "models", value: (provider?.models ?? []).join(", ") },
      "Comma-separated; empty allows whatever the upstream lists.",
    );
    const aliases = field(
      "Aliases",
      { tag: "textarea", name: "aliases", rows: 2, value: formatPairs(provider?.aliases, " =") },
      "One per line: alias = upstream model.",
    );
    const headers = field(
      "Extra headers",
      { tag: "textarea", name: "headers", rows: 2, value: formatPairs(provider?.headers, ":") },
      "One per line: Header-Name: value.",
    );
    const priority = field("Priority", {
      name: "priority",
      type: "number",
      step: 1,
      value: provider?.priority ?? 0,
    });
    const weight = field("Weight", {
      name: "weight",
      type: "number",
      min: 1,
      step: 1,
      value: provider?.weight ?? 1,
    });
    const timeout = field("Timeout (s)", {
      name: "timeout_s",
      type: "number",
      min: 1,
      max: 600,
      step: "any",
      value: provider?.timeout_s ?? 60,
    });
    const enabled = checkbox("Enabled", { name: "enabled", checked: provider?.enabled ?? true });
    const submit = h("button", { type: "submit" }, editing ? "Save changes" : "Add provider");
    const cancel = h(
      "button",
      { type: "button", class: "secondary", onclick: () => this.editorSlot.replaceChildren() },
      "Cancel",
    );
    const docs = template.docs_url
      ? h("p", { class: "hint" }, h("a", { href: template.docs_url, rel: "noopener noreferrer", target: "_blank" }, "Provider documentation"))
      : null;

    const fields = {
      name: name.input,
      id: id?.input,
      base_url: baseUrl.input,
      api_key: apiKey.input,
      default_model: defaultModel.input,
      models: models.input,
      aliases: aliases.input,
      headers: headers.input,
      priority: priority.input,
      weight: weight.input,
      timeout_s: timeout.input,
      enabled: enabled.input,
    };
    const marks = fieldErrors(fields);
    const testButton = h("button", { type: "button", class: "secondary" }, "Test before saving");
    const testResult = h("p", { class: "result", "aria-live": "polite" });

    /** The form's values as the API takes them; the key only when one was typed. */
    const values = () => {
      const body = {
        name: name.input.value.trim(),
        base_url: baseUrl.input.value.trim(),
        default_model: defaultModel.input.value.trim() || null,
        models: splitList(models.input.value),
        aliases: parsePairs(aliases.input.value, "="),
        headers: parsePairs(headers.input.value, ":"),
        priority: Number(priority.input.value),
        weight: Number(weight.input.value),
        timeout_s: Number(timeout.input.value),
        enabled: enabled.input.checked,
      };
      if (apiKey.input.value) body.api_key = apiKey.input.value;
      else if (removeKey?.input.checked) body.api_key = null;
      if (!editing) {
        if (id.input.value.trim()) body.id = id.input.value.trim();
        body.template = template.id;
      }
      return body;
    };
    /** Run a request with the form's values; a refusal marks its field, the values stay. */
    const attempt = async (button, action) => {
      marks.clear();
      let failure = null;
      await busy(button, error, async () => {
        try {
          await action(values());
        } catch (caught) {
          failure = caught;
          throw caught;
        }
      });
      if (failure) marks.show(failure);
      return failure === null;
    };

    testButton.addEventListener("click", async () => {
      testResult.textContent = "Testing…";
      delete testResult.dataset.ok;
      const done = await attempt(testButton, async (body) => {
        const outcome = editing
          ? await this.client.testProvider(provider.id, { changes: body })
          : await this.client.testProviderDraft({ provider: body });
        testResult.dataset.ok = String(outcome.ok);
        testResult.textContent = describeTest(outcome);
      });
      if (!done) testResult.textContent = "";
    });
    form.onsubmit = async (event) => {
      event.preventDefault();
      const saved = await attempt(submit, async (body) => {
        if (editing) await this.client.updateProvider(provider.id, body);
        else await this.client.createProvider(body);
      });
      if (!saved) return;
      // Saved: the key was sent once; the form (and the key in it) goes away.
      apiKey.input.value = "";
      this.editorSlot.replaceChildren();
      this.shell.refreshStatus();
      await this.load();
    };

    return [
      docs,
      name.row,
      id?.row,
      baseUrl.row,
      apiKey.row,
      removeKey?.row,
      defaultModel.row,
      datalist,
      models.row,
      aliases.row,
      headers.row,
      h("div", { class: "grid3" }, priority.row, weight.row, timeout.row),
      enabled.row,
      h("div", { class: "row" }, submit, testButton, cancel),
      testResult,
    ].filter(Boolean);
  }
}
