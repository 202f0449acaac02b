// Chat: pick a model, stream the answer as it arrives, stop it, show provider and usage.
import { busy, errorBox, field, h, showError } from "../dom.js";

export class ChatView {
  constructor(client, root) {
    this.client = client;
    this.root = root;
    this.history = [];
    this.controller = null;
    this.error = errorBox();
    this.model = field("Model", { tag: "select", name: "model", required: true });
    this.system = field("System prompt (optional)", { name: "system", spellcheck: "true" });
    this.prompt = field(
      "Message",
      { tag: "textarea", name: "prompt", rows: 3, required: true },
      "Ctrl+Enter sends.",
    );
    this.transcript = h("ol", { class: "transcript", "aria-label": "Conversation", "aria-live": "polite" });
    this.send = h("button", { type: "submit" }, "Send");
    this.stop = h("button", { type: "button", class: "danger", disabled: true }, "Stop");
    this.clear = h("button", { type: "button", class: "secondary" }, "New conversation");
    this.reloadModels = h("button", { type: "button", class: "secondary" }, "Reload models");
    this.meta = h("p", { class: "meta", "aria-live": "polite" });
    this.form = h(
      "form",
      { class: "form chat", "aria-labelledby": "chat-title" },
      h("div", { class: "row model-row" }, this.model.row, this.reloadModels),
      this.system.row,
      this.transcript,
      this.prompt.row,
      h("div", { class: "row" }, this.send, this.stop, this.clear),
      this.meta,
      this.error,
    );
    root.append(h("h2", { id: "chat-title" }, "Chat"), this.form);

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.ask();
    });
    this.prompt.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.stop.addEventListener("click", () => this.controller?.abort());
    this.clear.addEventListener("click", () => this.reset());
    this.reloadModels.addEventListener("click", () => this.loadModels());
  }

  open() {
    this.loadModels();
  }

  reset() {
    this.controller?.abort();
    this.history = [];
    this.transcript.replaceChildren();
    this.meta.textContent = "";
    showError(this.error, null);
  }

  async loadModels() {
    const chosen = this.model.input.value;
    await busy(this.reloadModels, this.error, async () => {
      const page = await this.client.listModels();
      const ids = page.data.map((m) => m.id).sort();
      this.model.input.replaceChildren(
        h("option", { value: "" }, ids.length ? "Choose a model…" : "No models available"),
        ...ids.map((id) => h("option", { value: id }, id)),
      );
      if (ids.includes(chosen)) this.model.input.value = chosen;
      else if (ids.length === 1) this.model.input.value = ids[0];
    });
  }

  bubble(role, text) {
    const body = h("div", { class: "text" }, text);
    const item = h("li", { class: `message ${role}`, "data-role": role }, h("span", { class: "role" }, role), body);
    this.transcript.append(item);
    return { item, body };
  }

  async ask() {
    const text = this.prompt.input.value.trim();
    const model = this.model.input.value;
    if (!text || !model || this.controller) return;
    this.prompt.input.value = "";
    this.history.push({ role: "user", content: text });
    this.bubble("user", text);
    const answer = this.bubble("assistant", "");
    answer.item.dataset.state = "waiting";
    const sink = document.createTextNode("");
    answer.body.append(sink);

    const messages = [...this.history];
    const system = this.system.input.value.trim();
    if (system) messages.unshift({ role: "system", content: system });
    this.controller = new AbortController();
    this.send.disabled = true;
    this.stop.disabled = false;
    this.meta.textContent = "Waiting for the first token…";
    showError(this.error, null);
    let provider = null;
    let usage = null;
    try {
      const stream = await this.client.streamChat(
        { model, messages, stream_options: { include_usage: true } },
        { signal: this.controller.signal },
      );
      provider = stream.provider;
      this.meta.textContent = `Streaming from ${provider ?? "an unnamed provider"}…`;
      answer.item.dataset.state = "streaming";
      for await (const chunk of stream) {
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices ?? []) {
          if (choice.index === 0 && choice.delta?.content) sink.appendData(choice.delta.content);
        }
      }
      answer.item.dataset.state = "done";
    } catch (error) {
      if (error?.name === "AbortError") {
        answer.item.dataset.state = "stopped";
        answer.item.append(h("span", { class: "note" }, "stopped"));
      } else {
        answer.item.dataset.state = "error";
        showError(this.error, error);
      }
    } finally {
      if (sink.data) this.history.push({ role: "assistant", content: sink.data });
      else if (answer.item.dataset.state === "error") {
        // Nothing came back: take the question back so it can be sent again.
        this.history.pop();
        answer.item.previousElementSibling?.remove();
        answer.item.remove();
        this.prompt.input.value = text;
      }
      this.controller = null;
      this.send.disabled = false;
      this.stop.disabled = true;
      this.meta.textContent = this.describe(provider, usage);
      this.prompt.input.focus();
    }
  }

  describe(provider, usage) {
    const parts = [];
    if (provider) parts.push(`Served by ${provider}`);
    if (usage) {
      parts.push(
        `usage: ${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion = ${usage.total_tokens} tokens`,
      );
    }
    return parts.join(" · ");
  }
}
